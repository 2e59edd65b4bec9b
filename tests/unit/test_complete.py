"""Completion finds the database exactly as every other command does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailctl.cli import complete
from mailctl.cli.complete import _like_prefix, database_location
from mailctl.core import config
from mailctl.core.config import load_settings


def _config(tmp_path: Path, body: str, mode: int = 0o600) -> str:
    path = tmp_path / "config.toml"
    path.write_text(body)
    os.chmod(path, mode)
    return str(path)


@pytest.mark.parametrize(
    ("body", "db_url", "env_url"),
    [
        ('[database]\nurl = "sqlite:////srv/m.sqlite3"\n', None, None),
        ('[database]\nurl = "mysql+pymysql://u@db/mail"\npassword_file = "/etc/pw"\n', None, None),
        ('[database]\nurl = "mysql+pymysql://u@a/m"\nfailover = ["b", "c:3307"]\n', None, None),
        ("[server]\nhostname = 'mail.example.nl'\n", None, None),  # the default URL
        ('[database]\nurl = "sqlite:////srv/m.sqlite3"\n', "sqlite:////other.sqlite3", None),
        ('[database]\nurl = "sqlite:////srv/m.sqlite3"\n', None, "postgresql+psycopg://p@h/d"),
    ],
)
def test_same_database_as_load_settings(
    tmp_path: Path, body: str, db_url: str | None, env_url: str | None
) -> None:
    env = {"HOME": str(tmp_path), **({"MAILCTL_DB_URL": env_url} if env_url else {})}
    path = _config(tmp_path, body)
    settings = load_settings(path, db_url, env)
    database = settings.database
    expected = (database.url, database.password_file, tuple(database.failover))
    assert database_location(path, db_url, env) == expected
    assert database_location(None, db_url, {**env, "MAILCTL_CONFIG": path}) == expected


def test_sandbox_like_load_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absent = tmp_path / "etc-mailctl-config.toml"  # whatever this host has in /etc
    monkeypatch.setattr(config, "DEFAULT_CONFIG_PATH", absent)
    monkeypatch.setattr(complete, "DEFAULT_CONFIG_PATH", str(absent))
    for env in ({"HOME": str(tmp_path)}, {"HOME": "/x", "XDG_DATA_HOME": str(tmp_path / "d")}):
        settings = load_settings(None, None, env)
        assert settings.sandbox
        assert database_location(None, None, env) == (settings.database.url, "", ())


def test_refuses_what_load_settings_refuses(tmp_path: Path) -> None:
    with pytest.raises(PermissionError):
        database_location(_config(tmp_path, "", mode=0o644), None, {})
    with pytest.raises(FileNotFoundError):
        database_location(str(tmp_path / "missing.toml"), None, {})


def test_like_prefix_escapes_wildcards() -> None:
    assert _like_prefix("a_b%c!") == "a!_b!%c!!%"


def test_defaults_match_the_config_module() -> None:
    assert complete.DEFAULT_CONFIG_PATH == str(config.DEFAULT_CONFIG_PATH)
    assert complete.DEFAULT_URL == config.DatabaseSettings().url
