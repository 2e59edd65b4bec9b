"""The read-only SQL glue of guide §8.1 (Postfix maps) and §6 (Dovecot passdb).

Postfix, one file per map, `mysql:` (mysql_table(5)), `pgsql:` (pgsql_table(5))
or `sqlite:` (sqlite_table(5)):

    user = mailuser                         dbpath = /var/lib/mailctl/mail.sqlite3
    password = …                            query = SELECT 1 FROM virtual_domains …
    hosts = 127.0.0.1
    dbname = mailserver
    query = SELECT 1 FROM virtual_domains WHERE name='%s'

Dovecot 2.3 (`dovecot-sql.conf.ext`, read via `passdb { driver = sql args = … }`):

    driver = mysql
    connect = host=127.0.0.1 dbname=mailserver user=mailuser password=…
    default_pass_scheme = SHA512-CRYPT
    password_query = SELECT email AS user, password FROM virtual_users WHERE email='%u'

Dovecot 2.4 (a fragment to `!include`): `sql_driver`, a `mysql HOST { … }` /
`pgsql HOST { parameters { … } }` block or `sqlite_path`, then
`passdb sql { query = … '%{user}' }`.

The queries are the guide's, unchanged; they are plain SQL that MariaDB,
PostgreSQL and SQLite all run. The values written here are checked to need no
quoting in either program's config syntax, so a file can never be bent into
saying something else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailctl.model.servers import DOVECOT_VERSIONS, POSTFIX_MAP_TYPES

BACKENDS = tuple(sorted(set(POSTFIX_MAP_TYPES.values())))

# Guide §8.1, in the order main.cf/master.cf use them; the stem follows the
# guide's file names (mysql-virtual-mailbox-domains.cf, mysql-sender-login-maps.cf).
MAILBOX_DOMAINS = "virtual-mailbox-domains"
MAILBOX_MAPS = "virtual-mailbox-maps"
ALIAS_MAPS = "virtual-alias-maps"
SENDER_LOGIN_MAPS = "sender-login-maps"
EMAIL2EMAIL = "virtual-email2email"

QUERIES: dict[str, str] = {
    MAILBOX_DOMAINS: "SELECT 1 FROM virtual_domains WHERE name='%s'",
    MAILBOX_MAPS: "SELECT 1 FROM virtual_users WHERE email='%s'",
    ALIAS_MAPS: "SELECT destination FROM virtual_aliases WHERE source='%s'",
    SENDER_LOGIN_MAPS: "SELECT email FROM virtual_users WHERE email='%s'",
    # The catch-all fix: a mailbox maps to itself, so a lookup of its full
    # address ends there before Postfix falls back to the `@domain` catch-all.
    EMAIL2EMAIL: "SELECT email FROM virtual_users WHERE email='%s'",
}

# Guide §6, on one line (a trailing `;` is left out: drivers run one statement).
DOVECOT_PASSWORD_QUERY = {
    "2.3": "SELECT email AS user, password FROM virtual_users WHERE email='%u'",
    "2.4": "SELECT email AS user, password FROM virtual_users WHERE email='%{user}'",
}

# What may be written unquoted into both Postfix's and Dovecot's config syntax:
# no blanks, quotes, `#`, `$`, `%`, braces or backslashes.
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_HOST = re.compile(r"[A-Za-z0-9._:-]+")
_PATH = re.compile(r"/[A-Za-z0-9._~+/=-]*")
PASSWORD_CHARS = re.compile(r"[A-Za-z0-9._~+/=-]+")


@dataclass(frozen=True)
class SqlSource:
    """How Postfix and Dovecot reach the database, as the read-only account."""

    backend: str  # mysql, pgsql or sqlite (Postfix's table type names)
    dbname: str = ""  # sqlite: the database file
    host: str = "127.0.0.1"  # a name, an IP address, or an absolute UNIX socket path
    port: int | None = None
    user: str = ""
    password: str = ""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown SQL map type {self.backend!r} (use {', '.join(BACKENDS)})")
        if self.backend == "sqlite":
            if not _PATH.fullmatch(self.dbname):
                raise ValueError(f"SQLite database must be an absolute path: {self.dbname!r}")
            return
        for what, value, pattern in (
            ("database name", self.dbname, _NAME),
            ("host", self.host, _PATH if self.socket else _HOST),
            ("user", self.user, _NAME),
        ):
            if not pattern.fullmatch(value):
                raise ValueError(
                    f"{what} {value!r} cannot be written unquoted into Postfix and Dovecot"
                    " configuration"
                )
        if not PASSWORD_CHARS.fullmatch(self.password):
            raise ValueError(
                "the read-only password cannot be written unquoted into Postfix and Dovecot"
                " configuration (use letters, digits and ._~+/=-)"
            )
        if self.port is not None and not 0 < self.port < 65536:
            raise ValueError(f"port out of range: {self.port}")

    @property
    def socket(self) -> bool:
        return self.host.startswith("/")


def map_file_name(backend: str, stem: str) -> str:
    """`mysql-virtual-mailbox-domains.cf`, `pgsql-sender-login-maps.cf`, …"""
    if stem not in QUERIES:
        raise ValueError(f"unknown Postfix map {stem!r}")
    return f"{backend}-{stem}.cf"


def map_stems(*, catchall_fix: bool) -> tuple[str, ...]:
    stems = (MAILBOX_DOMAINS, MAILBOX_MAPS, ALIAS_MAPS, SENDER_LOGIN_MAPS)
    return (*stems, EMAIL2EMAIL) if catchall_fix else stems


def _postfix_hosts(source: SqlSource) -> str:
    if source.socket:
        return f"unix:{source.host}"
    return source.host if source.port is None else f"{source.host}:{source.port}"


def render_postfix_map(source: SqlSource, stem: str) -> str:
    """One Postfix SQL map file (mysql_table(5), pgsql_table(5) or sqlite_table(5))."""
    query = QUERIES[stem]
    header = f"# {map_file_name(source.backend, stem)}: written by mailctl setup render\n"
    if source.backend == "sqlite":
        return f"{header}dbpath = {source.dbname}\nquery = {query}\n"
    return (
        f"{header}user = {source.user}\n"
        f"password = {source.password}\n"
        f"hosts = {_postfix_hosts(source)}\n"
        f"dbname = {source.dbname}\n"
        f"query = {query}\n"
    )


def render_dovecot_sql(source: SqlSource, version: str, default_scheme: str) -> str:
    """Dovecot's SQL passdb for the guide's password_query, in 2.3 or 2.4 syntax."""
    if version not in DOVECOT_VERSIONS:
        raise ValueError(f"unsupported Dovecot config version {version!r} (use 2.3 or 2.4)")
    if not re.fullmatch(r"[A-Z0-9-]+", default_scheme):
        raise ValueError(f"not a Dovecot password scheme: {default_scheme!r}")
    query = DOVECOT_PASSWORD_QUERY[version]
    if version == "2.3":
        return "\n".join(
            [
                "# Dovecot 2.3 SQL passdb (guide section 6), written by mailctl setup render.",
                "# Use it with: passdb { driver = sql  args = <this file> }",
                f"driver = {source.backend}",
                f"connect = {_connect_23(source)}",
                f"default_pass_scheme = {default_scheme}",
                f"password_query = {query}",
                "",
            ]
        )
    return "\n".join(
        [
            "# Dovecot 2.4 SQL passdb (guide section 6), written by mailctl setup render.",
            "# Use it with: !include <this file>  (instead of a passdb with args = …)",
            f"sql_driver = {source.backend}",
            *_connect_24(source),
            "passdb sql {",
            f"  default_password_scheme = {default_scheme}",
            f"  query = {query}",
            "}",
            "",
        ]
    )


def _connect_23(source: SqlSource) -> str:
    if source.backend == "sqlite":
        return source.dbname
    parts = [f"host={source.host}"]
    if source.port is not None:
        parts.append(f"port={source.port}")
    parts += [f"dbname={source.dbname}", f"user={source.user}", f"password={source.password}"]
    return " ".join(parts)


def _connect_24(source: SqlSource) -> list[str]:
    if source.backend == "sqlite":
        return [f"sqlite_path = {source.dbname}", "sqlite_readonly = yes"]
    fields = [
        *([f"port = {source.port}"] if source.port is not None else []),
        f"user = {source.user}",
        f"password = {source.password}",
        f"dbname = {source.dbname}",
    ]
    if source.backend == "mysql":
        return [f"mysql {source.host} {{", *(f"  {f}" for f in fields), "}"]
    # pgsql: connection settings are libpq parameters
    return [
        f"pgsql {source.host} {{",
        "  parameters {",
        *(f"    {f}" for f in fields),
        "  }",
        "}",
    ]


def postfix_main_cf(backend: str, map_dir: str, *, catchall_fix: bool) -> list[str]:
    """The main.cf/master.cf settings that use the rendered maps (printed for the admin)."""

    def ref(stem: str) -> str:
        return f"{backend}:{map_dir.rstrip('/')}/{map_file_name(backend, stem)}"

    # Alias map first: an address that is both a mailbox and an alias source
    # (forward with a local copy) must get its alias row; the email2email map
    # only has to beat the `@domain` catch-all, and every full-address lookup
    # (in all maps) comes before any `@domain` lookup.
    aliases: Sequence[str] = (
        (ref(ALIAS_MAPS), ref(EMAIL2EMAIL)) if catchall_fix else (ref(ALIAS_MAPS),)
    )
    return [
        f"virtual_mailbox_domains = {ref(MAILBOX_DOMAINS)}",
        f"virtual_mailbox_maps = {ref(MAILBOX_MAPS)}",
        f"virtual_alias_maps = {', '.join(aliases)}",
        f"# master.cf, submission/smtps: -o smtpd_sender_login_maps={ref(SENDER_LOGIN_MAPS)}",
    ]
