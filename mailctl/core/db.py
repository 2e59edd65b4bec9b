"""Engine, transactions and the schema's state: the only module that owns them.

Schema changes go through Alembic (top-level `migrations/`, shipped in the
wheel as `mailctl/migrations`). A database created by hand from the guide's
SQL has the three tables but no version table: it is checked and stamped at
revision 0001 ("adopted"), never recreated, and its rows stay untouched. Hand-made
databases differ from the guide in small ways: what mailctl can work with (an INT
id where the guide has INT UNSIGNED, a BIGINT) is adopted, and migrations that
refer to a guide table's id take the type they find there (`guide_id_type`);
what it cannot is refused before anything is stamped, naming the difference.

With `database.failover` every connection the engine opens goes, as the store's
do, to the URL's server or else the first failover host that answers and, a
Galera node, is ready (`failover` of `make_engine`): the `db` commands, doctor,
the schema check and `setup sql`'s migration as mailctl. `setup sql`'s admin
connection does not: the admin URL may name any server (setup.admin_url,
--admin-url), so it goes to the one it names.

Database failures become mailctl errors here, where they happen: every engine
from `make_engine` turns a driver error into a one-line `DatabaseError` (the
URL shown with its password masked), and the transaction and schema helpers
do the same for any other SQLAlchemy error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Integer, create_engine, event, inspect, text
from sqlalchemy.engine import ExceptionContext, Inspector, make_url
from sqlalchemy.exc import (
    ArgumentError,
    CompileError,
    DBAPIError,
    NoSuchModuleError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeEngine

from mailctl.core.tables import GUIDE_TABLES
from mailctl.errors import DatabaseError, DatabaseUnreachable, SchemaNotCurrent
from mailctl.store import schema
from mailctl.store.connection import sqlite_file
from mailctl.store.url import masked

VERSION_TABLE = "mailctl_schema_version"
ADOPTED_REVISION = "0001"

# Columns each guide table must have for mailctl to adopt it.
GUIDE_COLUMNS = {
    "virtual_domains": {"id", "name"},
    "virtual_users": {"id", "domain_id", "email", "password"},
    "virtual_aliases": {"id", "domain_id", "source", "destination"},
}
# Of those, the ones rows and foreign keys refer to: integers, whatever their width.
GUIDE_INTEGER_COLUMNS = ("id", "domain_id")


def make_engine(url: str, *, create: bool = False, failover: Sequence[str] = ()) -> Engine:
    """An engine for one CLI run: no pool, foreign keys enforced everywhere, and
    driver errors raised as DatabaseError. An SQLite file that does not exist is
    made (0600: it holds password hashes) only with `create`: commands that
    merely read must not leave a database, or its folder, behind. `failover`
    (database.failover): the servers each connection tries, in order, when the
    URL's does not answer."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseError(f"invalid database URL: {masked(url)}") from None
    kwargs: dict[str, Any] = {"poolclass": NullPool}
    backend = parsed.get_backend_name()
    if failover and backend == "sqlite":
        raise DatabaseError(
            f"database.failover names other servers, but {masked(url)} is a SQLite file"
        )
    if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            sqlite_file(Path(database).expanduser(), masked(url), create=create)
        kwargs["connect_args"] = {"timeout": 30}
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        hint = " (install mailctl[postgresql])" if backend == "postgresql" else ""
        raise DatabaseError(f"no driver for {masked(url)}: {exc}{hint}") from None
    except (ArgumentError, TypeError, ValueError) as exc:  # options SQLAlchemy refuses
        raise DatabaseError(f"invalid database URL {masked(url)}: {exc}") from None
    event.listen(engine, "handle_error", _translator(masked(url)))
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if failover:
        event.listen(engine, "do_connect", _first_answering(url, failover))
    return engine


