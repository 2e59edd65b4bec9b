"""TAB completion of domain names and addresses, straight from the database.

The shell runs mailctl on every TAB, so this stays light: the config file,
one plain DB-API connection (sqlite3, PyMySQL or psycopg) and one indexed
prefix query; no SQLAlchemy. With database.failover, a server that does not
answer (or a Galera node that cannot serve yet) passes the query to the next,
in order, as every other command does. Whatever goes wrong (no config, every
server down, wrong password, no schema yet) completes nothing: an error message
would land in the middle of the command line being typed.

Attach with `click.argument(..., shell_complete=complete_domains)`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from typing import Any

import click

_QUERIES = {
    "domains": "SELECT name FROM virtual_domains WHERE name LIKE {p} ESCAPE '!' ORDER BY name",
    "users": "SELECT email FROM virtual_users WHERE email LIKE {p} ESCAPE '!' ORDER BY email",
    "aliases": (
        "SELECT DISTINCT source FROM virtual_aliases WHERE source LIKE {p} ESCAPE '!'"
        " ORDER BY source"
    ),
    "hosts": "SELECT name FROM mailctl_hosts WHERE name LIKE {p} ESCAPE '!' ORDER BY name",
}
COMPLETE_VAR = "_MAILCTL_COMPLETE"  # set by the shell scripts in completions/
DEFAULT_CONFIG_PATH = "/etc/mailctl/config.toml"  # as in mailctl.config
DEFAULT_URL = "mysql+pymysql://mailctl@127.0.0.1/mailserver"  # database.url's default
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
CONNECT_TIMEOUT = 1  # seconds; a TAB press waits no longer for an unreachable server


def complete_domains(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    """Hosted domains (A-labels) starting with what was typed."""
    return lookup(ctx, ("domains",), incomplete)


def complete_users(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    """Mailbox addresses."""
    return lookup(ctx, ("users",), incomplete)


def complete_aliases(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    """Alias sources (addresses and @domain catch-alls)."""
    return lookup(ctx, ("aliases",), incomplete)


def complete_addresses(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    """Mailboxes and alias sources: anything mail can be addressed to here."""
    return lookup(ctx, ("users", "aliases"), incomplete)


def complete_hosts(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    """Mail hosts that have synced (mailctl_hosts)."""
    return lookup(ctx, ("hosts",), incomplete)


def lookup(ctx: click.Context, kinds: tuple[str, ...], incomplete: str) -> list[str]:
    try:
        return _lookup(ctx, kinds, incomplete)
    except Exception:  # completion must never fail; see the module docstring
        return []


def _lookup(ctx: click.Context, kinds: tuple[str, ...], incomplete: str) -> list[str]:
    root = ctx.find_root().params
    url, password_file, failover = database_location(root.get("config_path"), root.get("db_url"))
    pattern = _like_prefix(incomplete.strip().lower())
    *first, last = (None, *failover)  # None: the URL's own server
    for server in first:
        with contextlib.suppress(Exception):  # down, or not ready: the next server
            return _query(url, password_file, server, kinds, pattern)
    return _query(url, password_file, last, kinds, pattern)


def _query(
    url: str, password_file: str, server: str | None, kinds: tuple[str, ...], pattern: str
) -> list[str]:
    """The completions from one server (`server`: a database.failover entry)."""
    connection, placeholder = _connect(url, password_file, server)
    found: list[str] = []
    try:
        cursor = connection.cursor()
        for kind in kinds:
            cursor.execute(_QUERIES[kind].format(p=placeholder), (pattern,))
            found.extend(row[0] for row in cursor.fetchall() if row[0] not in found)
    finally:
        connection.close()
    return sorted(found)  # collations differ between backends; code points do not


def database_location(
    config_path: str | None, db_url: str | None, env: Mapping[str, str] | None = None
) -> tuple[str, str, tuple[str, ...]]:
    """(database.url, database.password_file, database.failover), found the way
    config.load_settings finds them, without building all the settings (its
    dataclasses cost ~13 ms, a tenth of the TAB budget). tests/unit/test_complete.py
    keeps the two in step."""
    from pathlib import Path

    env = os.environ if env is None else env
    explicit = config_path or env.get("MAILCTL_CONFIG")
    path = Path(explicit or DEFAULT_CONFIG_PATH)
    if path.exists():
        if path.stat().st_mode & 0o077:  # load_settings refuses such a file too
            raise PermissionError(f"{path} is accessible by group or others")
        from mailctl.core import configcache

        database = configcache.parse(str(path), path.read_bytes(), env).get("database", {})
        url, password_file = database.get("url", DEFAULT_URL), database.get("password_file", "")
        failover = tuple(str(host) for host in database.get("failover", []))
    elif explicit:
        raise FileNotFoundError(path)
    else:  # the sandbox
        base = env.get("XDG_DATA_HOME") or str(
            Path(env.get("HOME", "~")).expanduser() / ".local/share"
        )
        url, password_file = f"sqlite:///{Path(base).expanduser() / 'mailctl/mailctl.sqlite3'}", ""
        failover = ()
    return db_url or env.get("MAILCTL_DB_URL") or url, password_file, failover


def _like_prefix(text: str) -> str:
    """A LIKE pattern for `text%`; '!' escapes, as backslash means different
    things in MariaDB and PostgreSQL string literals."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def _connect(url: str, password_file: str, server: str | None = None) -> tuple[Any, str]:
    """A DB-API connection for a SQLAlchemy URL and its parameter placeholder; to
    `server` ("host[:port]", database.failover's form) instead of the URL's host."""
    from pathlib import Path
    from urllib.parse import parse_qs, unquote, urlsplit

    scheme, _, rest = url.partition("://")
    backend = scheme.split("+", 1)[0]
    if backend == "sqlite":
        import sqlite3

        path = rest.removeprefix("/").split("?", 1)[0]
        if not path or path == ":memory:":
            raise ValueError("no database file")
        # Read-only: completion never creates a database file that is not there.
        uri = Path(path).expanduser().resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=CONNECT_TIMEOUT), "?"
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    password = unquote(parts.password or "")
    if password_file:
        from mailctl.system.files import check_private_file  # not the config schema

        check_private_file(Path(password_file), "database password file")
        with open(password_file, encoding="utf-8") as handle:
            password = handle.readline().rstrip("\r\n")
    host, port = query.get("host") or parts.hostname, parts.port
    if server is not None:
        from mailctl.store.url import split_host_port

        host, given = split_host_port(server)
        port = given or port  # as store.url.with_host: the URL's port unless one is given
    options: dict[str, Any] = {
        "host": host or "localhost",
        "user": unquote(parts.username or ""),
        "password": password,
    }
    if port:
        options["port"] = port
    database = unquote(parts.path.lstrip("/"))
    if backend in ("mysql", "mariadb"):
        if "unix_socket" in query and server is None:  # a failover host is reached by TCP
            options["unix_socket"] = query["unix_socket"]
        local = "unix_socket" in options or options["host"] in LOCAL_HOSTS
        if local:
            # PyMySQL otherwise tries TLS ("preferred"), and loading the system's
            # CA certificates for that takes ~45 ms; over loopback TLS adds nothing.
            options["ssl_disabled"] = True
        pymysql = _import_pymysql(without_ssl=local)
        connection = pymysql.connect(
            database=database,
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=CONNECT_TIMEOUT * 2,
            charset="utf8mb4",
            **options,
        )
        return connection, "%s"
    if backend == "postgresql":
        import psycopg

        return psycopg.connect(dbname=database, connect_timeout=CONNECT_TIMEOUT, **options), "%s"
    raise ValueError(f"no completion for {backend} databases")


def _import_pymysql(*, without_ssl: bool) -> Any:
    """PyMySQL, without imports a TAB press does not need (~10 ms for ssl, ~50 ms
    for cryptography), hidden only in a completion process, which exits right after.

    PyMySQL imports cryptography in case the server asks for MySQL 8's RSA
    password exchange; MariaDB's mysql_native_password and ed25519 never do.
    It imports ssl for TLS, which a local connection does without.
    """
    import importlib

    unwanted = ("cryptography", "ssl") if without_ssl else ("cryptography",)
    hidden = [m for m in unwanted if m not in sys.modules and COMPLETE_VAR in os.environ]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        return importlib.import_module("pymysql")
    finally:
        for name in hidden:
            del sys.modules[name]
