"""The unit of work runs a refused change again from the start (services.unit, store.retry):
on SQLite, with the refusals a Galera cluster gives (tests/galera has the real ones)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from support.config import COMMANDS_OFF

from mailctl.core import db as core_db
from mailctl.core.config import Settings, build_settings, sandbox_defaults
from mailctl.services import Tx, domains
from mailctl.services.unit import Work
from mailctl.store import guide, retry
from mailctl.store.connection import Db, connect
from mailctl.store.retry import ConnectionLost, RetriesExhausted, WriteConflict


class Notes:
    """What the unit of work prints, kept."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, message: str, *, force: bool = False) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append(f"warning: {message}")

    def echo(self, text: str, *, nl: bool = True) -> None:
        self.lines.append(text)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    data = sandbox_defaults(tmp_path / "host")
    data["server"] = {"admin_email": "admin@example.org"}
    data["dkim"] = {**data["dkim"], "bits": 1024}
    data["commands"] = dict(COMMANDS_OFF)
    return build_settings(data)


@pytest.fixture
def db(settings: Settings) -> Iterator[Db]:
    url = settings.database.url
    store = connect(url, create=True)
    core_db.upgrade(create_engine(url))
    yield store
    store.close()


def files(settings: Settings) -> dict[str, bytes]:
    root = Path(settings.database.url.removeprefix("sqlite:///")).parent
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix not in (".sqlite3", ".log", ".lock")
    }


def refused(code: int | str) -> WriteConflict:
    return WriteConflict("database error on sqlite:///x: refused", code)


def test_a_refused_change_runs_again_from_the_start_and_lands_once(
    settings: Settings, db: Db
) -> None:
    out, attempts = Notes(), []

    def add(tx: Tx) -> str:
        domain = domains.add_domain(tx, "rerun.example")  # rows, a key and its files
        attempts.append(domain.name)
        if len(attempts) < 3:
            raise refused(1213 if len(attempts) == 1 else "40001")
        return domain.name

    assert Work(settings, out).run(db, add) == "rerun.example"
    assert attempts == ["rerun.example"] * 3
    assert [d.name for d in guide.domains(db)] == ["rerun.example"]
    warnings = [line for line in out.lines if line.startswith("warning: ")]
    assert len(warnings) == 1  # the weak key's, once: refused attempts report nothing
    notes = [line for line in out.lines if line not in warnings]
    assert [line.split(" in ")[0] for line in notes] == [
        "the database refused the change (deadlock or Galera certification conflict (1213));"
        " running it again",
        "the database refused the change (serialization failure (40001)); running it again",
    ]
    assert notes[1].endswith("(attempt 3 of 6)")
    keys = [name for name in files(settings) if name.endswith(".private")]
    assert keys == ["opendkim/keys/rerun.example/mail.private"]


def test_a_change_refused_every_time_ends_in_one_line_and_changes_nothing(
    settings: Settings, db: Db
) -> None:
    Work(settings, Notes()).run(db, lambda tx: domains.add_domain(tx, "before.example"))
    before = files(settings)
    out, attempts = Notes(), []

    def add(tx: Tx) -> None:
        domains.add_domain(tx, "never.example")
        attempts.append(1)
        raise refused(1205)

    with pytest.raises(RetriesExhausted) as caught:
        Work(settings, out).run(db, add)
    assert len(attempts) == retry.ATTEMPTS
    assert len(out.lines) == retry.ATTEMPTS - 1  # a note before each rerun, nothing else
    assert str(caught.value) == (
        "the database refused the change 6 times (lock wait timeout (1205)), so nothing was"
        " changed; run the command again. Last error: database error on sqlite:///x: refused"
    )
    assert [d.name for d in guide.domains(db)] == ["before.example"]
    assert files(settings) == before


def test_a_connection_lost_before_commit_is_run_again_on_a_new_one(
    settings: Settings, db: Db
) -> None:
    first = db.raw
    attempts = []

    def add(tx: Tx) -> None:
        attempts.append(tx.db.raw)
        if len(attempts) == 1:
            raise ConnectionLost("lost the connection to sqlite:///x: gone")
        domains.add_domain(tx, "again.example")

    Work(settings, Notes()).run(db, add)
    assert attempts[0] is first and attempts[1] is not first and db.raw is attempts[1]
    assert [d.name for d in guide.domains(db)] == ["again.example"]


def test_other_errors_are_not_run_again(settings: Settings, db: Db) -> None:
    from mailctl.errors import AlreadyExists

    Work(settings, Notes()).run(db, lambda tx: domains.add_domain(tx, "once.example"))
    out = Notes()
    with pytest.raises(AlreadyExists):
        Work(settings, out).run(db, lambda tx: domains.add_domain(tx, "once.example"))
    assert out.lines == []


def test_the_drivers_errors_that_a_rerun_gets_past() -> None:
    import MySQLdb
    import psycopg
    import pymysql

    assert retry.retryable_code(pymysql.err.OperationalError(1213, "Deadlock found")) == 1213
    assert retry.retryable_code(pymysql.err.InternalError(1047, "WSREP has not yet...")) == 1047
    assert retry.retryable_code(MySQLdb.OperationalError(1205, "Lock wait timeout")) == 1205
    assert retry.retryable_code(psycopg.errors.SerializationFailure("x")) == "40001"
    assert retry.retryable_code(psycopg.errors.DeadlockDetected("x")) == "40P01"
    assert retry.retryable_code(pymysql.err.IntegrityError(1062, "Duplicate entry")) is None
    assert retry.retryable_code(psycopg.errors.UniqueViolation("x")) is None
    assert WriteConflict("x", 1047).needs_new_connection
    assert not WriteConflict("x", 1213).needs_new_connection


def test_waits_grow_with_each_attempt_but_stay_random_and_bounded() -> None:
    for attempt in range(1, 10):
        ceiling = min(retry.MAX_DELAY, retry.FIRST_DELAY * 2 ** (attempt - 1))
        waits = {retry.delay(attempt) for _ in range(50)}
        assert all(0 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jitter: two writers that collided do not wait alike
