"""`mailctl setup sql`: the guide's two SQL accounts, with least privilege.

The read-only account (guide §4/§8.1: `mailuser`) is what Postfix's maps and
Dovecot's passdb, userdb and dict log in as: SELECT on the three guide tables
and on the policy tables the rendered queries join (mailctl_user_policy,
mailctl_domain_policy, mailctl_sender_grants), and SELECT/INSERT/UPDATE on the
two tables Dovecot itself fills (mailctl_quota_usage by quota_clone,
mailctl_last_login by last_login); nothing else, so neither daemon can change
mail routing or policy, delete a row, or read mailctl's other tables: the DKIM
key records, and above all mailctl_dkim_secrets, the private keys every host writes
its key files from (grants are per table, so no wildcard can reach it). "Read-only"
is the guide's name; those two writes are all it may do.

mailctl's own account gets what its commands and migrations need:

  MariaDB/MySQL, on `<db>.*`:
    SELECT, INSERT, UPDATE, DELETE  domains, users, aliases, DKIM keys and state
    CREATE       new tables (mailctl_* and the Alembic version table)
    ALTER        add columns/constraints in later migrations
    INDEX        CREATE/DROP INDEX in migrations
    REFERENCES   foreign keys to the guide tables (MySQL 8 checks it)
    DROP         migrations that replace or remove a table, and downgrades;
                 note that on `<db>.*` it also allows DROP DATABASE of this
                 one database (an account with DELETE can empty it anyway)
  PostgreSQL: CONNECT on the database, USAGE and CREATE on schema public,
    and ownership of the guide and mailctl_* tables: ALTER, DROP and CREATE
    INDEX are owner-only there, and an owner has all the DML privileges.

Statements are built here as plain data (`Statement`: the SQL to run and the
same SQL with the password masked, for `--print`) and run over an admin
connection. Re-running converges: accounts are created when missing, their
privileges revoked and granted afresh, and each password set to what its
password file holds (a new one is generated only when the file is missing,
or for every account with `--rotate`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mailctl.core.config import Settings, check_private_file
from mailctl.core.tables import GUIDE_TABLES
from mailctl.errors import ConfigError, MailctlError, UsageError
from mailctl.setup.privileges import refuse_weak_admin, regrant, run_statements
from mailctl.setup.sqlmaps import PASSWORD_CHARS
from mailctl.setup.sqlscript import (
    DOVECOT_WRITES,
    MARIADB_MAILCTL_PRIVILEGES,
    NAME,
    READONLY_SELECT,
    Account,
    Statement,
    Target,
    mariadb_account,
    mariadb_database,
    mariadb_login,
    mariadb_mailctl_grants,
    mariadb_readonly_grants,
    postgres_database,
    postgres_login,
    postgres_mailctl_grants,
    postgres_readonly_grants,
    readonly_privileges,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL

# --- the target from the configuration ----------------------------------------


def _check_name(what: str, value: str | None) -> str:
    if not value or not NAME.fullmatch(value):
        raise ConfigError(f"{what} {value!r} must be 1-64 letters, digits or _")
    return value


def backend_of(url: str) -> str:
    """'mysql', 'postgresql' or 'sqlite' for a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    name = make_url(url).get_backend_name()
    return "mysql" if name == "mariadb" else name


def target_from(settings: Settings) -> Target:
    from sqlalchemy.engine import make_url

    url = make_url(settings.database.url)
    backend = backend_of(settings.database.url)
    if backend == "sqlite":
        raise MailctlError(
            "SQLite has no SQL accounts: Postfix and Dovecot read the database file"
            " directly (make it readable by their groups); nothing for setup sql to do"
        )
    if backend not in ("mysql", "postgresql"):
        raise ConfigError(f"setup sql supports MariaDB/MySQL and PostgreSQL, not {backend}")
    if url.password:
        raise ConfigError(
            "database.url holds a password: remove it and set database.password_file,"
            " where setup sql keeps mailctl's generated password"
        )
    if not settings.database.password_file:
        raise ConfigError(
            "set database.password_file (e.g. /etc/mailctl/db.password): setup sql writes"
            " mailctl's generated password there"
        )
    user = _check_name("the user in database.url", url.username)
    readonly = _check_name("setup.readonly_user", settings.setup.readonly_user)
    if user == readonly:
        raise ConfigError(
            f"mailctl's account and setup.readonly_user are both {user!r}; they must differ"
        )
    host = settings.setup.account_host
    return Target(
        backend=backend,
        dbname=_check_name("the database in database.url", url.database),
        mailctl=Account("mailctl", user, host, Path(settings.database.password_file)),
        readonly=Account("read-only", readonly, host, Path(settings.setup.readonly_password_file)),
    )


