"""database.failover wherever mailctl opens the database: besides the store's own
connection (test_store.py), the SQLAlchemy engine of the `db` commands, doctor and
the schema check, and TAB completion (test_completion.py)."""

from __future__ import annotations

import json

import pytest
from support.cli import Mailctl
from support.galera import free_ports

from mailctl.core import db as database
from mailctl.errors import DatabaseError, DatabaseUnreachable
from mailctl.store.schema import HEAD


def _down(maria: Mailctl) -> tuple[str, int, int]:
    """maria's URL with a host:port nothing answers on, and two such ports."""
    first, second = free_ports(2)
    return maria.url.replace("127.0.0.1:3306", f"127.0.0.1:{first}"), first, second


@pytest.mark.mariadb
def test_the_engine_takes_the_first_server_that_answers(maria: Mailctl) -> None:
    url, first, second = _down(maria)
    engine = database.make_engine(url, failover=[f"127.0.0.1:{second}", "127.0.0.1:3306"])
    try:
        assert database.schema_status(engine).current == HEAD
    finally:
        engine.dispose()
    engine = database.make_engine(url, failover=[f"127.0.0.1:{second}"])
    try:
        with pytest.raises(DatabaseUnreachable) as caught:
            database.schema_status(engine)
    finally:
        engine.dispose()
    message = str(caught.value)
    assert message.startswith(
        f"no database server answered for mysql+pymysql://root@127.0.0.1:{first}/"
    )
    assert f"tried 127.0.0.1:{first} (" in message and f"; 127.0.0.1:{second} (" in message


@pytest.mark.postgres
def test_the_engine_fails_over_on_postgresql_too(postgres_url: str) -> None:
    (dead,) = free_ports(1)
    url = postgres_url.replace(":5432/", f":{dead}/")
    engine = database.make_engine(url, failover=["127.0.0.1:5432"])
    try:
        status = database.schema_status(engine)
    finally:
        engine.dispose()
    assert status.backend == "postgresql" and status.current is None  # an empty database


@pytest.mark.mariadb
def test_db_commands_and_doctor_fail_over(maria: Mailctl) -> None:
    url, _first, second = _down(maria)
    maria.reconfigure(database={"url": url, "failover": [f"127.0.0.1:{second}", "127.0.0.1:3306"]})
    status = json.loads(maria("db", "status", "-f", "json").stdout)
    assert status["revision"] == HEAD and status["pending"] is False
    assert "schema already at" in maria("db", "upgrade").stderr
    maria("domain", "add", "example.nl")
    rows = {r["check"]: r for r in json.loads(maria("doctor", "-f", "json", code=None).stdout)}
    assert rows["database"]["status"] == "OK"
    assert rows["dkim mail._domainkey.example.nl"]["status"] == "OK"


@pytest.mark.mariadb
def test_db_status_names_every_server_when_none_answers(maria: Mailctl) -> None:
    url, first, second = _down(maria)
    maria.reconfigure(database={"url": url, "failover": [f"127.0.0.1:{second}"]})
    (line,) = maria("db", "status", code=1).stderr.splitlines()
    assert line.startswith("mailctl: error: no database server answered for")
    assert f"tried 127.0.0.1:{first} (" in line and f"; 127.0.0.1:{second} (" in line
    assert line.endswith("(database.url and database.failover)")


def test_failover_with_a_sqlite_url_is_refused_by_the_engine_too() -> None:
    with pytest.raises(DatabaseError, match="names other servers, but sqlite:///x.sqlite3 is a"):
        database.make_engine("sqlite:///x.sqlite3", failover=["db2.example.org"])
