"""The store (mailctl.store) on each real backend: its queries, transactions and
times; one connection per command; no SQLAlchemy on the everyday path; no TLS
set up for a loopback database."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from support.cli import Mailctl

from mailctl.errors import DatabaseError
from mailctl.store import connection, dkimkeys, guide, schema
from mailctl.store.connection import Db, Tls, connect
from mailctl.store.dkimkeys import DkimKey


@pytest.fixture
def db(mailctl: Mailctl) -> Db:
    """A store connection to the fixture's migrated database, one domain in it."""
    mailctl("domain", "add", "example.nl")
    opened = connect(mailctl.url)
    yield opened  # type: ignore[misc]
    opened.close()


def test_the_schema_is_current_in_one_query(db: Db) -> None:
    assert schema.stored_revision(db) == schema.HEAD


def test_rows_written_are_read_back_on_every_backend(db: Db) -> None:
    domain = guide.find_domain(db, "example.nl")
    assert domain is not None
    with db.transaction():
        user = guide.insert_user(db, domain.id, "anna@example.nl", "{SHA512-CRYPT}$6$x$y")
        guide.insert_users(db, [(domain.id, f"u{i}@example.nl", "{PLAIN}x") for i in range(3)])
        guide.insert_alias(db, domain.id, "sales@example.nl", "anna@example.nl,u1@example.nl")
    assert guide.find_user(db, "anna@example.nl") == user
    assert guide.is_mailbox(db, "u2@example.nl")
    from mailctl.store import policy

    assert policy.user_rows(db, "example.nl")[0][:2] == ("anna@example.nl", "{SHA512-CRYPT}$6$x$y")
    assert guide.count_in_domain(db, "virtual_users", domain.id) == 4
    # with postmaster@, abuse@ and the two report addresses domain add made
    assert guide.counts_by_domain(db, "virtual_aliases")[domain.id] == 5
    (sales,) = guide.alias_rows(db, "sales@example.nl")
    assert sales.destinations == ["anna@example.nl", "u1@example.nl"]


def test_like_wildcards_in_an_address_match_only_themselves(db: Db) -> None:
    domain = guide.find_domain(db, "example.nl")
    assert domain is not None
    with db.transaction():
        guide.insert_alias(db, domain.id, "a@example.nl", "a_b@example.org")
        guide.insert_alias(db, domain.id, "b@example.nl", "axb@example.org")
        guide.insert_alias(db, domain.id, "c@example.nl", "100%!@example.org")
    assert [a.source for a in guide.aliases_containing(db, "a_b@")] == ["a@example.nl"]
    assert [a.source for a in guide.aliases_containing(db, "100%!")] == ["c@example.nl"]
    assert guide.aliases_containing(db, "0%x") == []
    assert guide.aliases_containing(db, "a@example.org", outside_domain=domain.id) == []


def test_key_times_survive_the_round_trip(db: Db) -> None:
    domain = guide.find_domain(db, "example.nl")
    assert domain is not None
    stamp = datetime(2026, 12, 1, 17, 5, 9)
    with db.transaction():
        key = dkimkeys.insert_key(
            db, DkimKey(0, domain.id, "sel2026", "rsa", 2048, "pending", stamp)
        )
        key.state, key.activated_at = "active", stamp
        dkimkeys.save_state(db, key)
    stored = [k for k in dkimkeys.keys_of(db, domain.id) if k.selector == "sel2026"]
    assert stored == [key]
    assert ("example.nl", "sel2026") in dkimkeys.selectors(db, ("active",), "rsa")


def test_a_failed_or_dry_transaction_leaves_nothing(db: Db) -> None:
    domain = guide.find_domain(db, "example.nl")
    assert domain is not None
    before = guide.emails(db)
    with pytest.raises(DatabaseError) as caught, db.transaction():
        guide.insert_user(db, domain.id, "new@example.nl", "x")
        guide.insert_user(db, domain.id, "new@example.nl", "x")  # UNIQUE (email)
    assert "\n" not in str(caught.value)
    with db.transaction(dry_run=True):
        guide.insert_user(db, domain.id, "dry@example.nl", "x")
    assert guide.emails(db) == before


