"""`mailctl setup sql` and `setup render` against the real MariaDB and PostgreSQL, and the
rendered maps read by Postfix's own mysql:, pgsql: and sqlite: clients."""

from __future__ import annotations

import imaplib
import os
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import pytest
from click.testing import Result
from support.cli import Mailctl, add_admin_mailbox
from support.databases import (
    MARIADB_ADMIN_URL,
    POSTGRES_ADMIN_URL,
    mariadb_admin,
    mariadb_database,
    postgres_database,
)
from support.dovecot import (
    DOVECOT24_ROOT,
    PrivateDovecot,
    free_port,
    listening,
    private_run_dir,
    running,
    wait_for,
)
from support.env import need, program
from support.mailconfig import MailConfig

MARIA_ADMIN = MARIADB_ADMIN_URL
PG_ADMIN = POSTGRES_ADMIN_URL


@dataclass
class Setup:
    root: Path
    backend: str  # mysql, postgresql or sqlite
    dbname: str
    mailctl_user: str
    readonly_user: str
    mail: MailConfig
    mailctl: Mailctl = field(init=False)

    def __post_init__(self) -> None:
        root = self.root
        if self.backend == "sqlite":
            url, password_file = f"sqlite:///{root / self.dbname}", None
        else:
            scheme, port = {"mysql": ("mysql+pymysql", 3306), "postgresql": (
                "postgresql+psycopg", 5432)}[self.backend]
            url = f"{scheme}://{self.mailctl_user}@127.0.0.1:{port}/{self.dbname}"
            password_file = str(root / "db.password")
        self.mailctl = Mailctl.create(
            root / "config.toml", url, root, mail=self.mail, sections={
                "database": {"password_file": password_file},
                "setup": {"readonly_user": self.readonly_user},
                "vmail": {"create_maildirs": False},
            },
        )

    @property
    def config(self) -> Path:
        return self.mailctl.config

    def password(self, which: str) -> str:
        name = "db.password" if which == "mailctl" else "mailuser.password"
        return (self.root / name).read_text().strip()

    def __call__(self, *args: str, code: int = 0, input: str | None = None) -> Result:
        return self.mailctl(*args, code=code, input=input)


def _names() -> tuple[str, str, str]:
    tag = secrets.token_hex(4)
    return f"mailctl_t_{tag}", f"mc_t_{tag}", f"mu_t_{tag}"


@pytest.fixture
def maria_setup(tmp_path: Path, mail_config: MailConfig) -> Iterator[Setup]:
    dbname, mc, mu = _names()
    with mariadb_database(dbname, users=(mc, mu), create=False):
        yield Setup(tmp_path, "mysql", dbname, mc, mu, mail_config)


@pytest.fixture
def pg_setup(tmp_path: Path, mail_config: MailConfig) -> Iterator[Setup]:
    dbname, mc, mu = _names()
    with postgres_database(dbname, roles=(mc, mu), create=False):
        yield Setup(tmp_path, "postgresql", dbname, mc, mu, mail_config)


def _maria_as(s: Setup, which: str) -> pymysql.connections.Connection:
    user = s.mailctl_user if which == "mailctl" else s.readonly_user
    return pymysql.connect(
        host="127.0.0.1",
        port=3306,
        user=user,
        password=s.password(which),
        database=s.dbname,
        autocommit=True,
    )


def _denied(conn: pymysql.connections.Connection, sql: str) -> bool:
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    except pymysql.err.MySQLError as exc:
        return exc.args[0] in (1044, 1142, 1143)  # access denied to db / table / column
    return False


# ------------------------------------------------------------------ MariaDB


@pytest.mark.mariadb
def test_mariadb_accounts_have_least_privilege(maria_setup: Setup) -> None:
    s = maria_setup
    out = s("setup", "sql", "--admin-url", MARIA_ADMIN).stdout
    assert "schema: migrated from empty" in out
    assert (
        f"read-only account {s.readonly_user}@127.0.0.1: SELECT on virtual_domains,"
        " virtual_users, virtual_aliases, mailctl_user_policy, mailctl_domain_policy,"
        " mailctl_sender_grants; SELECT/INSERT/UPDATE on mailctl_quota_usage,"
        " mailctl_last_login"
    ) in out
    for name in ("db.password", "mailuser.password"):
        assert stat.S_IMODE((s.root / name).stat().st_mode) == 0o600
    # mailctl works with its own account (the CLI reads database.password_file)
    s("domain", "add", "example.nl")
    reader = _maria_as(s, "read-only")
    with reader, reader.cursor() as cur:
        cur.execute("SELECT name FROM virtual_domains")
        assert cur.fetchall() == (("example.nl",),)
        cur.execute("SELECT COUNT(*) FROM virtual_users")
        cur.execute("SELECT COUNT(*) FROM virtual_aliases")
        assert _denied(reader, "SELECT * FROM mailctl_dkim_keys")
        assert _denied(reader, "INSERT INTO virtual_domains (name) VALUES ('evil.example')")
        assert _denied(reader, "DELETE FROM virtual_aliases")
        # the policy the rendered queries join: read, never written
        for table in ("mailctl_user_policy", "mailctl_domain_policy", "mailctl_sender_grants"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - fixed names
            assert _denied(reader, f"DELETE FROM {table}")  # noqa: S608
        assert _denied(reader, "INSERT INTO mailctl_sender_grants (user_id, address)"
                               " VALUES (1, '@example.nl')")
        assert _denied(reader, "UPDATE mailctl_user_policy SET suspended = 0")
        # what Dovecot's dict does (quota_clone, last_login): an upsert, and nothing more
        cur.execute(
            "INSERT INTO mailctl_last_login (username, last_login) VALUES ('a@example.nl', 1)"
            " ON DUPLICATE KEY UPDATE last_login = 2"
        )
        cur.execute(
            "INSERT INTO mailctl_last_login (username, last_login) VALUES ('a@example.nl', 1)"
            " ON DUPLICATE KEY UPDATE last_login = 2"
        )
        cur.execute(
            "INSERT INTO mailctl_quota_usage (username, bytes) VALUES ('a@example.nl', 5)"
            " ON DUPLICATE KEY UPDATE bytes = 5"
        )
        cur.execute("SELECT last_login FROM mailctl_last_login")
        assert cur.fetchall() == ((2,),)
        assert _denied(reader, "DELETE FROM mailctl_last_login")
        assert _denied(reader, "DELETE FROM mailctl_quota_usage")
        assert _denied(reader, "DROP TABLE mailctl_quota_usage")
        assert _denied(reader, "UPDATE virtual_users SET password = 'x'")
    writer = _maria_as(s, "mailctl")
    with writer, writer.cursor() as cur:
        cur.execute("CREATE TABLE mailctl_probe (id INT PRIMARY KEY)")
        cur.execute("CREATE INDEX ix_probe ON mailctl_probe (id)")
        cur.execute("ALTER TABLE mailctl_probe ADD COLUMN x INT")
        cur.execute("DROP TABLE mailctl_probe")
        assert _denied(writer, "CREATE DATABASE mailctl_other_probe")
        assert _denied(writer, "SELECT * FROM mysql.user")


@pytest.mark.mariadb
def test_mariadb_rerun_keeps_passwords_resets_grants_and_rotates(maria_setup: Setup) -> None:
    s = maria_setup
    s("setup", "sql", "--admin-url", MARIA_ADMIN)
    first = (s.password("mailctl"), s.password("read-only"))
    admin = mariadb_admin()
    with admin, admin.cursor() as cur:
        cur.execute(f"GRANT INSERT ON `{s.dbname}`.* TO '{s.readonly_user}'@'127.0.0.1'")
    again = s("setup", "sql", "--admin-url", MARIA_ADMIN).stdout
    assert "password kept" in again
    assert (s.password("mailctl"), s.password("read-only")) == first
    reader = _maria_as(s, "read-only")
    with reader:
        assert _denied(reader, "INSERT INTO virtual_domains (name) VALUES ('evil.example')")
    rotated = s("setup", "sql", "--admin-url", MARIA_ADMIN, "--rotate")
    assert "password rotated" in rotated.stdout
    assert "mailctl setup render" in rotated.stderr
    assert s.password("mailctl") != first[0] and s.password("read-only") != first[1]
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host="127.0.0.1", port=3306, user=s.readonly_user, password=first[1])
    _maria_as(s, "read-only").close()
    _maria_as(s, "mailctl").close()


