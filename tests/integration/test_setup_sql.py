"""`mailctl setup sql` and `setup render` against the real MariaDB and PostgreSQL, and the
rendered maps read by Postfix's own mysql:, pgsql: and sqlite: clients."""

from __future__ import annotations

import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import pytest
from click.testing import Result
from support.cli import Mailctl
from support.databases import (
    MARIADB_ADMIN_URL,
    POSTGRES_ADMIN_URL,
    mariadb_admin,
    mariadb_database,
    postgres_database,
)
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

    def __call__(self, *args: str, code: int = 0) -> Result:
        return self.mailctl(*args, code=code)


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
    assert f"read-only account {s.readonly_user}@127.0.0.1: SELECT on" in out
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
    for path in [*maps.iterdir(), s.root / "dovecot" / "dovecot-sql.conf.ext"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path
    # a second run changes nothing
    assert "unchanged" in s("setup", "render", "--dovecot-version", "2.3").stdout
    # --dry-run shows what would change, with the password masked
    (maps / "mysql-virtual-mailbox-maps.cf").write_text("old\n")
    diff = s("setup", "render", "--dovecot-version", "2.4", "--dry-run").stdout
    assert "+query = SELECT 1 FROM virtual_users WHERE email='%s'" in diff
    assert "+  query = SELECT email AS user" in diff
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

        for table in ("virtual_domains", "virtual_users", "virtual_aliases"):
            assert can(s.readonly_user, table, "SELECT")
            assert not can(s.readonly_user, table, "INSERT")
            assert not can(s.readonly_user, table, "DELETE")
        assert not can(s.readonly_user, "mailctl_dkim_keys", "SELECT")
        owners = dict(
            conn.execute(
                "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        )
        assert set(owners.values()) == {s.mailctl_user}, owners
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
