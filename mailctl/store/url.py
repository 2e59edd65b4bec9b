"""Database URLs in SQLAlchemy's grammar, parsed without importing SQLAlchemy.

The configuration keeps SQLAlchemy URLs (`mysql+pymysql://user@host/db`), which
Alembic and the `db` commands still hand to SQLAlchemy; this parser follows
`sqlalchemy.engine.url._parse_url` and `URL.render_as_string` exactly (a test
compares the two), so both read a URL the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from mailctl.errors import DatabaseError

_URL = re.compile(
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


@dataclass(frozen=True)
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
    match = _URL.match(text)
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


def masked(text: str) -> str:
    """A URL for a message: as SQLAlchemy shows it, password masked; or just its scheme."""
    try:
        return parse_url(text).render()
    except DatabaseError:
        return _scheme_only(text)


def _scheme_only(text: str) -> str:
    scheme, sep, _ = text.partition("://")
    return f"{scheme}://..." if sep else "the configured database"