@pytest.mark.mariadb
def test_print_shows_masked_sql_and_touches_nothing(maria_setup: Setup) -> None:
    s = maria_setup
    out = s("setup", "sql", "--print", "--admin-url", "mysql+pymysql://root@192.0.2.1:1/").stdout
    assert f"CREATE USER IF NOT EXISTS '{s.mailctl_user}'@'127.0.0.1' IDENTIFIED BY" in out
    assert "'********'" in out
    assert not (s.root / "db.password").exists()
    admin = mariadb_admin()
    with admin, admin.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM mysql.user WHERE user = %s", (s.mailctl_user,))
        assert cur.fetchone() == (0,)
    s("--dry-run", "setup", "sql")  # --dry-run prints the same, runs nothing
    assert not (s.root / "db.password").exists()


@pytest.mark.mariadb
def test_admin_password_never_on_argv(maria_setup: Setup) -> None:
    result = maria_setup(
        "setup", "sql", "--admin-url", "mysql+pymysql://root:secret@127.0.0.1/", code=2
    )
    assert "must not contain a password" in result.stderr


@pytest.mark.mariadb
def test_rendered_mysql_maps_answer_as_the_read_only_account(maria_setup: Setup) -> None:
    s = maria_setup
    s("setup", "sql", "--admin-url", MARIA_ADMIN)
    s("domain", "add", "example.nl")
    out = s("setup", "render", "--dovecot-version", "2.3", "--catchall-fix").stdout
    maps = s.root / "postfix"
    query = s.mail.postmap_query
    assert f"virtual_mailbox_domains = mysql:{maps}/mysql-virtual-mailbox-domains.cf" in out
    domains = f"mysql:{maps}/mysql-virtual-mailbox-domains.cf"
    assert query("example.nl", domains) == "1"
    assert query("example.org", domains) is None
    aliases = f"mysql:{maps}/mysql-virtual-alias-maps.cf"
    assert query("postmaster@example.nl", aliases) == "admin@example.nl"
    text = (maps / "mysql-virtual-alias-maps.cf").read_text()
    assert f"user = {s.readonly_user}\npassword = {s.password('read-only')}\n" in text
    dovecot = s.root / "dovecot"
    written = [dovecot / "dovecot-sql.conf.ext", dovecot / "dovecot-dict-sql.conf.ext",
               dovecot / "conf.d" / "90-mailctl-policy.conf"]
    for path in [*maps.iterdir(), *written]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path
    # the lines the administrator adds: the quota check at RCPT, and Dovecot's includes
    assert "\ncheck_policy_service inet:127.0.0.1:12340\n" in out
    assert f"# Dovecot 2.3: userdb {{ driver = sql  args = {written[0]} }}" in out
    assert f"# Dovecot 2.3: !include {written[2]}" in out
    # a second run changes nothing
    assert "unchanged" in s("setup", "render", "--dovecot-version", "2.3").stdout
    # --dry-run shows what would change, with the password masked
    (maps / "mysql-virtual-mailbox-maps.cf").write_text("old\n")
    diff = s("setup", "render", "--dovecot-version", "2.4", "--dry-run").stdout
    assert "+query = SELECT 1 FROM virtual_users u LEFT JOIN mailctl_user_policy" in diff
    assert "+  query = SELECT u.email AS user, u.password FROM virtual_users u" in diff
    assert "+userdb sql {" in diff and "+dict_server {" in diff
    assert s.password("read-only") not in diff and "********" in diff
    assert (maps / "mysql-virtual-mailbox-maps.cf").read_text() == "old\n"


@pytest.mark.mariadb
def test_render_before_setup_sql_says_what_to_do(maria_setup: Setup) -> None:
    result = maria_setup("setup", "render", "--dovecot-version", "2.3", code=1)
    assert "run 'mailctl setup sql' first" in result.stderr


# ------------------------------------------------------------------ PostgreSQL


