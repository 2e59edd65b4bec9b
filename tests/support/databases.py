"""Throwaway databases on the machine's MariaDB and PostgreSQL.

`mariadb_database()` / `postgres_database()` create a uniquely named database
(and drop it, with every account named in `users`, afterwards); the admin
connections behind them are the only ones the suite opens as root/postgres.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from support.env import need

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
MARIADB_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def unique_name(prefix: str = "mailctl_t") -> str:
    # Unique per test so tests (and concurrent runs) never share state; the
    # prefix makes leftovers of a killed run easy to find and drop.
    return f"{prefix}_{secrets.token_hex(6)}"


def mariadb_admin(**extra: Any) -> Any:
    """A root connection to MariaDB (autocommit), or need()-fail."""
    import pymysql

    try:
        return pymysql.connect(**MARIADB, connect_timeout=5, autocommit=True, **extra)
    except pymysql.err.OperationalError as exc:
        need(False, f"MariaDB not reachable on {MARIADB['host']}:{MARIADB['port']} as root: {exc}")
        raise  # unreachable: need() always raises here; keeps type checkers happy


def postgres_admin(**extra: Any) -> Any:
    """A postgres connection to PostgreSQL (autocommit), or need()-fail."""
    try:
        import psycopg
    except ImportError:
        need(False, "psycopg not installed (extra 'postgresql')")
        raise
    try:
        # autocommit: CREATE/DROP DATABASE refuse to run inside a transaction.
        return psycopg.connect(**{**POSTGRES, **extra}, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as exc:
        need(False, f"PostgreSQL not reachable on {POSTGRES['host']}:{POSTGRES['port']}: {exc}")
        raise


@contextmanager
def mariadb_database(
    name: str | None = None, users: Iterable[str] = (), *, create: bool = True
) -> Iterator[str]:
    """A fresh utf8mb4 database (`create=False`: only its name, for a command that
    creates it); yields the name. Dropped afterwards with `users`@127.0.0.1."""

    name = name or unique_name()
    conn = mariadb_admin()
    try:
        if create:
            with conn.cursor() as cur:
                cur.execute(
                    f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
        yield name
    finally:
        drop_mariadb_database(name, users, conn)


def drop_mariadb_database(name: str, users: Iterable[str] = (), conn: Any = None) -> None:
    """Drop database `name` and the accounts `users`@127.0.0.1, if they exist."""
    import pymysql

    conn = conn or mariadb_admin()
    with conn.cursor() as cur:
        # A connection the test leaked (say, an engine's pool with an open
        # transaction) holds a metadata lock that would make DROP DATABASE
        # hang forever; kill those first, like PostgreSQL's WITH (FORCE).
        cur.execute(
            "SELECT id FROM information_schema.processlist"
            " WHERE db = %s AND id <> CONNECTION_ID()",
            (name,),
        )
        for (pid,) in cur.fetchall():
            try:
                cur.execute(f"KILL {int(pid)}")
            except pymysql.err.OperationalError:
                pass  # already gone
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        for user in users:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
    conn.close()


@contextmanager
def postgres_database(
    name: str | None = None, roles: Iterable[str] = (), *, create: bool = True
) -> Iterator[str]:
    """A fresh UTF8 database (`create=False`: only its name); yields the name.
    Dropped afterwards with `roles`."""
    name = name or unique_name()
    conn = postgres_admin()
    try:
        if create:
            conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        yield name
    finally:
        # FORCE: connections the test leaked would otherwise block the drop.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in roles:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        conn.close()


def mariadb_url(name: str, user: str = "root") -> str:
    return f"mysql+pymysql://{user}@127.0.0.1:3306/{name}?charset=utf8mb4"


def postgres_url(name: str, user: str = "postgres") -> str:
    return f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}"
