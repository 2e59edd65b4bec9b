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

With `database.failover` (a MariaDB Galera cluster, say) `connect()` tries the
URL's host, then each failover host in turn, and takes the first that answers
and, being a Galera node, is ready (wsrep_ready); when none does, one line names
every host tried and why. On such a node each transaction, and each command's
reads, start from a snapshot taken after the node has applied everything the
cluster committed before (wsrep_sync_wait): a command sees a change just made
through another node. Errors a rerun gets past (store.retry) are raised as
WriteConflict or ConnectionLost, for the unit of work to run the change again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from mailctl.errors import DatabaseError, DatabaseUnreachable, MailctlError
from mailctl.model.datarecord import datarecord
from mailctl.store.retry import ConnectionLost, WriteConflict, retryable_code
from mailctl.store.url import DbUrl, host_port, parse_url, with_host

Params = Sequence[Any]
R = TypeVar("R")
_MYSQL_FLAGS = ("ssl_disabled", "ssl_verify_cert", "ssl_verify_identity")
_MYSQL_TEXT = ("charset", "unix_socket", "ssl_ca", "ssl_cert", "ssl_key")


@datarecord(frozen=True)
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
        self._reading = False  # a statement ran outside a transaction since the last end
        self._committing = False
        # A Galera node (probed only with failover): reads start from a causal snapshot.
        self.wsrep = False
        self._snapshot = False
        self._reopen: Callable[[], Db] | None = None

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
            self._reading = not self._in_transaction
            try:
                if self.wsrep and not self._snapshot:
                    self._causal_snapshot(cursor)
                yield cursor
            finally:
                cursor.close()
        except self._errors as exc:
            raise self._error(exc) from None

    def _causal_snapshot(self, cursor: Any) -> None:
        """Begin with a snapshot that holds every change the cluster committed before
        now, wherever: the node waits until it has applied them (wsrep_sync_wait = 1,
        for this statement only), then the reads that follow see one consistent state."""
        self._snapshot = True
        cursor.execute(
            "SET STATEMENT wsrep_sync_wait = 1 FOR START TRANSACTION WITH CONSISTENT SNAPSHOT"
        )

    def _error(self, exc: BaseException) -> DatabaseError:
        detail = _first_line(exc)
        if _is_disconnect(exc):
            if self._committing:
                return DatabaseUnreachable(
                    f"lost the connection to {self.shown} during COMMIT: the change may or may"
                    f" not have been saved; look before running the command again ({detail})"
                )
            return ConnectionLost(f"lost the connection to {self.shown}: {detail}")
        if (code := retryable_code(exc)) is not None:
            return WriteConflict(f"database error on {self.shown}: {detail}", code)
        return DatabaseError(f"database error on {self.shown}: {detail}")

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        # Each driver's rows are tuples already (sqlite3's and psycopg's default row
        # types, MySQLdb's tuple of them): no copy per row of a 100,000-row listing.
        return self._read(sql, params, lambda cursor: list(cursor.fetchall()))

    def row(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        def first(cursor: Any) -> tuple[Any, ...] | None:
            found = cursor.fetchone()
            return tuple(found) if found is not None else None

        return self._read(sql, params, first)

    def _read(self, sql: str, params: Params, fetch: Callable[[Any], R]) -> R:
        """A query; outside a transaction, asked again on a new connection (the next
        node, with failover) if the connection broke: nothing was written there."""
        try:
            with self._cursor() as cursor:
                cursor.execute(self._sql(sql), self._args(params))
                return fetch(cursor)
        except ConnectionLost:
            if self._in_transaction or self._reopen is None:
                raise  # the unit of work reruns the whole transaction
        self.reconnect()
        with self._cursor() as cursor:
            cursor.execute(self._sql(sql), self._args(params))
            return fetch(cursor)

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
        self._in_transaction = self._snapshot = self._reading = False
        self._committing = commit
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
        finally:
            self._committing = False

    def end_reading(self) -> None:
        """End the implicit read transaction (MariaDB and PostgreSQL open one)."""
        self._snapshot = False
        if self.backend != "sqlite" and self._reading:  # else there is nothing to end
            self._reading = False
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

    def reconnect(self) -> None:
        """A new connection in place of this one, made as the first was: to the first
        host that answers, with failover; for a transaction to run again on it."""
        if self._reopen is None:
            raise DatabaseUnreachable(f"cannot reconnect to {self.shown}")
        fresh = self._reopen()
        self._in_transaction = False  # the old one is gone, and its transaction with it
        self.close()
        self.raw, self.url, self.shown = fresh.raw, fresh.url, fresh.shown
        self._errors, self.wsrep, self._snapshot = fresh._errors, fresh.wsrep, False
        self._reading = fresh._reading


def _is_disconnect(exc: BaseException) -> bool:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    # MariaDB: 2006 gone away, 2013 lost during query; psycopg: OperationalError with a
    # closed connection
    return code in (2006, 2013) or type(exc).__name__ == "InterfaceError"


# ------------------------------------------------------------------ opening


def connect(
    url_text: str,
    *,
    tls: Tls | None = None,
    create: bool = False,
    mysql: str | None = None,
    failover: Sequence[str] = (),
) -> Db:
    """The database behind a URL; `create` makes a missing SQLite file (0600);
    `mysql` picks the MariaDB driver (default: mysql_driver()); `failover`
    ("host:port", database.failover) are tried in order when the URL's host fails."""
    url = parse_url(url_text)
    tls = tls or Tls()

    def reopen() -> Db:
        db = (
            _first_answering(url, tls, create, mysql, failover)
            if failover
            else _open(url, tls, create, mysql)
        )
        db._reopen = reopen
        return db

    return reopen()


def _open(url: DbUrl, tls: Tls, create: bool, mysql: str | None) -> Db:
    if url.backend == "mysql":
        return _mysql(url, tls, create, mysql)
    opener = {"sqlite": _sqlite, "postgresql": _postgresql}.get(url.backend)
    if opener is None:
        raise DatabaseError(
            f"mailctl supports MariaDB/MySQL, PostgreSQL and SQLite, not {url.backend}"
            f" ({url.render()})"
        )
    return opener(url, tls, create)


def _first_answering(
    url: DbUrl, tls: Tls, create: bool, mysql: str | None, failover: Sequence[str]
) -> Db:
    """The URL's server, or else the first failover host that answers (and is ready)."""
    if url.backend == "sqlite":
        raise DatabaseError(
            f"database.failover names other servers, but {url.render()} is a SQLite file"
        )
    return first_answering(url, failover, lambda candidate: _open(candidate, tls, create, mysql))


def first_answering(url: DbUrl, failover: Sequence[str], open_one: Callable[[DbUrl], Db]) -> Db:
    """The URL's server, or else the first failover host that answers and, a Galera
    node, is ready; each opened by `open_one`, which raises Unanswered when it cannot
    connect (the store's own connections, and core.db's engine's)."""
    tried: list[str] = []
    for candidate in [url, *(with_host(url, host) for host in failover)]:
        where = host_port(candidate)
        try:
            db = open_one(candidate)
        except Unanswered as exc:
            tried.append(f"{where} {_parenthesised(exc.detail)}")
            continue
        if (problem := _not_ready(db)) is None:
            return db
        db.close()
        tried.append(f"{where} {_parenthesised(problem)}")
    raise DatabaseUnreachable(
        f"no database server answered for {url.render()}: tried {'; '.join(tried)}"
        " (database.url and database.failover)"
    )


def _parenthesised(detail: str) -> str:
    # PyMySQL and mysqlclient say (2003, "Can't connect ..."): not in parentheses twice
    return detail if detail.startswith("(") and detail.endswith(")") else f"({detail})"


def _not_ready(db: Db) -> str | None:
    """Why a server that answered cannot take a command (a Galera node that is not
    part of the primary component, or still joining), or None. Marks a Galera node."""
    if db.backend != "mysql":
        return None
    try:
        row = db.row(
            "SELECT @@wsrep_on, (SELECT variable_value FROM information_schema.global_status"
            " WHERE variable_name = 'WSREP_READY')"
        )
    except WriteConflict as exc:  # 1047: not even this query is served yet
        return exc.reason
    except DatabaseUnreachable as exc:
        return str(exc)
    except DatabaseError:
        return None  # no @@wsrep_on: MySQL, or a MariaDB built without Galera
    finally:
        _quietly_end(db)
    if row is None or not int(row[0] or 0):
        return None
    if str(row[1]).upper() != "ON":
        return f"Galera node not ready: wsrep_ready is {row[1]}"
    db.wsrep = True
    return None


def _quietly_end(db: Db) -> None:
    try:
        db.end_reading()
    except DatabaseError:
        pass  # a broken connection: the caller finds out with its next statement


class Unanswered(DatabaseUnreachable):
    """No connection could be made to one server: its URL shown, and why."""

    def __init__(self, url: DbUrl, exc: BaseException) -> None:
        self.detail = _first_line(exc)
        super().__init__(f"database error on {url.render()}: {self.detail}")


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
        raise Unanswered(url, exc) from None
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
    """ "mysqlclient" (C, MySQLdb) when it is installed, else "pymysql": listing
    100,000 mailboxes, PyMySQL spends most of the time decoding rows in Python."""
    try:
        import MySQLdb  # noqa: F401 - imported to be used: the connection follows
    except ImportError:
        return "pymysql"
    return "mysqlclient"


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
        raise Unanswered(url, exc) from None
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
        raise Unanswered(url, exc) from None
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
        raise Unanswered(url, exc) from None
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