@pytest.mark.postgres
def test_postgres_accounts_have_least_privilege(pg_setup: Setup) -> None:
    import psycopg

    s = pg_setup
    out = s("setup", "sql", "--admin-url", PG_ADMIN).stdout
    assert f"created database {s.dbname}" in out
    assert "schema: migrated from empty" in out
    s("domain", "add", "example.nl")
    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=s.dbname) as conn:

        def can(role: str, table: str, privilege: str) -> bool:
            row = conn.execute(
                "SELECT has_table_privilege(%s, %s, %s)", (role, table, privilege)
            ).fetchone()
            assert row is not None
            return bool(row[0])

        for table in ("virtual_domains", "virtual_users", "virtual_aliases",
                      "mailctl_user_policy", "mailctl_domain_policy", "mailctl_sender_grants"):
            assert can(s.readonly_user, table, "SELECT")
            for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                assert not can(s.readonly_user, table, privilege), (table, privilege)
        for table in ("mailctl_quota_usage", "mailctl_last_login"):
            for privilege in ("SELECT", "INSERT", "UPDATE"):
                assert can(s.readonly_user, table, privilege), (table, privilege)
            for privilege in ("DELETE", "TRUNCATE"):
                assert not can(s.readonly_user, table, privilege), (table, privilege)
        assert not can(s.readonly_user, "mailctl_dkim_keys", "SELECT")
        assert not can(s.readonly_user, "mailctl_dkim_keys", "INSERT")
        owners = dict(
            conn.execute(
                "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        )
        assert set(owners.values()) == {s.mailctl_user}, owners
    # Dovecot's pgsql dict writes with an upsert: the read-only role can run it
    with psycopg.connect(
        host="127.0.0.1", port=5432, user=s.readonly_user, password=s.password("read-only"),
        dbname=s.dbname, autocommit=True,
    ) as reader:
        for stamp in (1, 2):
            reader.execute(
                "INSERT INTO mailctl_last_login (username, last_login) VALUES ('a@example.nl',"
                " %s) ON CONFLICT (username) DO UPDATE SET last_login = EXCLUDED.last_login",
                (stamp,),
            )
        assert reader.execute("SELECT last_login FROM mailctl_last_login").fetchall() == [(2,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("DELETE FROM mailctl_last_login")
    # the rendered pgsql: maps, read by Postfix's own client
    s("setup", "render", "--dovecot-version", "2.4")
    maps = s.root / "postfix"
    query = s.mail.postmap_query
    assert query("example.nl", f"pgsql:{maps}/pgsql-virtual-mailbox-domains.cf") == "1"
    assert query("abuse@example.nl", f"pgsql:{maps}/pgsql-virtual-alias-maps.cf") == (
        "admin@example.nl"
    )
    assert "sql_driver = pgsql" in (s.root / "dovecot" / "dovecot-sql.conf.ext").read_text()


@pytest.mark.postgres
def test_postgres_adopts_tables_an_admin_created(pg_setup: Setup) -> None:
    """The guide's tables made by hand (owned by postgres) become mailctl's, so its
    migrations can alter them; a re-run changes nothing."""
    import psycopg

    s = pg_setup
    with psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE DATABASE \"{s.dbname}\" ENCODING 'UTF8' TEMPLATE template0")
    with psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname=s.dbname, autocommit=True
    ) as conn:
        conn.execute(
            "CREATE TABLE virtual_domains (id SERIAL PRIMARY KEY,"
            " name VARCHAR(255) NOT NULL UNIQUE)"
        )
        conn.execute(
            "CREATE TABLE virtual_users (id SERIAL PRIMARY KEY, domain_id INT NOT NULL"
            " REFERENCES virtual_domains(id) ON DELETE CASCADE,"
            " email VARCHAR(255) NOT NULL UNIQUE, password VARCHAR(255) NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE virtual_aliases (id SERIAL PRIMARY KEY, domain_id INT NOT NULL"
            " REFERENCES virtual_domains(id) ON DELETE CASCADE,"
            " source VARCHAR(255) NOT NULL, destination TEXT NOT NULL)"
        )
    out = s("setup", "sql", "--admin-url", PG_ADMIN).stdout
    assert "schema: adopted" in out
    again = s("setup", "sql", "--admin-url", PG_ADMIN).stdout
    assert "schema: current" in again and "password kept" in again


# ------------------------------------------------------------------ all or nothing


def _maria_grants(s: Setup) -> dict[str, list[str]]:
    admin = mariadb_admin()
    with admin, admin.cursor() as cur:
        grants = {}
        for user in (s.mailctl_user, s.readonly_user):
            cur.execute(f"SHOW GRANTS FOR '{user}'@'127.0.0.1'")
            grants[user] = sorted(row[0] for row in cur.fetchall())
        return grants


def _password_files(s: Setup) -> dict[str, str]:
    return {name: (s.root / name).read_text() for name in ("db.password", "mailuser.password")}


@pytest.mark.mariadb
def test_admin_without_grant_option_is_refused_before_anything_changes(
    maria_setup: Setup,
) -> None:
    """An admin with ALL PRIVILEGES but no GRANT OPTION used to revoke mailctl's
    rights and then fail to grant them back."""
    s = maria_setup
    s("setup", "sql", "--admin-url", MARIA_ADMIN)
    grants, passwords = _maria_grants(s), _password_files(s)
    weak, secret = f"adm_t_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    admin = mariadb_admin()
    with admin, admin.cursor() as cur:
        cur.execute(f"CREATE USER '{weak}'@'127.0.0.1' IDENTIFIED BY '{secret}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{weak}'@'127.0.0.1'")
        try:
            password_file = s.root / "weak.password"
            password_file.write_text(secret + "\n")
            password_file.chmod(0o600)
            result = s(
                "setup", "sql", "--rotate", "--admin-url",
                f"mysql+pymysql://{weak}@127.0.0.1:3306/",
                "--admin-password-file", str(password_file), code=1,
            )
        finally:
            cur.execute(f"DROP USER '{weak}'@'127.0.0.1'")
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"admin account {weak}@127.0.0.1 lacks" in result.stderr
    assert "WITH GRANT OPTION" in result.stderr and "nothing was changed" in result.stderr
    assert _maria_grants(s) == grants
    assert _password_files(s) == passwords  # --rotate did not get as far as the files
    _maria_as(s, "mailctl").close()


@pytest.mark.mariadb
def test_a_grant_failing_halfway_restores_the_previous_grants(
    maria_setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailctl.setup import accounts
    from mailctl.setup.sqlscript import Statement, mariadb_mailctl_grants

    s = maria_setup
    s("setup", "sql", "--admin-url", MARIA_ADMIN)
    grants = _maria_grants(s)

    def failing(target: object) -> list[Statement]:
        # the REVOKE runs, then a GRANT the server refuses
        first, *_ = mariadb_mailctl_grants(target)  # type: ignore[arg-type]
        return [first, Statement.plain(f"GRANT SELECT ON nodb_{s.dbname}.nope TO x@y")]

    monkeypatch.setattr(accounts, "mariadb_mailctl_grants", failing)
    result = s("setup", "sql", "--admin-url", MARIA_ADMIN, code=1)
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"the mailctl account {s.mailctl_user} keeps the privileges it had" in result.stderr
    assert _maria_grants(s) == grants
    writer = _maria_as(s, "mailctl")
    with writer, writer.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM virtual_domains")


@pytest.mark.postgres
def test_postgres_admin_without_createrole_is_refused(pg_setup: Setup) -> None:
    import psycopg

    s = pg_setup
    weak = f"adm_t_{secrets.token_hex(4)}"
    with psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE ROLE "{weak}" LOGIN CREATEDB')
        try:
            result = s(
                "setup", "sql", "--admin-url",
                f"postgresql+psycopg://{weak}@127.0.0.1:5432/postgres", code=1,
            )
            exists = conn.execute(
                "SELECT COUNT(*) FROM pg_roles WHERE rolname IN (%s, %s)",
                (s.mailctl_user, s.readonly_user),
            ).fetchone()
        finally:
            conn.execute(f'DROP ROLE "{weak}"')
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"admin role {weak} lacks CREATEROLE" in result.stderr
    assert exists == (0,)
    assert not (s.root / "db.password").exists()


@pytest.mark.postgres
def test_postgres_grants_roll_back_together(
    pg_setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    from mailctl.setup import accounts
    from mailctl.setup.sqlscript import Statement, postgres_mailctl_grants

    s = pg_setup

    def failing(target: object) -> list[Statement]:
        return [
            *postgres_mailctl_grants(target),  # type: ignore[arg-type]
            Statement.plain("GRANT SELECT ON no_such_table TO postgres"),
        ]

    monkeypatch.setattr(accounts, "postgres_mailctl_grants", failing)
    result = s("setup", "sql", "--admin-url", PG_ADMIN, code=1)
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"rolled back: the mailctl account {s.mailctl_user} is as it was" in result.stderr
    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=s.dbname) as conn:
        role = conn.execute(
            "SELECT COUNT(*) FROM pg_roles WHERE rolname = %s", (s.mailctl_user,)
        ).fetchone()
        connect = conn.execute(
            "SELECT COUNT(*) FROM pg_roles r WHERE r.rolname = %s"
            " AND has_database_privilege(r.rolname, %s, 'CONNECT')"
            " AND has_schema_privilege(r.rolname, 'public', 'CREATE')",
            (s.mailctl_user, s.dbname),
        ).fetchone()
    assert role == (0,) and connect == (0,)  # the role made in the transaction is gone too


# ------------------------------------------------------------------ SQLite


def test_sqlite_maps_are_read_by_postfix(tmp_path: Path, mail_config: MailConfig) -> None:
    db = tmp_path / "mail.sqlite3"
    s = Setup(tmp_path, "sqlite", db.name, "unused", "mailuser", mail_config)
    s("db", "upgrade")
    s("domain", "add", "example.nl")
    result = s("setup", "sql", code=1)
    assert "SQLite has no SQL accounts" in result.stderr
    s("setup", "render", "--dovecot-version", "2.3")
    maps = tmp_path / "postfix"
    query = s.mail.postmap_query
    assert query("example.nl", f"sqlite:{maps}/sqlite-virtual-mailbox-domains.cf") == "1"
    assert query("abuse@example.nl", f"sqlite:{maps}/sqlite-virtual-alias-maps.cf") == (
        "admin@example.nl"
    )
    dovecot = (tmp_path / "dovecot" / "dovecot-sql.conf.ext").read_text()
    assert f"driver = sqlite\nconnect = {db}\n" in dovecot


@pytest.mark.mariadb
def test_doctor_reads_the_rendered_maps_through_postfix(maria_setup: Setup) -> None:
    import json

    s = maria_setup
    s("setup", "sql", "--admin-url", MARIA_ADMIN)
    s("domain", "add", "example.nl")
    add_admin_mailbox(s)
    s("alias", "add", "info@example.nl", "someone@example.org")
    s("setup", "render", "--dovecot-version", "2.3")
    rows = {r["check"]: r for r in json.loads(s("doctor", "-f", "json").stdout)}
    assert rows["postfix map virtual-mailbox-domains"]["detail"] == "postmap -q example.nl -> 1"
    assert rows["postfix map virtual-alias-maps"]["status"] == "OK"
    # A map that no longer reaches the database is named.
    alias_map = s.root / "postfix" / "mysql-virtual-alias-maps.cf"
    alias_map.write_text(alias_map.read_text().replace(s.dbname, s.dbname + "_gone"))
    out = s("doctor", "-f", "json", code=1)
    rows = {r["check"]: r for r in json.loads(out.stdout)}
    assert rows["postfix map virtual-alias-maps"]["status"] == "FAIL"


# ------------------------------------------------------------------ the account policy
# Rows as `mailctl user suspend`, `user set`, `sender add` and `domain set` would leave
# them, written by SQL here so that these tests hold the rendered queries to the
# schema alone (a user or domain without a row has the defaults).

PASSWORD = "a long enough password"
USERS = (
    "alice@example.nl",  # no policy row: everything allowed, no quota
    "suspended@example.nl",
    "noimap@example.nl",
    "nosmtp@example.nl",
    "norecv@example.nl",
    "quota@example.nl",  # quota of its own
    "tiny@example.nl",  # a quota smaller than any message
    "bob@example.org",  # explicitly unlimited in a domain with a default quota
    "dora@example.org",  # the domain's default quota
    "carol@example.com",  # in a suspended domain
)


def _user_policy(email: str, **columns: object) -> list[str]:
    names = ", ".join(columns)
    values = ", ".join(repr(v) for v in columns.values())
    return [
        "DELETE FROM mailctl_user_policy WHERE user_id ="  # noqa: S608 - test constants
        f" (SELECT id FROM virtual_users WHERE email = '{email}')",
        f"INSERT INTO mailctl_user_policy (user_id, {names})"  # noqa: S608
        f" SELECT id, {values} FROM virtual_users WHERE email = '{email}'",
    ]


def _domain_policy(name: str, **columns: object) -> list[str]:
    names = ", ".join(columns)
    values = ", ".join(repr(v) for v in columns.values())
    return [
        "DELETE FROM mailctl_domain_policy WHERE domain_id ="  # noqa: S608
        f" (SELECT id FROM virtual_domains WHERE name = '{name}')",
        f"INSERT INTO mailctl_domain_policy (domain_id, {names})"  # noqa: S608
        f" SELECT id, {values} FROM virtual_domains WHERE name = '{name}'",
    ]


def _grant(email: str, address: str) -> str:
    return (
        "INSERT INTO mailctl_sender_grants (user_id, address)"  # noqa: S608
        f" SELECT id, '{address}' FROM virtual_users WHERE email = '{email}'"
    )


POLICY = [
    *_user_policy("suspended@example.nl", suspended=1, suspend_reason="unpaid"),
    *_user_policy("noimap@example.nl", imap=0),
    *_user_policy("nosmtp@example.nl", smtp=0),
    *_user_policy("norecv@example.nl", receive=0),
    *_user_policy("quota@example.nl", quota_bytes=1048576),
    *_user_policy("tiny@example.nl", quota_bytes=100),
    *_user_policy("bob@example.org", quota_bytes=0),
    *_domain_policy("example.org", receive=0, default_quota_bytes=2097152),
    *_domain_policy("example.com", suspended=1, suspend_reason="abuse"),
    _grant("alice@example.nl", "info@example.nl"),
    _grant("alice@example.nl", "@example.org"),
]


def _run_sql(s: Setup, statements: list[str]) -> None:
    """Statements as the database's admin (root, postgres) or on the SQLite file."""
    if s.backend == "mysql":
        conn = mariadb_admin(database=s.dbname)
        with conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    elif s.backend == "postgresql":
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname=s.dbname, autocommit=True
        ) as pg:
            for sql in statements:
                pg.execute(sql)
    else:
        import sqlite3

        lite = sqlite3.connect(s.root / s.dbname)
        with lite:
            for sql in statements:
                lite.execute(sql)
        lite.close()


def _seed(s: Setup) -> None:
    s("domain", "add", "example.nl", "example.org", "example.com")
    for email in USERS:
        s("user", "add", email, "--password-stdin", input=PASSWORD + "\n")
    _run_sql(s, POLICY)


@pytest.fixture(
    params=[
        pytest.param("mysql", marks=pytest.mark.mariadb, id="mariadb"),
        pytest.param("postgresql", marks=pytest.mark.postgres, id="postgres"),
        pytest.param("sqlite", id="sqlite"),
    ]
)
def policy_setup(request: pytest.FixtureRequest, tmp_path: Path, mail_config: MailConfig) -> Setup:
    """Accounts (setup sql), schema, and the policy rows, on each backend."""
    backend = request.param
    if backend == "mysql":
        s: Setup = request.getfixturevalue("maria_setup")
        s("setup", "sql", "--admin-url", MARIA_ADMIN)
    elif backend == "postgresql":
        s = request.getfixturevalue("pg_setup")
        s("setup", "sql", "--admin-url", PG_ADMIN)
    else:
        s = Setup(tmp_path, "sqlite", "mail.sqlite3", "unused", "mailuser", mail_config)
        s("db", "upgrade")
    _seed(s)
    return s


def test_rendered_postfix_maps_enforce_the_policy(policy_setup: Setup) -> None:
    """Postfix's own mysql:/pgsql:/sqlite: client, on the maps `setup render` wrote,
    reading as the read-only account."""
    s = policy_setup
    s("setup", "render", "--dovecot-version", "2.3", "--catchall-fix")
    kind = {"mysql": "mysql", "postgresql": "pgsql", "sqlite": "sqlite"}[s.backend]
    maps = s.root / "postfix"

    def query(key: str, stem: str) -> str | None:
        return s.mail.postmap_query(key, f"{kind}:{maps}/{kind}-{stem}.cf")

    def logins(key: str) -> set[str]:
        found = query(key, "sender-login-maps")
        return set(found.split(",")) if found else set()

    # virtual_mailbox_maps: receive off (user or domain) is no mailbox, so RCPT gets 550;
    # suspension and the service flags do not stop mail coming in.
    for email in ("alice@example.nl", "suspended@example.nl", "noimap@example.nl",
                  "quota@example.nl", "carol@example.com"):
        assert query(email, "virtual-mailbox-maps") == "1", email
    for email in ("norecv@example.nl", "bob@example.org", "dora@example.org",
                  "nobody@example.nl"):
        assert query(email, "virtual-mailbox-maps") is None, email
    # the catch-all fix must not let a non-receiving mailbox in either
    assert query("alice@example.nl", "virtual-email2email") == "alice@example.nl"
    assert query("norecv@example.nl", "virtual-email2email") is None
    assert query("dora@example.org", "virtual-email2email") is None
    # a domain that does not receive has no aliases; the others keep theirs
    assert query("postmaster@example.nl", "virtual-alias-maps") == "admin@example.nl"
    assert query("postmaster@example.org", "virtual-alias-maps") is None
    # smtpd_sender_login_maps: the owner, plus grants of the address or its @domain
    assert logins("alice@example.nl") == {"alice@example.nl"}
    assert logins("info@example.nl") == {"alice@example.nl"}  # explicit grant
    assert logins("bob@example.org") == {"bob@example.org", "alice@example.nl"}  # @domain
    assert logins("someone@example.org") == {"alice@example.nl"}
    assert logins("@example.org") == {"alice@example.nl"}  # Postfix's second lookup
    assert logins("noimap@example.nl") == {"noimap@example.nl"}
    assert logins("someone@example.net") == set()
    if s.backend != "sqlite":
        text = (maps / f"{kind}-virtual-mailbox-maps.cf").read_text()
        assert f"user = {s.readonly_user}\n" in text


# ------------------------------------------------------------------ Dovecot reads it


def _policy_request(port: int, recipient: str, size: int) -> str:
    """One Postfix policy delegation request, as check_policy_service sends it at RCPT."""
    with socket.create_connection(("127.0.0.1", port), 10) as conn:
        conn.sendall(
            "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
            f"sender=someone@example.net\nrecipient={recipient}\nsize={size}\n\n".encode()
        )
        answer = b""
        while not answer.endswith(b"\n\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode().strip().removeprefix("action=")


def _errors(log: Path) -> list[str]:
    """Dovecot's error lines, less a slow start of its own stats process (a cold
    machine can take over 5 s to answer a new process's stats handshake)."""
    lines = log.read_text(errors="replace").splitlines()
    return [line for line in lines if "rror" in line and "stats-writer" not in line]


def _storage_limit(done: subprocess.CompletedProcess[str]) -> str:
    """The STORAGE limit `doveadm quota get` prints (KiB; '-' for none)."""
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if " STORAGE " in line)
    return row.split()[-2]


@dataclass
class Running:
    """A Setup whose rendered files a private Dovecot serves, and its two ports."""

    setup: Setup
    dovecot: PrivateDovecot
    imap_port: int
    quota_port: int


@pytest.fixture
def dovecot23(maria_setup: Setup) -> Iterator[Running]:
    """A private Dovecot 2.3 on what `setup render --dovecot-version 2.3` wrote, as
    dovecot.conf would include it, with the policy rows of POLICY in MariaDB."""
    s = maria_setup
    with private_run_dir("mailctl-dovecot-") as root:
        vmail = root / "vmail"
        vmail.mkdir()
        os.chown(vmail, NOBODY, NOBODY)  # the mail processes run as nobody here
        imap_port, quota_port = free_port(), free_port()
        files = root / "dovecot"
        s.mailctl.reconfigure(
            vmail={"uid": NOBODY, "gid": NOBODY, "home": str(vmail)},
            setup={
                "dovecot_sql_conf": str(files / "dovecot-sql.conf.ext"),
                "dovecot_dict_conf": str(files / "dovecot-dict-sql.conf.ext"),
                "dovecot_policy_conf": str(files / "90-mailctl-policy.conf"),
                "quota_status_port": quota_port,
            },
        )
        s("setup", "sql", "--admin-url", MARIA_ADMIN)
        _seed(s)
        out = s("setup", "render", "--dovecot-version", "2.3").stdout
        assert f"check_policy_service inet:127.0.0.1:{quota_port}" in out
        conf = root / "dovecot.conf"
        conf.write_text(
            f"""\
# The guide's section 6 with what setup render printed; private paths and ports.
instance_name = mailctl-t-{root.name[-8:]}
base_dir = {root / "run"}
state_dir = {root / "state"}
log_path = {root / "dovecot.log"}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:%{{home}}
namespace inbox {{
  inbox = yes
}}
passdb {{
  driver = sql
  args = {files / "dovecot-sql.conf.ext"}
}}
userdb {{
  driver = sql
  args = {files / "dovecot-sql.conf.ext"}
}}
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
!include {files / "90-mailctl-policy.conf"}
"""
        )
        dovecot = PrivateDovecot(root, conf)
        try:
            yield Running(s, dovecot, imap_port, quota_port)
        finally:
            dovecot.stop()


NOBODY = 65534


@pytest.mark.mariadb
def test_dovecot_23_parses_and_enforces_the_policy(dovecot23: Running) -> None:
    s, dovecot = dovecot23.setup, dovecot23.dovecot
    parsed = subprocess.run(  # noqa: S603 - argv list
        [program("doveconf"), "-n", "-c", str(dovecot.conf)],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert parsed.returncode == 0, parsed.stderr
    assert "quota = count:User quota" in parsed.stdout
    assert "user = nobody" in parsed.stdout  # the dict socket: the mail processes' user only
    dovecot.start()

    # passdb: suspension (user, domain) and the per-service flags; smtp is Postfix's SASL
    def auth(user: str, service: str) -> bool:
        return dovecot.auth_ok(user, PASSWORD, service)

    assert auth("alice@example.nl", "imap") and auth("alice@example.nl", "smtp")
    assert not dovecot.auth_ok("alice@example.nl", "wrong password", "imap")
    for service in ("imap", "pop3", "smtp"):
        assert not auth("suspended@example.nl", service), service
        assert not auth("carol@example.com", service), service  # suspended domain
    assert not auth("noimap@example.nl", "imap")
    assert auth("noimap@example.nl", "pop3") and auth("noimap@example.nl", "smtp")
    assert not auth("nosmtp@example.nl", "smtp") and not auth("nosmtp@example.nl", "submission")
    assert auth("nosmtp@example.nl", "imap")

    # userdb: the guide's uid/gid/home, the effective quota; suspended users still
    # resolve, so LMTP keeps delivering to them
    home = s.mailctl.sections["vmail"]["home"]
    alice = dovecot.user_fields("alice@example.nl")
    assert alice is not None
    assert (alice["uid"], alice["gid"]) == (str(NOBODY), str(NOBODY))
    assert alice["home"] == f"{home}/example.nl/alice"
    assert "quota_rule" not in alice  # no quota anywhere: unlimited
    quota = dovecot.user_fields("quota@example.nl")
    assert quota is not None and quota["quota_rule"] == "*:bytes=1048576"
    dora = dovecot.user_fields("dora@example.org")
    assert dora is not None and dora["quota_rule"] == "*:bytes=2097152"  # domain default
    bob = dovecot.user_fields("bob@example.org")
    assert bob is not None and "quota_rule" not in bob  # 0: unlimited despite the default
    assert dovecot.user_fields("suspended@example.nl") is not None
    assert dovecot.user_fields("carol@example.com") is not None
    assert dovecot.user_fields("nobody@example.nl") is None
    # and the quota plugin reads the limit in bytes (doveadm shows KiB)
    assert _storage_limit(dovecot.doveadm("quota", "get", "-u", "quota@example.nl")) == "1024"
    assert _storage_limit(dovecot.doveadm("quota", "get", "-u", "alice@example.nl")) == "-"

    # quota-status, as Postfix's check_policy_service asks it at RCPT
    port = dovecot23.quota_port
    wait_for(lambda: listening(port), "quota-status")
    assert _policy_request(port, "quota@example.nl", 1000) == "DUNNO"
    assert _policy_request(port, "tiny@example.nl", 5000).startswith("554 5.2.2 Quota exceeded")
    assert _policy_request(port, "postmaster@example.nl", 5000) == "DUNNO"  # an alias
    assert _policy_request(port, "someone@example.net", 5000) == "DUNNO"

    # last_login and quota_clone write through the SQL dict as the read-only account
    client = imaplib.IMAP4("127.0.0.1", dovecot23.imap_port)
    client.login("alice@example.nl", PASSWORD)
    message = b"From: a@example.net\r\nSubject: quota\r\n\r\n" + b"x" * 2000 + b"\r\n"
    client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), message)
    client.logout()
    conn = mariadb_admin(database=s.dbname)
    with conn, conn.cursor() as cur:

        def row(sql: str) -> tuple[int, ...] | None:
            cur.execute(sql)
            found: tuple[int, ...] | None = cur.fetchone()
            return found

        last = wait_for(lambda: row(
            "SELECT last_login FROM mailctl_last_login WHERE username = 'alice@example.nl'"
        ), "last_login's row")
        assert abs(last[0] - time.time()) < 60
        usage = wait_for(lambda: row(
            "SELECT bytes, messages FROM mailctl_quota_usage"
            " WHERE username = 'alice@example.nl'"
        ), "quota_clone's row")
        assert usage[1] == 1 and usage[0] >= len(message)
    assert not _errors(dovecot.log)


def _chroot(root: Path, *argv: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`chroot ROOT ARGV`; with `log`, output goes there (a daemon keeps stderr open)."""
    if log is None:
        return subprocess.run(  # noqa: S603 - argv list
            ["/usr/sbin/chroot", str(root), *argv],
            capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        )
    with log.open("w") as out:
        return subprocess.run(  # noqa: S603 - argv list
            ["/usr/sbin/chroot", str(root), *argv],
            stdout=out, stderr=subprocess.STDOUT, text=True, timeout=60, check=False,
            stdin=subprocess.DEVNULL,
        )


@pytest.mark.mariadb
def test_dovecot_24_parses_and_enforces_the_policy(maria_setup: Setup) -> None:
    """The 2.4 output read by Dovecot 2.4.1 (Debian trixie, in the chroot scripts/test
    builds; FACTS.md): doveconf parses it, and its passdb and userdb answer from MariaDB."""
    chroot = DOVECOT24_ROOT
    need(os.geteuid() == 0, "chroot needs root")
    need((chroot / "usr/sbin/dovecot").exists(), f"no Dovecot 2.4 chroot at {chroot}")
    s = maria_setup
    inside = Path(tempfile.mkdtemp(prefix="mailctl-t-", dir=chroot / "tmp"))
    os.chmod(inside, 0o755)  # noqa: S103 - Dovecot's unprivileged processes walk it
    here = Path("/") / inside.relative_to(chroot)  # the same directory, seen from inside
    quota_port = free_port()
    try:
        (inside / "vmail").mkdir()
        os.chown(inside / "vmail", NOBODY, NOBODY)
        vmail = {"uid": NOBODY, "gid": NOBODY, "home": str(here / "vmail")}
        s.mailctl.reconfigure(vmail=vmail, setup={
            "dovecot_sql_conf": str(inside / "dovecot-sql.conf.ext"),
            "dovecot_dict_conf": str(inside / "dovecot-dict-sql.conf.ext"),
            "dovecot_policy_conf": str(inside / "90-mailctl-policy.conf"),
            "quota_status_port": quota_port,
        })
        s("setup", "sql", "--admin-url", MARIA_ADMIN)
        _seed(s)
        out = s("setup", "render", "--dovecot-version", "2.4").stdout
        assert f"# Dovecot 2.4: !include {inside / 'dovecot-sql.conf.ext'}" in out
        assert not (inside / "dovecot-dict-sql.conf.ext").exists()  # 2.4: in the SQL fragment
        (inside / "dovecot.conf").write_text(
            f"""\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
instance_name = mailctl-t24-{inside.name[-8:]}
base_dir = {here / "run"}
state_dir = {here / "state"}
log_path = {here / "dovecot.log"}
protocols = imap
listen = 127.0.0.1
ssl = no
auth_allow_cleartext = yes
auth_failure_delay = 0
mail_driver = maildir
mail_path = ~/Maildir
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
!include {here / "dovecot-sql.conf.ext"}
!include {here / "90-mailctl-policy.conf"}
"""
        )
        conf = str(here / "dovecot.conf")
        parsed = _chroot(chroot, "doveconf", "-n", "-c", conf)
        assert parsed.returncode == 0, parsed.stderr
        assert 'quota "User quota"' in parsed.stdout
        assert "dict_map priv/quota/storage {" in parsed.stdout
        assert "AND CASE '%{protocol}' WHEN 'imap'" in parsed.stdout
        started = _chroot(chroot, "dovecot", "-c", conf, log=inside / "dovecot.out")
        assert started.returncode == 0, (inside / "dovecot.out").read_text()
        try:
            wait_for(lambda: (inside / "run" / "auth-userdb").exists(), "dovecot 2.4 auth")

            def auth(user: str, service: str) -> bool:
                done = _chroot(chroot, "doveadm", "-c", conf, "auth", "test", "-x",
                               f"service={service}", user, PASSWORD)
                assert done.returncode in (0, 77), done.stderr
                return done.returncode == 0

            assert auth("alice@example.nl", "imap")
            assert not auth("suspended@example.nl", "imap")
            assert not auth("carol@example.com", "pop3")
            assert not auth("noimap@example.nl", "imap") and auth("noimap@example.nl", "pop3")
            assert not auth("nosmtp@example.nl", "smtp")

            def user(name: str) -> str:
                done = _chroot(chroot, "doveadm", "-c", conf, "user", name)
                assert done.returncode == 0, done.stderr
                return done.stdout

            assert "quota_storage_size\t1048576" in user("quota@example.nl")
            assert "quota_storage_size\t2097152" in user("dora@example.org")
            assert "quota_storage_size" not in user("bob@example.org")
            assert f"home\t{here}/vmail/example.nl/alice" in user("alice@example.nl")
            for name, limit in (("quota@example.nl", "1024"), ("alice@example.nl", "-")):
                got = _chroot(chroot, "doveadm", "-c", conf, "quota", "get", "-u", name)
                assert _storage_limit(got) == limit, name
            wait_for(lambda: listening(quota_port), "quota-status 2.4")
            assert _policy_request(quota_port, "postmaster@example.nl", 10) == "DUNNO"
        finally:
            pid_file = inside / "run" / "master.pid"
            if pid_file.exists():
                pid = int(pid_file.read_text().split()[0])
                os.kill(pid, 15)
                wait_for(lambda: not running(pid), "dovecot 2.4 to stop")
        assert not _errors(inside / "dovecot.log")
    finally:
        shutil.rmtree(inside, ignore_errors=True)


def test_dovecot_queries_answer_on_every_backend(policy_setup: Setup) -> None:
    """The passdb and userdb queries, with Dovecot's variables filled in, on MariaDB,
    PostgreSQL and SQLite as the read-only account (Dovecot itself reads MariaDB above):
    the CASE, COALESCE and the backend's own concatenation all run."""
    from mailctl.setup.sqlmaps import Vmail, password_query, user_query

    s = policy_setup
    kind = {"mysql": "mysql", "postgresql": "pgsql", "sqlite": "sqlite"}[s.backend]

    def rows(sql: str) -> list[tuple[object, ...]]:
        if s.backend == "mysql":
            conn = _maria_as(s, "read-only")
            with conn, conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        if s.backend == "postgresql":
            import psycopg

            with psycopg.connect(
                host="127.0.0.1", port=5432, user=s.readonly_user,
                password=s.password("read-only"), dbname=s.dbname,
            ) as pg:
                return [tuple(r) for r in pg.execute(sql).fetchall()]
        import sqlite3

        lite = sqlite3.connect(f"file:{s.root / s.dbname}?mode=ro", uri=True)
        try:
            return list(lite.execute(sql).fetchall())
        finally:
            lite.close()

    def login(user: str, service: str) -> bool:
        sql = password_query("2.3").replace("%u", user).replace("%s", service)
        found = rows(sql)
        assert len(found) <= 1
        return bool(found) and found[0][0] == user and str(found[0][1]).startswith("{")

    def userdb(user: str) -> tuple[object, ...] | None:
        local, _, domain = user.partition("@")
        sql = (
            user_query(kind, "2.3", Vmail(home="/var/mail/vhosts"))
            .replace("%u", user).replace("%d", domain).replace("%n", local)
        )
        found = rows(sql)
        return found[0] if found else None

    assert login("alice@example.nl", "imap") and login("alice@example.nl", "smtp")
    assert not login("suspended@example.nl", "imap") and not login("carol@example.com", "smtp")
    assert not login("noimap@example.nl", "imap") and login("noimap@example.nl", "pop3")
    assert not login("nosmtp@example.nl", "submission") and login("nosmtp@example.nl", "imap")
    assert login("nosmtp@example.nl", "sieve")  # services without a flag of their own
    assert userdb("quota@example.nl") == (
        "/var/mail/vhosts/example.nl/quota", 5000, 5000, "*:bytes=1048576"
    )
    assert userdb("dora@example.org") == (
        "/var/mail/vhosts/example.org/dora", 5000, 5000, "*:bytes=2097152"
    )
    found = userdb("bob@example.org")
    assert found is not None and found[3] is None
    assert userdb("suspended@example.nl") is not None  # LMTP still delivers
    assert userdb("nobody@example.nl") is None


def test_send_as_alias_lets_a_login_use_an_alias_of_its_own(
    tmp_path: Path, mail_config: MailConfig
) -> None:
    """setup.send_as_alias: an alias whose only destination is the login; a shared
    alias (two destinations) stays out of reach."""
    s = Setup(tmp_path, "sqlite", "mail.sqlite3", "unused", "mailuser", mail_config)
    s("db", "upgrade")
    s("domain", "add", "example.nl", "--no-postmaster")
    for email in ("anna@example.nl", "ben@example.nl"):
        s("user", "add", email, "--password-stdin", input=PASSWORD + "\n")
    s("alias", "add", "sales@example.nl", "anna@example.nl")
    s("alias", "add", "team@example.nl", "anna@example.nl", "ben@example.nl")
    maps = s.root / "postfix"

    def logins(address: str) -> str | None:
        return s.mail.postmap_query(address, f"sqlite:{maps}/sqlite-sender-login-maps.cf")

    s("setup", "render", "--dovecot-version", "2.3")
    assert logins("sales@example.nl") is None  # off by default
    s.mailctl.reconfigure(setup={"send_as_alias": True})
    s("setup", "render", "--dovecot-version", "2.3")
    assert logins("sales@example.nl") == "anna@example.nl"
    assert logins("team@example.nl") is None
    assert logins("anna@example.nl") == "anna@example.nl"


def test_doctor_names_a_rendered_file_that_no_longer_enforces_the_policy(
    tmp_path: Path, mail_config: MailConfig
) -> None:
    import json

    s = Setup(tmp_path, "sqlite", "mail.sqlite3", "unused", "mailuser", mail_config)
    s("db", "upgrade")
    s("domain", "add", "example.nl")
    add_admin_mailbox(s)
    s("setup", "render", "--dovecot-version", "2.3")

    def rows(code: int) -> dict[str, dict[str, str]]:
        out = s("doctor", "-f", "json", code=code).stdout
        return {r["check"]: r for r in json.loads(out)}

    assert rows(0)["setup render files"]["status"] == "OK"
    conf = s.root / "dovecot" / "dovecot-sql.conf.ext"
    text = conf.read_text()
    guide = "SELECT email AS user, password FROM virtual_users WHERE email='%u'"
    start = text.index("password_query = ") + len("password_query = ")
    conf.write_text(text[:start] + guide + text[text.index("\n", start):])  # back to §6
    stale = rows(1)[f"render {conf.name}"]
    assert stale["status"] == "FAIL" and "mailctl setup render" in stale["detail"]
    s("setup", "render", "--dovecot-version", "2.3")
    assert rows(0)["setup render files"]["status"] == "OK"


# ------------------------------------------------------------------ DKIM private keys


@pytest.mark.mariadb
def test_mariadb_readonly_login_cannot_read_dkim_private_keys(maria_setup: Setup) -> None:
    """The private keys every host writes its key files from are mailctl's alone: a
    real login as the read-only account is refused them; mailctl's own reads them."""
    s = maria_setup
    s("setup", "sql", "--admin-url", MARIA_ADMIN)
    s("domain", "add", "example.nl")
    key = s.root / "keys" / "example.nl" / "mail.private"
    reader = _maria_as(s, "read-only")
    with reader, reader.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM virtual_domains")  # the login itself works
        assert cur.fetchall() == ((1,),)
        assert _denied(reader, "SELECT private_key FROM mailctl_dkim_secrets")
        assert _denied(reader, "SELECT COUNT(*) FROM mailctl_dkim_secrets")
        assert _denied(reader, "SELECT * FROM mailctl_dkim_keys")
        assert _denied(reader, "SELECT * FROM mailctl_hosts")
        cur.execute("SHOW GRANTS")
        assert not any("mailctl_dkim" in row[0] for row in cur.fetchall())
    writer = _maria_as(s, "mailctl")
    with writer, writer.cursor() as cur:
        cur.execute("SELECT private_key FROM mailctl_dkim_secrets")
        assert cur.fetchall() == ((key.read_text(),),)
    # mailctl's account keeps mailctl_hosts: each sync writes this host's row
    s("sync")
    s("sync")
    writer = _maria_as(s, "mailctl")
    with writer, writer.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM mailctl_hosts")
        assert cur.fetchall() == ((1,),)


@pytest.mark.postgres
def test_postgres_readonly_login_cannot_read_dkim_private_keys(pg_setup: Setup) -> None:
    import psycopg

    s = pg_setup
    s("setup", "sql", "--admin-url", PG_ADMIN)
    s("domain", "add", "example.nl")
    key = s.root / "keys" / "example.nl" / "mail.private"
    with psycopg.connect(
        host="127.0.0.1", port=5432, user=s.readonly_user, password=s.password("read-only"),
        dbname=s.dbname, autocommit=True,
    ) as reader:
        assert reader.execute("SELECT COUNT(*) FROM virtual_domains").fetchall() == [(1,)]
        for sql in ("SELECT private_key FROM mailctl_dkim_secrets",
                    "SELECT * FROM mailctl_dkim_keys", "SELECT * FROM mailctl_hosts"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(sql)
    with psycopg.connect(
        host="127.0.0.1", port=5432, user=s.mailctl_user, password=s.password("mailctl"),
        dbname=s.dbname, autocommit=True,
    ) as writer:
        rows = writer.execute("SELECT private_key FROM mailctl_dkim_secrets").fetchall()
        assert rows == [(key.read_text(),)]
        s("sync")  # mailctl's account keeps mailctl_hosts
        assert writer.execute("SELECT COUNT(*) FROM mailctl_hosts").fetchall() == [(1,)]
