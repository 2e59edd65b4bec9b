"""The schema: identical to the guide's DDL on MariaDB, equivalent elsewhere,
migrations from any directory, and adoption of a hand-made guide database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa
from support.cli import TABLES, Mailctl

from mailctl.core import db

GUIDE_DDL = Path(__file__).resolve().parent.parent / "fixtures" / "guide_schema.sql"


def _statements() -> list[str]:
    text = "\n".join(ln for ln in GUIDE_DDL.read_text().splitlines() if not ln.startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def _mysql_conn(url: str) -> pymysql.connections.Connection:  # type: ignore[type-arg]
    name = sa.engine.make_url(url).database
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", database=name,
                           autocommit=True, charset="utf8mb4")


def _show_create(url: str) -> dict[str, str]:
    conn = _mysql_conn(url)
    try:
        out = {}
        with conn.cursor() as cur:
            for table in TABLES:
                cur.execute(f"SHOW CREATE TABLE {table}")
                ddl = cur.fetchone()[1]
                out[table] = re.sub(r" AUTO_INCREMENT=\d+", "", ddl)
        return out
    finally:
        conn.close()


def _load_guide_ddl(url: str) -> None:
    conn = _mysql_conn(url)
    try:
        with conn.cursor() as cur:
            for statement in _statements():
                cur.execute(statement)
    finally:
        conn.close()


def test_mariadb_schema_is_identical_to_the_guide(mariadb_url: str, tmp_path: Path) -> None:
    import secrets

    import pymysql as pm

    # Database A: the guide's DDL by hand. Database B: mailctl db upgrade.
    _load_guide_ddl(mariadb_url)
    by_hand = _show_create(mariadb_url)
    other = f"mailctl_t_{secrets.token_hex(6)}"
    root = pm.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        with root.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{other}` CHARACTER SET utf8mb4"
                        " COLLATE utf8mb4_unicode_ci")
        url = f"mysql+pymysql://root@127.0.0.1:3306/{other}?charset=utf8mb4"
        (tmp_path / "f").mkdir()
        Mailctl.create(tmp_path / "c.toml", url, tmp_path / "f")("db", "upgrade")
        assert _show_create(url) == by_hand
        assert "int(10) unsigned NOT NULL AUTO_INCREMENT" in by_hand["virtual_domains"]
        assert "ON DELETE CASCADE" in by_hand["virtual_users"]
        assert "ENGINE=InnoDB" in by_hand["virtual_aliases"]
    finally:
        with root.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{other}`")
        root.close()


def test_upgrade_works_from_any_directory_and_is_idempotent(
    mailctl: Mailctl, tmp_path: Path, monkeypatch: object
) -> None:
    import os

    os.chdir(tmp_path)  # no alembic.ini, no migrations/ here
    again = mailctl("db", "upgrade")
    assert "already at" in again.stderr
    status = json.loads(mailctl("db", "status", "-f", "json").stdout)
    assert status["revision"] == db.head_revision()
    tables = set(sa.inspect(sa.create_engine(mailctl.url)).get_table_names())
    assert set(TABLES) <= tables
    assert db.VERSION_TABLE in tables
    assert all(t in TABLES or t.startswith("mailctl_") for t in tables)


def test_cascade_delete_on_every_backend(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl")
    mailctl("user", "add", "joe@example.nl", "--password-stdin", input="long enough pw\n")
    engine = sa.create_engine(mailctl.url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.execute(sa.text("DELETE FROM virtual_domains WHERE name='example.nl'"))
    engine.dispose()
    assert mailctl.dump() == {t: [] for t in TABLES}


def test_a_hand_made_guide_database_is_adopted(mariadb_url: str, tmp_path: Path) -> None:
    _load_guide_ddl(mariadb_url)
    conn = _mysql_conn(mariadb_url)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO virtual_domains (name) VALUES ('example.nl')")
        cur.execute(
            "INSERT INTO virtual_users (domain_id, email, password) VALUES"
            " (1, 'old@example.nl', '{SHA512-CRYPT}$6$abcdefghijklmnop$"
            "AHmV4uJ3QKLZl5rHv6Xm1cqA5lR0k3j8hG0m5oLq2b6wQ8p3mVb7U1a3Zr5Kp9s0n0d9b8Yb0T7a4e3f2c1d00')"
        )
        cur.execute("INSERT INTO virtual_aliases (domain_id, source, destination) VALUES"
                    " (1, 'info@example.nl', 'old@example.nl')")
    conn.close()
    (tmp_path / "f").mkdir()
    m = Mailctl.create(tmp_path / "c.toml", mariadb_url, tmp_path / "f")
    before = m.dump()
    # Before adoption every command refuses with the way out.
    refused = m("domain", "list", code=1)
    assert "mailctl db upgrade" in refused.stderr
    status = json.loads(m("db", "status", "-f", "json").stdout)
    assert status["adoptable"] is True and status["revision"] == "none"
    out = m("db", "upgrade")
    assert "adopted" in out.stderr
    assert f"upgraded schema from 0001 to {db.head_revision()}" in out.stderr
    assert m.dump() == before  # rows untouched
    status = json.loads(m("db", "status", "-f", "json").stdout)
    assert status["revision"] == db.head_revision()
    # Every command works on the adopted database.
    m("domain", "add", "example2.nl")
    m("user", "add", "new@example.nl", "--password-stdin", input="long enough pw\n")
    m("alias", "add", "info@example.nl", "new@example.nl")
    assert m.query("SELECT destination FROM virtual_aliases WHERE source='info@example.nl'") == [
        ("old@example.nl,new@example.nl",)
    ]
    listed = json.loads(m("user", "list", "-f", "json").stdout)
    assert [u["email"] for u in listed] == ["new@example.nl", "old@example.nl"]


def test_partial_guide_schema_is_refused(mariadb_url: str, tmp_path: Path) -> None:
    conn = _mysql_conn(mariadb_url)
    with conn.cursor() as cur:
        cur.execute(_statements()[0])  # only virtual_domains
    conn.close()
    (tmp_path / "f").mkdir()
    m = Mailctl.create(tmp_path / "c.toml", mariadb_url, tmp_path / "f")
    out = m("db", "upgrade", code=1)
    assert "cannot adopt" in out.stderr and "virtual_users" in out.stderr


def test_init_writes_a_private_config_and_creates_the_schema(
    db_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from mailctl.cli.root import cli

    target = tmp_path / "etc" / "config.toml"
    log = tmp_path / "log" / "audit.log"
    result = CliRunner().invoke(cli, [
        "--db", db_url, "init", "--path", str(target), "--hostname", "mx.example.org",
        "--admin-email", "hostmaster@example.org", "--set", f"audit.log={json.dumps(str(log))}",
        "--set", f"lock.path={tmp_path / 'lock'}", "--set", "dkim.bits=3072",
    ])
    assert result.exit_code == 0, result.output
    # init runs in the unit of work: under the new config's lock, into its audit log.
    entry = json.loads(log.read_text())
    assert entry["result"] == "ok" and entry["changes"][0] == f"wrote {target}"
    assert entry["changes"][1].endswith(f"-> {db.head_revision()}")
    assert target.stat().st_mode & 0o777 == 0o600
    text = target.read_text()
    assert 'hostname = "mx.example.org"' in text
    assert "# RSA key size" in text  # complete and commented
    m = Mailctl(target, db_url)
    status = json.loads(m("db", "status", "-f", "json").stdout)
    assert status["revision"] == db.head_revision()
    shown = json.loads(m("config", "show", "-f", "json").stdout)
    assert shown["server"]["admin_email"] == "hostmaster@example.org"
    assert shown["dkim"]["bits"] == 3072 and shown["lock"]["path"] == str(tmp_path / "lock")
    assert shown["dkim"]["key_table"] == "/etc/opendkim/KeyTable"  # the guide's defaults
    again = CliRunner().invoke(cli, ["init", "--path", str(target)])
    assert again.exit_code == 1 and "exists already" in again.stderr
    bad = CliRunner().invoke(cli, ["init", "--path", str(tmp_path / "x.toml"), "--set", "bits"])
    assert bad.exit_code == 2 and "expected SECTION.KEY=VALUE" in bad.stderr
    assert not (tmp_path / "x.toml").exists()


def test_db_url_without_config_is_never_migrated_implicitly(mariadb_url: str) -> None:
    from click.testing import CliRunner

    from mailctl.cli.root import cli

    _load_guide_ddl(mariadb_url)
    result = CliRunner().invoke(cli, ["--db", mariadb_url, "user", "list"])
    assert result.exit_code == 1 and "mailctl db upgrade" in result.stderr
    assert "using the sandbox's private files" in result.stderr
    engine = sa.create_engine(mariadb_url)
    assert db.VERSION_TABLE not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_head_constant_is_alembics_head() -> None:
    assert db.HEAD == db.head_revision()


def test_read_only_commands_create_no_database(tmp_path: Path) -> None:
    """`--db sqlite:////nonexistent/dir/x.db domain list` leaves nothing behind; only
    db upgrade (and the sandbox's first use) makes the file, 0600: it holds hashes."""
    from click.testing import CliRunner

    from mailctl.cli.root import cli

    path = tmp_path / "nonexistent" / "dir" / "x.db"
    url = f"sqlite:///{path}"
    for args in (["domain", "list"], ["db", "status"], ["doctor"], ["user", "list"]):
        result = CliRunner().invoke(cli, ["-q", "--db", url, *args])
        assert result.exit_code == 1, (args, result.output)
        assert f"{path} does not exist (create it with: mailctl db upgrade)" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "nonexistent").exists()
    upgraded = CliRunner().invoke(cli, ["-q", "--db", url, "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("backend", ["mariadb", "postgres", "sqlite"])
def test_concurrent_upgrades_leave_one_whole_schema(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """Parallel first runs raced before the migration lock: 0001 stamped, the DKIM table
    there, and every later upgrade failing with 'already exists'. Four upgrades start
    at one barrier, each on its own connection, as four processes or hosts would."""
    import threading

    url = request.getfixturevalue(f"{backend}_url")
    engines = [db.make_engine(url, create=True) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def run(engine: sa.Engine) -> None:
        barrier.wait()
        try:
            db.upgrade(engine)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    try:
        assert errors == []
        assert db.schema_status(engines[0]).current == db.head_revision()
    finally:
        for engine in engines:
            engine.dispose()


def test_a_half_applied_migration_is_finished_by_db_upgrade(mariadb_url: str) -> None:
    """MariaDB commits DDL at once: the DKIM table made, the version not moved on."""
    engine = sa.create_engine(mariadb_url, poolclass=sa.pool.NullPool)
    try:
        db.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {db.VERSION_TABLE} SET version_num = '0001'"))
        assert db.schema_status(engine).current == "0001"
        db.upgrade(engine)
        assert db.schema_status(engine).current == db.head_revision()
    finally:
        engine.dispose()


def test_a_schema_newer_than_this_mailctl_says_upgrade_mailctl(lite: Mailctl) -> None:
    lite.execute(f"UPDATE {db.VERSION_TABLE} SET version_num = '0099'")
    for args in (("domain", "list"), ("db", "upgrade")):
        out = lite(*args, code=1)
        assert out.stderr.strip() == (
            "mailctl: error: database schema is at 0099, newer than this mailctl knows"
            f" (its newest is {db.head_revision()}): upgrade mailctl"
        )


# --- hand-made guide databases that differ from the guide -------------------------


def _load_ddl(url: str, statements: list[str]) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _guide_ddl_with(*edits: tuple[str, str]) -> list[str]:
    """The guide's DDL with (old, new) text replaced, as a hand-made database has it."""
    statements = _statements()
    for old, new in edits:
        assert any(old in s for s in statements), old
        statements = [s.replace(old, new) for s in statements]
    return statements


POSTGRES_BIGINT_DDL = [
    "CREATE TABLE virtual_domains (id BIGSERIAL PRIMARY KEY, name VARCHAR(255) NOT NULL UNIQUE)",
    "CREATE TABLE virtual_users (id BIGSERIAL PRIMARY KEY, domain_id BIGINT NOT NULL"
    " REFERENCES virtual_domains(id) ON DELETE CASCADE, email VARCHAR(255) NOT NULL UNIQUE,"
    " password VARCHAR(255) NOT NULL)",
    "CREATE TABLE virtual_aliases (id BIGSERIAL PRIMARY KEY, domain_id BIGINT NOT NULL"
    " REFERENCES virtual_domains(id) ON DELETE CASCADE, source VARCHAR(255) NOT NULL,"
    " destination TEXT NOT NULL)",
]


def _id_types(url: str) -> tuple[str, str]:
    """virtual_domains.id's type and that of mailctl_dkim_keys.domain_id, as the
    database shows them (signedness included)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "mysql":
                query = ("SELECT column_type FROM information_schema.columns WHERE"
                         " table_schema = DATABASE() AND table_name = :t AND column_name = :c")
            else:
                query = ("SELECT data_type FROM information_schema.columns WHERE"
                         " table_schema = current_schema() AND table_name = :t"
                         " AND column_name = :c")
            found = [conn.execute(sa.text(query), {"t": t, "c": c}).scalar_one()
                     for t, c in (("virtual_domains", "id"), ("mailctl_dkim_keys", "domain_id"))]
    finally:
        engine.dispose()
    return found[0], found[1]


@pytest.mark.parametrize(
    ("backend", "ddl", "id_type"),
    [
        pytest.param("mariadb", _guide_ddl_with((" UNSIGNED", "")), "int(11)", id="mariadb-int"),
        pytest.param("mariadb", _guide_ddl_with((" INT UNSIGNED", " BIGINT")), "bigint(20)",
                     id="mariadb-bigint"),
        pytest.param("postgres", POSTGRES_BIGINT_DDL, "bigint", id="postgres-bigint"),
    ],
)
def test_a_guide_database_with_other_integer_ids_is_adopted(
    backend: str, ddl: list[str], id_type: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Hand-made databases often have signed INT (or BIGINT) ids where the guide has
    INT UNSIGNED; 0002's foreign key to virtual_domains.id takes the type it finds
    (MariaDB refused a foreign key from INT UNSIGNED, leaving the database stuck at 0001)."""
    url = request.getfixturevalue(f"{backend}_url")
    _load_ddl(url, [*ddl, "INSERT INTO virtual_domains (name) VALUES ('example.nl')"])
    (tmp_path / "f").mkdir()
    m = Mailctl.create(tmp_path / "c.toml", url, tmp_path / "f")
    before = m.dump()
    status = json.loads(m("db", "status", "-f", "json").stdout)
    assert status["adoptable"] is True
    out = m("db", "upgrade")
    assert "adopted" in out.stderr
    assert f"upgraded schema from 0001 to {db.head_revision()}" in out.stderr
    assert m.dump() == before
    assert _id_types(url) == (id_type, id_type)
    # Every command works on it, DKIM keys included, and keys go with their domain.
    m("domain", "add", "example2.nl")
    keys = json.loads(m("dkim", "show", "example2.nl", "-f", "json").stdout)
    assert [(k["selector"], k["state"]) for k in keys] == [("mail", "active")]
    m("user", "add", "joe@example2.nl", "--password-stdin", input="long enough pw\n")
    m("domain", "del", "example2.nl", "--yes")
    assert m.query("SELECT COUNT(*) FROM mailctl_dkim_keys") == [(0,)]
    assert m.dump() == before


def test_a_signed_int_database_stuck_at_0001_is_finished(mariadb_url: str, tmp_path: Path) -> None:
    """What an older mailctl left behind: stamped 0001, 0002 failed on its foreign key."""
    _load_ddl(mariadb_url, [
        *_guide_ddl_with((" UNSIGNED", "")),
        f"CREATE TABLE {db.VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        f"INSERT INTO {db.VERSION_TABLE} VALUES ('0001')",
    ])
    (tmp_path / "f").mkdir()
    m = Mailctl.create(tmp_path / "c.toml", mariadb_url, tmp_path / "f")
    out = m("db", "upgrade")
    assert f"upgraded schema from 0001 to {db.head_revision()}" in out.stderr
    m("domain", "add", "example.nl")
    assert m.query("SELECT selector, state FROM mailctl_dkim_keys") == [("mail", "active")]


NO_FOREIGN_KEYS = [
    (",\nCONSTRAINT fk_user_domain\nFOREIGN KEY (domain_id)\nREFERENCES virtual_domains(id)"
     "\nON DELETE CASCADE", ""),
    (",\nCONSTRAINT fk_alias_domain\nFOREIGN KEY (domain_id)\nREFERENCES virtual_domains(id)"
     "\nON DELETE CASCADE", ""),
]


@pytest.mark.parametrize(
    ("ddl", "problem"),
    [
        pytest.param(
            _guide_ddl_with(("ENGINE=InnoDB", "ENGINE=MyISAM")),
            "table virtual_domains uses the MyISAM engine, mailctl needs InnoDB (foreign keys)",
            id="myisam",
        ),
        pytest.param(
            _guide_ddl_with(*NO_FOREIGN_KEYS, ("id INT UNSIGNED NOT NULL AUTO_INCREMENT,\nname",
                                               "id CHAR(36) NOT NULL,\nname")),
            "column virtual_domains.id is CHAR(36), mailctl needs an integer"
            " (the guide's INT UNSIGNED)",
            id="uuid-id",
        ),
        pytest.param(
            _guide_ddl_with(*NO_FOREIGN_KEYS, ("domain_id INT UNSIGNED NOT NULL,\nsource",
                                               "domain_id VARCHAR(255) NOT NULL,\nsource")),
            "column virtual_aliases.domain_id is VARCHAR(255), mailctl needs an integer"
            " (the guide's INT UNSIGNED)",
            id="text-domain-id",
        ),
        pytest.param(
            _guide_ddl_with(*NO_FOREIGN_KEYS, ("PRIMARY KEY (id),\nKEY idx_alias_source",
                                               "KEY (id),\nKEY idx_alias_source")),
            "table virtual_aliases has no primary key, mailctl needs PRIMARY KEY (id)",
            id="no-primary-key",
        ),
        pytest.param(
            _guide_ddl_with((" AUTO_INCREMENT,\ndomain_id INT UNSIGNED NOT NULL,\nemail",
                             ",\ndomain_id INT UNSIGNED NOT NULL,\nemail")),
            "column virtual_users.id is not auto-incrementing, mailctl needs it to be"
            " (the guide's AUTO_INCREMENT)",
            id="no-auto-increment",
        ),
    ],
)
def test_a_guide_database_mailctl_cannot_use_is_refused_before_stamping(
    ddl: list[str], problem: str, mariadb_url: str, tmp_path: Path
) -> None:
    """Refused with one line naming the difference, the database exactly as it was:
    no version table, no DKIM table, the same DDL and rows."""
    row = "INSERT INTO virtual_domains (id, name) VALUES ('1', 'example.nl')"
    _load_ddl(mariadb_url, [*ddl, row])
    (tmp_path / "f").mkdir()
    m = Mailctl.create(tmp_path / "c.toml", mariadb_url, tmp_path / "f")
    before = _show_create(mariadb_url), m.dump()
    engine = sa.create_engine(mariadb_url, poolclass=sa.pool.NullPool)
    status = json.loads(m("db", "status", "-f", "json").stdout)
    assert status["adoptable"] is False
    out = m("db", "upgrade", code=1)
    assert out.stderr.splitlines() == [f"mailctl: error: cannot adopt the database: {problem}"]
    dry = m("db", "upgrade", "--dry-run", code=1)  # no "would upgrade" for a refused one
    assert dry.stderr.splitlines() == out.stderr.splitlines()
    # Other commands name it too, rather than send the administrator to db upgrade.
    refused = m("domain", "list", code=1)
    assert refused.stderr.strip() == f"mailctl: error: cannot adopt the database: {problem}"
    try:
        assert set(sa.inspect(engine).get_table_names()) == set(TABLES)
    finally:
        engine.dispose()
    assert (_show_create(mariadb_url), m.dump()) == before