def admin_url(
    settings: Settings, *, override: str | None = None, password_file: str | None = None
) -> URL:
    """The admin connection: --admin-url (never with a password), else setup.admin_url,
    else root@/postgres@ on database.url's server; the password from a file if given."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        if override:
            url = make_url(override)
            if url.password:
                raise UsageError(
                    "--admin-url must not contain a password (argv is visible in ps and"
                    " shell history): use --admin-password-file or setup.admin_url"
                )
        elif settings.setup.admin_url:
            url = make_url(settings.setup.admin_url)
        else:
            base = make_url(settings.database.url)
            user = "root" if backend_of(settings.database.url) == "mysql" else "postgres"
            url = base.set(username=user, password=None)
    except ArgumentError:
        raise UsageError("the admin URL is not a database URL") from None
    if backend_of(url.render_as_string()) != backend_of(settings.database.url):
        raise UsageError("the admin URL must point at the same kind of server as database.url")
    path = password_file or settings.setup.admin_password_file
    if path:
        url = url.set(password=read_password(Path(path), "admin password file"))
    return url


# --- password files ------------------------------------------------------------


def generate() -> str:
    """43 URL-safe characters (256 bits): valid unquoted in Postfix and Dovecot files."""
    return secrets.token_urlsafe(32)


def read_password(path: Path, what: str) -> str:
    check_private_file(path, what)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    password = lines[0].strip() if lines else ""
    if not password:
        raise ConfigError(f"{what} {path} is empty")
    return password


def read_account_password(path: Path, what: str) -> str:
    """An account password from its file, checked to be writable into the map files."""
    password = read_password(path, what)
    if not PASSWORD_CHARS.fullmatch(password):
        raise ConfigError(
            f"{what} {path}: the password may only hold letters, digits and ._~+/=-"
            " (it is written unquoted into Postfix and Dovecot files); run setup sql --rotate"
        )
    return password


@dataclass
class Report:
    """What setup sql did, and what it advises."""

    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _passwords(target: Target, rotate: bool, report: Report) -> dict[str, str]:
    from mailctl.system.files import atomic_write

    chosen: dict[str, str] = {}
    for account in target.accounts:
        path = account.password_file
        if path.exists() and not rotate:
            chosen[account.user] = read_account_password(path, f"{account.role} password file")
            report.lines.append(f"{account.role} account {account.user}: password kept ({path})")
            continue
        verb = "rotated" if path.exists() else "generated"
        password = generate()
        # Written before the account changes: a password the server accepts is
        # never one that exists nowhere else. A failure later is repaired by
        # running setup sql again, which sets the account to this file's value.
        atomic_write(path, password + "\n", mode=0o600)
        chosen[account.user] = password
        report.lines.append(f"{account.role} account {account.user}: password {verb} ({path})")
    return chosen


# --- running it ------------------------------------------------------------------


@contextmanager
def _connect(url: URL, *, transaction: bool = False) -> Iterator[Connection]:
    """An admin connection that sends SQL verbatim (no parameter processing):
    autocommit, or one transaction committed at the end (rolled back on error).
    A failure to connect is the engine's DatabaseUnreachable, naming the URL."""
    from mailctl.core.db import make_engine

    engine: Engine = make_engine(url.render_as_string(hide_password=False))
    try:
        conn = engine.connect()
        with conn:
            if not transaction:
                yield conn.execution_options(isolation_level="AUTOCOMMIT", no_parameters=True)
                return
            with conn.begin():
                yield conn.execution_options(no_parameters=True)
    finally:
        engine.dispose()


def _postgres_secret(conn: Connection, user: str, password: str) -> str:
    """The SCRAM verifier libpq computes: the plain password never reaches the server's logs."""
    raw = conn.connection.driver_connection
    pgconn = getattr(raw, "pgconn", None)
    if pgconn is None:
        return password
    hashed: bytes = pgconn.encrypt_password(password.encode(), user.encode())
    return hashed.decode("ascii")


def _tables_present(conn: Connection, schema: str | None) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(conn).get_table_names(schema=schema))


def migrate_as_mailctl(settings: Settings) -> str:
    """`db upgrade` over mailctl's own account: proves its grants are enough for migrations."""
    from mailctl.core import db
    from mailctl.core.config import database_url
    from mailctl.dkim import stored

    engine = db.make_engine(
        database_url(settings), create=True, failover=settings.database.failover
    )
    try:
        before, adopted = db.upgrade(engine)
    finally:
        engine.dispose()
    imported = stored.import_key_files_of(settings)  # as db upgrade does
    keys = "".join(f"; {line}" for line in (stored.describe(imported), *imported.problems) if line)
    if adopted:
        return "schema: adopted the guide's tables and migrated them to the current version" + keys
    if before.pending:
        return f"schema: migrated from {before.current or 'empty'} to {before.head}" + keys
    return f"schema: current ({before.head})" + keys