def test_one_connection_per_command(mailctl: Mailctl, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real = connection.connect

    def counting(url: str, **kwargs: object) -> Db:
        opened.append(url)
        return real(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(connection, "connect", counting)
    mailctl("domain", "add", "example.nl")
    mailctl("alias", "add", "info@example.nl", "someone@example.org")
    mailctl("user", "add", "anna@example.nl", "--password-stdin", input="correct horse battery\n")
    mailctl("alias", "list")
    assert len(opened) == 4


def test_everyday_commands_load_no_sqlalchemy(lite: Mailctl) -> None:
    """Nor what they do not use: locale comes with click's gettext lookups (see
    cli.commandtypes), json and getpass were the audit line's, services.dkim the
    unit of work's for the rare change that removes keys (`domain list` shows keys)."""
    lite("domain", "add", "example.nl")
    unused = ("sqlalchemy", "alembic", "dns", "locale", "json", "getpass")
    probe = (
        "import sys\n"
        "from mailctl.cli.root import cli\n"
        "unused = sys.argv.pop(1).split()\n"
        "try:\n    cli.main(prog_name='mailctl')\nexcept SystemExit as exc:\n    code = exc.code\n"
        "heavy = sorted(m for m in unused if m in sys.modules)\n"
        "print(code, *heavy, file=sys.stderr)\n"
    )
    for argv, keys_unused in (
        (["alias", "add", "info@example.nl", "someone@example.org"], True),
        (["user", "add", "--password-stdin", "anna@example.nl"], True),
        (["user", "passwd", "--password-stdin", "anna@example.nl"], True),
        (["alias", "list"], True),
        (["user", "list"], True),
        (["domain", "list"], False),
        (["alias", "del", "info@example.nl"], True),
    ):
        modules = [*unused, "mailctl.services.dkim"] if keys_unused else unused
        ran = subprocess.run(
            [sys.executable, "-c", probe, " ".join(modules), "--config", str(lite.config), *argv],
            input="correct horse battery\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.stderr.splitlines()[-1] == "0", (argv, ran.stderr)


@pytest.mark.mariadb
def test_loopback_mariadb_gets_no_tls_setup(maria: Mailctl) -> None:
    db = connect(maria.url, mysql="pymysql")
    try:
        assert db.raw.ssl is False and not hasattr(db.raw, "ctx")
    finally:
        db.close()
    # database.tls = "verify" insists: this server has TLS off, so no connection
    for driver in ("pymysql", "mysqlclient"):
        with pytest.raises(DatabaseError) as caught:
            connect(maria.url, tls=Tls("verify"), mysql=driver)
        assert "SSL" in str(caught.value).upper() and "\n" not in str(caught.value), driver


@pytest.mark.mariadb
def test_both_mariadb_drivers_read_and_write_alike(maria: Mailctl) -> None:
    """mysqlclient (C) is used when installed; PyMySQL otherwise: the same rows either way."""
    assert connection.mysql_driver() == "mysqlclient"  # the suite installs it: both are run
    maria("domain", "add", "example.nl")
    maria("user", "add", "anna@example.nl", "--password-stdin", input="correct horse battery\n")
    maria("user", "set", "anna@example.nl", "--quota", "1G", "--no-pop3")
    seen = []
    for driver in ("pymysql", "mysqlclient"):
        db = connect(maria.url, mysql=driver)
        try:
            domain = guide.find_domain(db, "example.nl")
            assert domain is not None
            with db.transaction():
                guide.insert_alias(db, domain.id, f"{driver}@example.nl", "anna@example.nl")
            seen.append(
                (
                    policy_rows(db),
                    [(a.source, a.destination) for a in guide.aliases(db)][:2],
                    dkimkeys.all_keys(db),
                )
            )
        finally:
            db.close()
    assert seen[0] == seen[1]


def policy_rows(db: Db) -> list[tuple[object, ...]]:
    from mailctl.store import policy

    return policy.user_rows(db)


def test_a_missing_sqlite_file_is_not_created_by_reading(tmp_path: Path) -> None:
    target = tmp_path / "none" / "mailctl.sqlite3"
    with pytest.raises(DatabaseError, match="does not exist"):
        connect(f"sqlite:///{target}")
    assert not target.parent.exists()


def test_a_password_file_is_read_without_sqlalchemy(tmp_path: Path) -> None:
    secret = tmp_path / "db.password"
    secret.write_text("s3cr/t:@x\n")
    secret.chmod(0o600)
    probe = (
        "import sys\n"
        "from dataclasses import replace\n"
        "from mailctl.core.config import Settings, database_url\n"
        "s = Settings()\n"
        f"s = replace(s, database=replace(s.database, password_file={str(secret)!r}))\n"
        "print(database_url(s))\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    url, loaded = ran.stdout.splitlines()
    assert loaded == "False"
    from sqlalchemy.engine import make_url

    assert make_url(url).password == "s3cr/t:@x"  # SQLAlchemy reads back what was written


def test_the_models_match_what_the_migrations_make(db_url: str) -> None:
    """core.tables (which the store is held against) and migrations/ describe one schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from mailctl.core import db as schema_db
    from mailctl.core import tables

    engine = schema_db.make_engine(db_url, create=True)
    try:
        schema_db.upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                d
                for d in compare_metadata(context, tables.Base.metadata)
                if not (d[0] == "remove_table" and d[1].name == "mailctl_schema_version")
            ]
    finally:
        engine.dispose()
    assert differences == []


# ------------------------------------------------------------------ failover


def _dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # free, so nothing answers there once closed


@pytest.mark.mariadb
def test_failover_takes_the_next_server_when_the_first_does_not_answer(maria: Mailctl) -> None:
    """A URL whose host is down, and the working server as failover: the command runs.
    A plain MariaDB (no Galera) is used as it is: no causal reads."""
    dead = _dead_port()
    url = maria.url.replace("127.0.0.1:3306", f"127.0.0.1:{dead}")
    db = connect(url, failover=[f"127.0.0.1:{dead}", "127.0.0.1:3306"])
    try:
        assert schema.is_current(db)
        assert db.url.port == 3306 and db.wsrep is False
    finally:
        db.close()
    maria.reconfigure(database={"url": url, "failover": ["127.0.0.1:3306"]})
    maria("domain", "add", "example.nl")
    assert maria("domain", "list").stdout.startswith("example.nl\t")


@pytest.mark.mariadb
def test_when_no_server_answers_one_line_names_every_one_tried(maria: Mailctl) -> None:
    first, second = _dead_port(), _dead_port()
    url = maria.url.replace("127.0.0.1:3306", f"127.0.0.1:{first}")
    maria.reconfigure(database={"url": url, "failover": [f"127.0.0.1:{second}"]})
    before = maria.dump()
    result = maria("domain", "add", "example.nl", code=1)
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"mailctl: error: no database server answered for mysql+pymysql://root@127.0.0.1:{first}/"
    )
    assert f"tried 127.0.0.1:{first} (" in line and f"; 127.0.0.1:{second} (" in line
    assert line.endswith("(database.url and database.failover)")
    maria.reconfigure(database={"url": maria.url, "failover": []})
    assert maria.dump() == before


@pytest.mark.postgres
def test_postgresql_fails_over_too(postgres_url: str) -> None:
    dead = _dead_port()
    db = connect(postgres_url.replace(":5432/", f":{dead}/"), failover=["127.0.0.1:5432"])
    try:
        assert db.value("SELECT 1") == 1 and db.url.port == 5432
    finally:
        db.close()


def test_failover_with_a_sqlite_database_is_refused_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "mailctl.sqlite3"
    with pytest.raises(DatabaseError) as caught:
        connect(f"sqlite:///{target}", create=True, failover=["db2.example.org"])
    assert str(caught.value) == (
        f"database.failover names other servers, but sqlite:///{target} is a SQLite file"
    )
