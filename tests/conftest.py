"""Shared fixtures: real databases, user-environment isolation, strict mode."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Make tests/helpers.py importable from every test module whatever pytest's
# import mode; pyproject.toml is not ours to change (no `pythonpath` option).
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from helpers import STRICT, need  # noqa: E402  (needs the sys.path line above)

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


def _unique_db_name() -> str:
    # Unique per test so tests (and concurrent runs) never share state; the
    # prefix makes leftovers of a killed run easy to find and drop.
    return f"mailctl_t_{secrets.token_hex(6)}"


# ------------------------------------------------------------------ databases


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty utf8mb4 MariaDB database."""
    import pymysql

    try:
        conn = pymysql.connect(**MARIADB, connect_timeout=5, autocommit=True)
    except pymysql.err.OperationalError as exc:
        need(False, f"MariaDB not reachable on {MARIADB['host']}:{MARIADB['port']} as root: {exc}")
        raise  # unreachable: need() always raises here; keeps type checkers happy
    name = _unique_db_name()
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    finally:
        with conn.cursor() as cur:
            # A connection the test leaked (say, an engine's pool with an open
            # transaction) holds a metadata lock that would make DROP DATABASE
            # hang forever; kill those first, like PostgreSQL's WITH (FORCE).
            cur.execute(
                "SELECT id FROM information_schema.processlist"
                " WHERE db = %s AND id <> CONNECTION_ID()",
                (name,),
            )
            for (pid,) in cur.fetchall():
                try:
                    cur.execute(f"KILL {int(pid)}")
                except pymysql.err.OperationalError:
                    pass  # already gone
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database."""
    try:
        import psycopg
    except ImportError:
        need(False, "psycopg not installed (extra 'postgresql')")
        raise
    try:
        # autocommit: CREATE/DROP DATABASE refuse to run inside a transaction.
        conn = psycopg.connect(**POSTGRES, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as exc:
        need(False, f"PostgreSQL not reachable on {POSTGRES['host']}:{POSTGRES['port']}: {exc}")
        raise
    name = _unique_db_name()
    try:
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        # FORCE: connections the test leaked would otherwise block the drop.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mailctl.sqlite3'}"


@pytest.fixture(
    params=[
        pytest.param("mariadb", marks=pytest.mark.mariadb, id="mariadb"),
        pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
        pytest.param("sqlite", id="sqlite"),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once per supported database backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


# ------------------------------------------------------------------ isolation


@pytest.fixture(autouse=True)
def _isolated_user_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the real user's config, data and DB URL.

    mailctl looks for its config under $XDG_CONFIG_HOME / $HOME and honours
    MAILCTL_CONFIG / MAILCTL_DB_URL; a developer's own settings must neither
    leak into a test nor be overwritten by one.
    """
    home = tmp_path / "home"
    for var, path in {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_STATE_HOME": home / ".local" / "state",
        "XDG_CACHE_HOME": home / ".cache",
    }.items():
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(path))
    monkeypatch.delenv("MAILCTL_CONFIG", raising=False)
    monkeypatch.delenv("MAILCTL_DB_URL", raising=False)


# ------------------------------------------------------------------ strict mode

_skipped: list[str] = []


def _record_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    # xfail results also come as "skipped" but are deliberate: not counted.
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _record_skip(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _record_skip(report)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if STRICT and _skipped:
        terminalreporter.section("strict mode: skipped tests fail the run", sep="=", red=True)
        for line in _skipped:
            terminalreporter.line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Strict mode means "everything must really run": a skip (pytest.skip,
    # skipif, importorskip) would otherwise let CI pass without testing.
    if STRICT and _skipped and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