def provision(
    settings: Settings,
    url: URL,
    *,
    rotate: bool = False,
    schema: bool = True,
) -> Report:
    """Create or update both accounts; migrate the schema as mailctl; grant the reader."""
    target = target_from(settings)
    report = Report()
    maria = target.backend == "mysql"
    # The admin's rights are checked before anything changes, even a password file.
    if maria:
        with _connect(url.set(database=None)) as conn:
            refuse_weak_admin(conn, target.dbname)
            run_statements(conn, mariadb_database(target))
    else:
        _ensure_postgres_database(url, target, report)
    passwords = _passwords(target, rotate, report)
    admin = url.set(database=None) if maria else url.set(database=target.dbname)
    _provision_account(admin, target, target.mailctl, passwords, report)
    if schema:
        report.lines.append(migrate_as_mailctl(settings))
    _provision_account(admin, target, target.readonly, passwords, report)
    return report


def _provision_account(
    admin: URL, target: Target, account: Account, passwords: dict[str, str], report: Report
) -> None:
    """One account's login and grants: in one transaction on PostgreSQL; on MariaDB,
    where each statement commits, with its earlier grants restored on failure."""
    maria = target.backend == "mysql"
    mailctl = account is target.mailctl
    connected = False
    try:
        with _connect(admin, transaction=not maria) as conn:
            connected = True
            done = _login_and_grant(conn, target, account, passwords, report)
    except MailctlError as exc:
        if maria or not connected:
            raise
        raise MailctlError(
            f"{exc}; rolled back: the {account.role} account {account.user} is as it was"
        ) from None
    if done is not None:
        report.lines.append(
            _mailctl_privileges(target)
            if mailctl
            else f"read-only account {_who(target, account)}: {readonly_privileges(done)}"
        )


def _login_and_grant(
    conn: Connection, target: Target, account: Account, passwords: dict[str, str], report: Report
) -> set[str] | None:
    """Set the account's password and reset its grants; return the tables present
    (None when the guide's tables are missing, so the read-only account gets its
    login only)."""
    maria = target.backend == "mysql"
    secret = passwords[account.user]
    if maria:
        run_statements(conn, mariadb_login(account, secret))
    else:
        secret = _postgres_secret(conn, account.user, secret)
        run_statements(conn, postgres_login(account, secret))
    present = _tables_present(conn, target.dbname if maria else None)
    statements: list[Statement]
    if account is target.mailctl:
        statements = (mariadb_mailctl_grants if maria else postgres_mailctl_grants)(target)
    elif all(t in present for t in GUIDE_TABLES):
        statements = (mariadb_readonly_grants if maria else postgres_readonly_grants)(
            target, present
        )
        if not all(t in present for t in (*READONLY_SELECT, *DOVECOT_WRITES)):
            report.notes.append(
                f"the account policy's tables do not exist yet, so {account.user} reads the"
                " guide's tables only: run 'mailctl db upgrade', then 'mailctl setup sql' again"
            )
    else:
        report.notes.append(
            f"the guide's tables do not exist yet, so {account.user} has no"
            " SELECT grants: run 'mailctl db upgrade', then 'mailctl setup sql' again"
        )
        return None
    if maria:
        regrant(conn, account, mariadb_account(account), statements)
    else:
        run_statements(conn, statements)
    return present


def _who(target: Target, account: Account) -> str:
    return f"{account.user}@{account.host}" if target.backend == "mysql" else account.user


def _mailctl_privileges(target: Target) -> str:
    who = _who(target, target.mailctl)
    if target.backend == "mysql":
        return (
            f"mailctl account {who}: {', '.join(MARIADB_MAILCTL_PRIVILEGES)} on {target.dbname}.*"
        )
    return (
        f"mailctl account {who}: CONNECT on {target.dbname}, USAGE and CREATE on schema"
        " public, owner of the guide and mailctl_* tables"
    )


def _ensure_postgres_database(url: URL, target: Target, report: Report) -> None:
    from sqlalchemy import text

    with _connect(url.set(database="postgres")) as conn:
        params = conn.execution_options(no_parameters=False)
        role = params.execute(
            text(
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
                " WHERE rolname = current_user"
            )
        ).one()
        exists = params.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.dbname}
        ).first()
        missing = [] if role.rolsuper or role.rolcreaterole else ["CREATEROLE"]
        if exists is None and not (role.rolsuper or role.rolcreatedb):
            missing.append("CREATEDB")
        if missing:
            raise MailctlError(
                f"the admin role {role.rolname} lacks {' and '.join(missing)}; nothing was"
                " changed: use a superuser (e.g. postgres)"
            )
        if exists is None:
            run_statements(conn, postgres_database(target))
            report.lines.append(f"created database {target.dbname}")