def _first_answering(url: str, failover: Sequence[str]) -> Callable[..., Any]:
    """A do_connect hook: SQLAlchemy's own connect arguments, sent to the URL's server
    or else each failover host in turn; the first that answers and is ready (a
    Galera node in the primary component) serves. The choice, and the one line when
    none answers, are the store's (store.connection.first_answering)."""
    from mailctl.store.connection import Db, Unanswered, first_answering
    from mailctl.store.url import DbUrl, parse_url

    parsed = parse_url(url)

    def connect(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
        errors = (dialect.loaded_dbapi.Error,)

        def open_one(candidate: DbUrl) -> Db:
            params = {**cparams, "host": candidate.host}
            if candidate.port is not None:
                params["port"] = candidate.port
            try:
                return Db(dialect.connect(*cargs, **params), candidate, errors)
            except errors as exc:
                raise Unanswered(candidate, exc) from None

        return first_answering(parsed, failover, open_one).raw

    return connect


def _translator(shown: str) -> Callable[[ExceptionContext], None]:
    def translate(context: ExceptionContext) -> None:
        # Driver errors only: anything else raised while executing is a bug.
        exc = context.sqlalchemy_exception
        if not isinstance(exc, DBAPIError) or context.is_pre_ping:
            return
        # SQLAlchemy's own probes expect the DBAPIError (MySQL's has_table runs
        # DESCRIBE and reads error 1146 as "no such table"); they mark the statement
        # so, but SQLAlchemy checks only the connection's options before calling us.
        execution = context.execution_context
        if execution is not None and execution.execution_options.get("skip_user_error_events"):
            return
        raise database_error(exc, shown, lost=context.connection is None or context.is_disconnect)

    return translate


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores ON DELETE CASCADE unless foreign keys are switched on per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def database_error(exc: BaseException, shown: str, *, lost: bool = False) -> DatabaseError:
    """One line for a database failure: the driver's first line, the URL masked.

    `lost`: no connection could be made, or it broke (DatabaseUnreachable).
    """
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    detail = lines[0] if lines else type(exc).__name__
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DatabaseUnreachable(f"lost the connection to {shown}: {detail}")
    if lost:
        return DatabaseUnreachable(f"database error on {shown}: {detail}")
    return DatabaseError(f"database error on {shown}: {detail}")


@contextmanager
def translated(engine: Engine) -> Iterator[None]:
    """Any SQLAlchemy error in the block (driver errors are already translated by
    the engine) as a DatabaseError."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise database_error(exc, engine.url.render_as_string(hide_password=True)) from exc


@contextmanager
def transaction(engine: Engine, *, dry_run: bool = False) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on error or dry run."""
    session = Session(engine, autoflush=True, expire_on_commit=False)
    try:
        with translated(engine):
            yield session
            if dry_run:
                session.rollback()
            else:
                session.commit()
    except BaseException:
        with contextlib.suppress(DatabaseError):  # the connection may be gone already
            session.rollback()
        raise
    finally:
        session.close()


# --- schema state and migrations --------------------------------------------------


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands, as `db status` shows it."""

    backend: str
    current: str | None
    head: str
    guide_tables: tuple[str, ...]
    # Why guide tables without a version table cannot be adopted; None when they can.
    adoption_problem: str | None = None

    @property
    def adoptable(self) -> bool:
        return (
            self.current is None
            and len(self.guide_tables) == len(GUIDE_TABLES)
            and self.adoption_problem is None
        )

    @property
    def pending(self) -> bool:
        return self.current != self.head


def _script_location() -> str:
    packaged = resources.files("mailctl").joinpath("migrations")
    if packaged.is_dir():
        return "mailctl:migrations"
    # Running from a source checkout: the top-level migrations/ directory.
    return str(Path(__file__).resolve().parents[2] / "migrations")


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", _script_location())
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    assert head is not None  # noqa: S101 - migrations ship with the package
    return head


def schema_status(engine: Engine) -> SchemaStatus:
    from alembic.runtime.migration import MigrationContext

    with translated(engine), engine.connect() as conn:
        current = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()
        inspector = inspect(conn)
        present = set(inspector.get_table_names())
        guide_tables = tuple(t for t in GUIDE_TABLES if t in present)
        problem = (
            _adoption_problem(inspector, guide_tables) if current is None and guide_tables else None
        )
    return SchemaStatus(
        backend=engine.dialect.name,
        current=current,
        head=head_revision(),
        guide_tables=guide_tables,
        adoption_problem=problem,
    )


def upgrade(engine: Engine) -> tuple[SchemaStatus, bool]:
    """Bring the schema to head; adopt a hand-made guide database first.

    Returns the status before the upgrade and whether the database was adopted.
    """
    from alembic import command

    with migration_lock(engine):
        before = schema_status(engine)  # read under the lock: another run may have moved it
        _refuse_unknown(before)
        adopted = False
        with translated(engine):
            if before.current is None and before.guide_tables:
                check_adoptable(before)
                with engine.begin() as conn:
                    command.stamp(_alembic_config(conn), ADOPTED_REVISION)
                adopted = True
            with engine.begin() as conn:
                command.upgrade(_alembic_config(conn), "head")
    return before, adopted


MIGRATION_LOCK = "mailctl_schema"
MIGRATION_WAIT = 120  # seconds
PG_LOCK_KEY = 0x6D61696C63746C  # "mailctl" in ASCII: one advisory lock id for every host


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """One migration at a time, across processes and hosts: MariaDB's GET_LOCK, a
    PostgreSQL advisory lock, a file lock beside an SQLite database. Concurrent
    first runs or `db upgrade`s otherwise race and leave a half-made schema."""
    backend = engine.dialect.name
    if backend == "sqlite":
        from mailctl.system.files import exclusive_lock

        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with exclusive_lock(Path(f"{database}.migrate-lock"), timeout=MIGRATION_WAIT):
            yield
        return
    with translated(engine), engine.connect() as conn:
        if backend in ("mysql", "mariadb"):
            got = conn.execute(
                text("SELECT GET_LOCK(:name, :wait)"),
                {"name": MIGRATION_LOCK, "wait": MIGRATION_WAIT},
            ).scalar()
            release = text("SELECT RELEASE_LOCK(:name)")
            params: dict[str, Any] = {"name": MIGRATION_LOCK}
        else:
            # Waits for the lock; past lock_timeout PostgreSQL cancels the wait (an error).
            conn.execute(text(f"SET lock_timeout = '{MIGRATION_WAIT}s'"))
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
            got = 1
            release = text("SELECT pg_advisory_unlock(:key)")
            params = {"key": PG_LOCK_KEY}
        conn.commit()
        if got != 1:
            raise DatabaseError(
                f"another mailctl is migrating this database; gave up after {MIGRATION_WAIT}s"
            )
        try:
            yield
        finally:
            conn.execute(release, params)
            conn.commit()


def check_adoptable(status: SchemaStatus) -> None:
    """Refuse, before anything is stamped, guide tables mailctl cannot work with: a
    difference found only by a later migration leaves the database stamped and stuck."""
    if status.adoption_problem is not None:
        raise DatabaseError(f"cannot adopt the database: {status.adoption_problem}")


def _adoption_problem(inspector: Inspector, found: tuple[str, ...]) -> str | None:
    """What keeps these guide tables from being adopted, in a phrase naming the table
    and column, what it is and what mailctl needs; None when they can be."""
    missing = [t for t in GUIDE_TABLES if t not in found]
    if missing:
        return (
            f"it has {', '.join(found)} but not {', '.join(missing)};"
            " create them with the guide's SQL first"
        )
    for table, expected in GUIDE_COLUMNS.items():
        columns = {c["name"]: c for c in inspector.get_columns(table)}
        lacking = sorted(expected - columns.keys())
        if lacking:
            return f"table {table} lacks column(s) {', '.join(lacking)}"
        options = inspector.get_table_options(table)
        engine = next((v for k, v in options.items() if k.endswith("_engine")), None)
        if engine is not None and str(engine).lower() != "innodb":
            # MyISAM and the like have no foreign keys: 0002's would fail, stamped.
            return f"table {table} uses the {engine} engine, mailctl needs InnoDB (foreign keys)"
        for name in GUIDE_INTEGER_COLUMNS:
            found_type = columns[name]["type"] if name in columns else None
            if found_type is not None and not isinstance(found_type, Integer):
                return (
                    f"column {table}.{name} is {_type_name(found_type, inspector)},"
                    " mailctl needs an integer (the guide's INT UNSIGNED)"
                )
        key = inspector.get_pk_constraint(table)["constrained_columns"]
        if key != ["id"]:
            shown = f"PRIMARY KEY ({', '.join(key)})" if key else "no primary key"
            return f"table {table} has {shown}, mailctl needs PRIMARY KEY (id)"
        if columns["id"].get("autoincrement") is False:  # None: the backend cannot tell
            return (
                f"column {table}.id is not auto-incrementing, mailctl needs it"
                " to be (the guide's AUTO_INCREMENT)"
            )
    return None


def _type_name(type_: TypeEngine[Any], inspector: Inspector) -> str:
    try:
        return str(type_.compile(dialect=inspector.dialect))
    except CompileError:  # a type SQLAlchemy reflected but cannot render
        return type(type_).__name__


def guide_id_type(connection: Connection, table: str = "virtual_domains") -> TypeEngine[Any]:
    """The type of `table`.id as this database has it, for a column that refers to it.

    Hand-made databases differ from the guide's INT UNSIGNED (INT, BIGINT), and
    MariaDB refuses a foreign key between integers of another width or signedness;
    adoption has checked that the column is an integer."""
    for column in inspect(connection).get_columns(table):
        if column["name"] == "id":
            return column["type"]
    raise DatabaseError(f"cannot migrate the database: table {table} has no column id")


# The newest migration, one constant for the store's quick check and this one
# (Alembic's script scan costs ~0.25 s of imports); a test keeps it equal to
# Alembic's head.
HEAD = schema.HEAD


def _stored_revision(engine: Engine) -> str | None | bool:
    """The version table's revision, or False when it cannot be read that way."""
    from sqlalchemy import text

    try:
        with translated(engine), engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()  # noqa: S608
    except DatabaseUnreachable:
        raise
    except DatabaseError:
        return False  # no version table yet: let the full check explain
    return rows[0][0] if len(rows) == 1 else False


def _refuse_unknown(status: SchemaStatus) -> None:
    """A revision this mailctl has no migration for was written by a newer mailctl:
    say so, rather than offer an upgrade that would fail."""
    if status.current is None or status.current == status.head:
        return
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    try:
        ScriptDirectory.from_config(_alembic_config(None)).get_revision(status.current)
    except CommandError:
        raise SchemaNotCurrent(
            f"database schema is at {status.current}, newer than this mailctl knows"
            f" (its newest is {status.head}): upgrade mailctl"
        ) from None


def require_current(engine: Engine, *, auto_upgrade: bool) -> None:
    """Refuse to work on an old schema; the sandbox simply upgrades itself."""
    if _stored_revision(engine) == HEAD:
        return
    status = schema_status(engine)
    if not status.pending:
        return
    _refuse_unknown(status)
    if auto_upgrade:
        upgrade(engine)
        return
    if status.current is None and status.adoption_problem is not None:
        raise SchemaNotCurrent(f"cannot adopt the database: {status.adoption_problem}")
    if status.adoptable:
        raise SchemaNotCurrent(
            "the database has the guide's tables but mailctl has not adopted it yet;"
            " run: mailctl db upgrade"
        )
    raise SchemaNotCurrent(
        f"database schema is at {status.current or 'nothing'}, mailctl needs {status.head};"
        " run: mailctl db upgrade"
    )
