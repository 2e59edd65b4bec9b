"""One DB-API connection per command, on SQLite, MariaDB/MySQL or PostgreSQL.

Queries are written once with `?` placeholders and sent in each driver's own
style. Driver errors become one-line DatabaseErrors naming the URL with its
password masked (DatabaseUnreachable when no connection could be made or it
broke), as the SQLAlchemy engine of core.db reports them.

TLS to the database is decided here, not left to a driver's default: none on
a Unix socket or loopback address, where it protects nothing and costs tens of
milliseconds per connection; a verified connection (the system's CAs, or
`database.tls_ca`) to any other host. `database.tls = "off"` turns it off
there too, and TLS options written in the URL itself win over both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailctl.errors import DatabaseError, DatabaseUnreachable, MailctlError
from mailctl.store.url import DbUrl, parse_url

Params = Sequence[Any]
_MYSQL_FLAGS = ("ssl_disabled", "ssl_verify_cert", "ssl_verify_identity")
_MYSQL_TEXT = ("charset", "unix_socket", "ssl_ca", "ssl_cert", "ssl_key")


@dataclass(frozen=True)
class Tls:
    """database.tls and database.tls_ca."""

    mode: str = "auto"  # auto | verify | off
    ca_file: str = ""


def is_local(url: DbUrl) -> bool:
    """A Unix socket or a loopback host: nothing on the wire to protect."""
    if url.backend == "sqlite" or "unix_socket" in url.query or not url.host:
        return True
    if url.host.startswith("/") or url.host in ("localhost", "127.0.0.1", "::1"):
        return True  # (libpq takes a folder for a socket)
    import ipaddress

    try:
        return ipaddress.ip_address(url.host).is_loopback
    except ValueError:
        return False


def wants_tls(url: DbUrl, tls: Tls) -> bool:
    if url.backend == "sqlite":
        return False
    return tls.mode == "verify" or (tls.mode == "auto" and not is_local(url))


class Db:
    """A connection and the few ways mailctl talks through it."""

    def __init__(self, raw: Any, url: DbUrl, errors: tuple[type[BaseException], ...]) -> None:
        self.raw = raw
        self.url = url
        self.backend = url.backend
        self.shown = url.render()
        self._errors = errors
        self._style: dict[str, str] = {}
        self._in_transaction = False

    # ------------------------------------------------------------ statements

    def _sql(self, sql: str) -> str:
        if self.backend == "sqlite":
            return sql
        if (styled := self._style.get(sql)) is None:
            styled = self._style[sql] = sql.replace("%", "%%").replace("?", "%s")
        return styled

    @staticmethod
    def _args(params: Params) -> tuple[Any, ...]:
        # Plain str for StrEnum members: drivers look encoders up by exact type.
        return tuple(str(p) if isinstance(p, str) else p for p in params)

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        try:
            cursor = self.raw.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
        except self._errors as exc:
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> DatabaseError:
        detail = _first_line(exc)
        if _is_disconnect(exc):
            return DatabaseUnreachable(f"lost the connection to {self.shown}: {detail}")
        return DatabaseError(f"database error on {self.shown}: {detail}")

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as cursor:
            cursor.execute(self._sql(sql), self._args(params))
            return [tuple(row) for row in cursor.fetchall()]

    def row(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        with self._cursor() as cursor:
            cursor.execute(self._sql(sql), self._args(params))
            found = cursor.fetchone()
            return tuple(found) if found is not None else None

    def value(self, sql: str, params: Params = ()) -> Any:
        found = self.row(sql, params)
        return found[0] if found is not None else None

    def run(self, sql: str, params: Params = ()) -> int:
        """A change; returns the number of rows it touched."""
        with self._cursor() as cursor:
            cursor.execute(self._sql(sql), self._args(params))
            return int(cursor.rowcount)

    def run_many(self, sql: str, params: Sequence[Params]) -> None:
        if not params:
            return
        with self._cursor() as cursor:
            cursor.executemany(self._sql(sql), [self._args(p) for p in params])

    def insert(self, sql: str, params: Params = ()) -> int:
        """An INSERT of one row; returns its new id."""
        with self._cursor() as cursor:
            if self.backend == "postgresql":
                cursor.execute(self._sql(sql + " RETURNING id"), self._args(params))
                return int(cursor.fetchone()[0])
            cursor.execute(self._sql(sql), self._args(params))
            return int(cursor.lastrowid)

    # ------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self, *, dry_run: bool = False) -> Iterator[Db]:
        """Committed on success; rolled back on error or in a dry run."""
        self.end_reading()  # reads before it ran in a transaction of their own
        if self.backend == "sqlite":
            # IMMEDIATE: take the write lock now, not at the first write
            self.run("BEGIN" if dry_run else "BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self._finish(commit=False)
            raise
        self._finish(commit=not dry_run)

    def _finish(self, *, commit: bool) -> None:
        self._in_transaction = False
        try:
            if self.backend == "sqlite":
                self.raw.execute("COMMIT" if commit else "ROLLBACK")
            elif commit:
                self.raw.commit()
            else:
                self.raw.rollback()
        except self._errors as exc:
            if commit:
                raise self._error(exc) from None

    def end_reading(self) -> None:
        """End the implicit read transaction (MariaDB and PostgreSQL open one)."""
        if self.backend != "sqlite":
            try:
                self.raw.rollback()
            except self._errors as exc:
                raise self._error(exc) from None

    def close(self) -> None:
        try:
            if self._in_transaction:
                self._finish(commit=False)
            self.raw.close()
        except self._errors:
            pass  # closing a broken connection: nothing left to say


def _is_disconnect(exc: BaseException) -> bool:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    # MariaDB: 2006 gone away, 2013 lost during query; psycopg: OperationalError with a
    # closed connection
    return code in (2006, 2013) or type(exc).__name__ == "InterfaceError"


# ------------------------------------------------------------------ opening


def connect(
    url_text: str, *, tls: Tls | None = None, create: bool = False, mysql: str | None = None
) -> Db:
    """The database behind a URL; `create` makes a missing SQLite file (0600);
    `mysql` picks the MariaDB driver (default: mysql_driver())."""
    url = parse_url(url_text)
    tls = tls or Tls()
    if url.backend == "mysql":
        return _mysql(url, tls, create, mysql)
    opener = {"sqlite": _sqlite, "postgresql": _postgresql}.get(url.backend)
    if opener is None:
        raise DatabaseError(
            f"mailctl supports MariaDB/MySQL, PostgreSQL and SQLite, not {url.backend}"
            f" ({url.render()})"
        )
    return opener(url, tls, create)


def _sqlite(url: DbUrl, _tls: Tls, create: bool) -> Db:
    import sqlite3

    database = url.database or ":memory:"
    if database != ":memory:" and not database.startswith("file:"):
        sqlite_file(Path(database).expanduser(), url.render(), create=create)
    try:
        raw = sqlite3.connect(
            database, timeout=30, isolation_level=None, uri=database.startswith("file:")
        )
        raw.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE needs it, per connection
    except sqlite3.Error as exc:
        raise DatabaseUnreachable(f"database error on {url.render()}: {exc}") from None
    return Db(raw, url, (sqlite3.Error,))


def sqlite_file(path: Path, shown: str, *, create: bool) -> None:
    """A missing SQLite file: made 0600 (it holds password hashes) with `create`,
    else refused, so that a read-only command leaves no database behind."""
    if path.exists():
        return
    if not create:
        raise DatabaseUnreachable(
            f"{shown}: {path} does not exist (create it with: mailctl db upgrade)"
        )
    from mailctl.system.files import make_dirs

    try:
        make_dirs(path.parent, 0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        pass  # made by a concurrent run
    except OSError as exc:
        raise DatabaseUnreachable(f"cannot create {path}: {exc.strerror}") from None
    except MailctlError as exc:
        raise DatabaseUnreachable(f"cannot create {path}: {exc}") from None


def mysql_driver() -> str:
    """"mysqlclient" (C, MySQLdb) when it is installed, else "pymysql": listing
    100,000 mailboxes, PyMySQL spends most of the time decoding rows in Python."""
    import importlib.util

    return "mysqlclient" if importlib.util.find_spec("MySQLdb") is not None else "pymysql"


def _mysql(url: DbUrl, tls: Tls, _create: bool, driver: str | None = None) -> Db:
    options: dict[str, Any] = {"charset": "utf8mb4"}
    for key, value in url.query.items():
        if key in _MYSQL_FLAGS:
            options[key] = value.lower() in ("1", "true", "yes", "on")
        elif key in _MYSQL_TEXT:
            options[key] = value
        else:
            raise DatabaseError(f"database.url: unsupported option {key!r} for MariaDB/MySQL")
    own_tls = any(key.startswith("ssl") for key in url.query)
    # TLS options in the URL are PyMySQL's: such a URL keeps PyMySQL.
    if (driver or mysql_driver()) == "mysqlclient" and not own_tls:
        return _mysqlclient(url, tls, options)
    import pymysql

    if not own_tls:
        if wants_tls(url, tls):
            options["ssl"] = _tls_context(tls)
        else:
            options["ssl_disabled"] = True
    try:
        raw = pymysql.connect(
            host=url.host or "localhost",
            port=url.port or 3306,
            user=url.username or "",
            password=url.password or "",
            database=url.database,
            autocommit=False,
            connect_timeout=10,
            **options,
        )
    except pymysql.err.MySQLError as exc:
        raise DatabaseUnreachable(f"database error on {url.render()}: {_first_line(exc)}") from None
    return Db(raw, url, (pymysql.err.MySQLError,))


def _mysqlclient(url: DbUrl, tls: Tls, options: dict[str, Any]) -> Db:
    import MySQLdb

    if wants_tls(url, tls):
        import ssl

        ca = tls.ca_file or ssl.get_default_verify_paths().cafile or ""
        options.update(ssl_mode="VERIFY_IDENTITY", ssl={"ca": ca})
    else:
        options["ssl_mode"] = "DISABLED"
    try:
        raw = MySQLdb.connect(
            host=url.host or "localhost",
            port=url.port or 3306,
            user=url.username or "",
            password=url.password or "",
            database=url.database or "",
            autocommit=False,
            connect_timeout=10,
            **options,
        )
    except MySQLdb.Error as exc:
        raise DatabaseUnreachable(f"database error on {url.render()}: {_first_line(exc)}") from None
    return Db(raw, url, (MySQLdb.Error,))


def _postgresql(url: DbUrl, tls: Tls, _create: bool) -> Db:
    try:
        import psycopg
    except ImportError:
        raise DatabaseError(
            f"no driver for {url.render()}: install mailctl[postgresql] (psycopg)"
        ) from None
    options: dict[str, Any] = dict(url.query)
    if "sslmode" not in options:
        if wants_tls(url, tls):
            options["sslmode"] = "verify-full"
            options["sslrootcert"] = tls.ca_file or "system"
        else:
            options["sslmode"] = "disable"
    try:
        raw = psycopg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            dbname=url.database,
            connect_timeout=10,
            **options,
        )
    except psycopg.Error as exc:
        raise DatabaseUnreachable(f"database error on {url.render()}: {_first_line(exc)}") from None
    return Db(raw, url, (psycopg.Error,))


def _tls_context(tls: Tls) -> Any:
    import ssl

    try:
        return ssl.create_default_context(cafile=tls.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise DatabaseError(f"database.tls_ca {tls.ca_file}: {exc}") from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
