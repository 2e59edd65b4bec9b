"""Shared fixtures: real databases, user-environment isolation, strict mode."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Make the harness (tests/support) importable from every test module whatever
# pytest's import mode; tests/ itself is not a package (that would put the repo
# root, and so the source tree, on sys.path).
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from support import databases  # noqa: E402  (needs the sys.path line above)
from support.env import STRICT  # noqa: E402
from support.mailconfig import GuardedPopen, MailConfig, private_mail_config  # noqa: E402

# ------------------------------------------------------------------ databases


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty utf8mb4 MariaDB database."""
    with databases.mariadb_database() as name:
        yield databases.mariadb_url(name)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database."""
    with databases.postgres_database() as name:
        yield databases.postgres_url(name)


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


# ------------------------------------------------------------------ mail programs


@pytest.fixture(autouse=True, scope="session")
def _no_system_mail_config() -> Iterator[None]:
    """Every Postfix/Dovecot program started in this process names a private config."""
    import subprocess

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess, "Popen", GuardedPopen)
        yield


@pytest.fixture(scope="session")
def mail_config(tmp_path_factory: pytest.TempPathFactory) -> MailConfig:
    """Private Postfix and Dovecot configuration: `mail_config.postmap + [...]`,
    `mail_config.doveadm + ["pw", ...]`. Never the system's /etc/postfix."""
    return private_mail_config(tmp_path_factory.mktemp("mail-config"))


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
    # The parsed-config cache (core.configcache): the test's own, beside its files,
    # never root's /var/cache/mailctl (nor for a call given an environment of its own).
    monkeypatch.setenv("MAILCTL_CACHE_DIR", str(tmp_path / "mailctl-cache"))
    # A Postfix program run without -c reads $MAIL_CONFIG/main.cf: point that at
    # nothing, so a developer machine with /etc/postfix/main.cf fails such a call
    # exactly as a fresh machine (no main.cf) does.
    monkeypatch.setenv("MAIL_CONFIG", str(tmp_path / "no-system-postfix-config"))
    # Likewise mailctl's own default config: a machine with /etc/mailctl/config.toml
    # (an installed mailctl, the package tier's own test) must not change what
    # an in-process command without --config does.
    from mailctl.cli import complete
    from mailctl.core import config, configcache

    absent = tmp_path / "no-system-mailctl-config.toml"
    monkeypatch.setattr(config, "DEFAULT_CONFIG_PATH", absent)
    monkeypatch.setattr(complete, "DEFAULT_CONFIG_PATH", str(absent))
    monkeypatch.setattr(configcache, "ROOT_CACHE_DIR", str(tmp_path / "root-mailctl-cache"))


# ------------------------------------------------------------------ strict mode

_skipped: list[str] = []


def _record_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    # xfail results also come as "skipped" but are deliberate: not counted.
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        _skipped.append(f"{report.nodeid}: {reason}")


# The tiers that need more than the services: each test under tests/<tier>/ carries
# the tier's marker (pyproject's markers), so `-m "not galera"` and the like select.
TIERS = ("e2e", "galera", "package")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        parts = Path(str(item.fspath)).relative_to(root).parts
        if len(parts) > 1 and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


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
