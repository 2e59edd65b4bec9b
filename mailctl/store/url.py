"""Database URLs in SQLAlchemy's grammar, parsed without importing SQLAlchemy.

The configuration keeps SQLAlchemy URLs (`mysql+pymysql://user@host/db`), which
Alembic and the `db` commands still hand to SQLAlchemy; this parser follows
`sqlalchemy.engine.url._parse_url` and `URL.render_as_string` exactly (a test
compares the two), so both read a URL the same way.
"""

from __future__ import annotations

import re
from dataclasses import field, replace
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from mailctl.errors import DatabaseError
from mailctl.model.datarecord import datarecord

URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)
BACKENDS = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "postgresql", "sqlite": "sqlite"}


@datarecord(frozen=True)
class DbUrl:
    """A database URL's parts, as SQLAlchemy's URL holds them."""

    drivername: str  # as written: "mysql+pymysql", "sqlite", ...
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: dict[str, str] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        """'mysql' (MariaDB too), 'postgresql', 'sqlite', or the name as written."""
        name = self.drivername.partition("+")[0]
        return BACKENDS.get(name, name)

    @property
    def driver(self) -> str | None:
        return self.drivername.partition("+")[2] or None

    def with_password(self, password: str | None) -> DbUrl:
        return replace(self, password=password)

    def render(self, *, hide_password: bool = True) -> str:
        """The URL as SQLAlchemy renders it, the password as *** unless asked for."""
        text = self.drivername + "://"
        if self.username is not None:
            text += quote(self.username, safe=" +")
            if self.password is not None:
                text += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += "/" + quote(self.database, safe=" +/")
        if self.query:
            text += "?" + "&".join(
                f"{quote_plus(k)}={quote_plus(self.query[k])}" for k in sorted(self.query)
            )
        return text

    def __str__(self) -> str:
        return self.render()


def parse_url(text: str) -> DbUrl:
    """A URL string as SQLAlchemy's make_url reads it; DatabaseError when it cannot."""
    match = URL.match(text)
    if match is None:
        raise DatabaseError(f"invalid database URL: {_scheme_only(text)}")
    parts = match.groupdict()
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts["query"] or ""):
        if key in query:  # SQLAlchemy would make a list; no option mailctl reads repeats
            raise DatabaseError(f"invalid database URL: {key} appears twice in its query")
        query[key] = value
    port = parts["port"]
    try:
        number = int(port) if port else None
    except ValueError:
        raise DatabaseError(f"invalid database URL: port {port!r} is not a number") from None
    return DbUrl(
        drivername=parts["name"],
        username=unquote(parts["username"]) if parts["username"] is not None else None,
        password=unquote(parts["password"]) if parts["password"] is not None else None,
        host=parts["ipv4host"] or parts["ipv6host"],
        port=number,
        database=unquote(parts["database"]) if parts["database"] is not None else None,
        query=query,
    )


def split_host_port(text: str) -> tuple[str, int | None]:
    """ "db2.example.org", "10.0.0.2:3307", "[2001:db8::2]:3306" or a bare IPv6
    address: the host and the port, if given (database.failover's entries)."""
    host, port = text, ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise DatabaseError(f"invalid host {text!r}: [IPv6] or [IPv6]:port")
        port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not host or any(c.isspace() or c in "/?#@[]" for c in host):
        raise DatabaseError(f"invalid host {text!r}: a host name or address, then :port")
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise DatabaseError(f"invalid host {text!r}: the port must be 1-65535")
    return host, int(port) if port else None


def with_host(url: DbUrl, text: str) -> DbUrl:
    """`url` with another host (and port, if `text` gives one; else the URL's own)."""
    host, port = split_host_port(text)
    return replace(url, host=host, port=port if port is not None else url.port)


def host_port(url: DbUrl) -> str:
    """The server as a message names it: host, and port when the URL gives one."""
    host = f"[{url.host}]" if url.host and ":" in url.host else url.host or "localhost"
    return f"{host}:{url.port}" if url.port is not None else host


def masked(text: str) -> str:
    """A URL for a message: as SQLAlchemy shows it, password masked; or just its scheme."""
    try:
        return parse_url(text).render()
    except DatabaseError:
        return _scheme_only(text)


def _scheme_only(text: str) -> str:
    scheme, sep, _ = text.partition("://")
    return f"{scheme}://..." if sep else "the configured database"
