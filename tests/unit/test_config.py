"""Config loading: guide defaults, sandbox, validation with key paths, file modes."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from mailctl.core.config import (
    build_settings,
    database_url,
    load_settings,
    mask_url,
    render_toml,
)
from mailctl.errors import ConfigError


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_defaults_are_the_guides_values() -> None:
    s = build_settings({})
    assert s.database.url == "mysql+pymysql://mailctl@127.0.0.1/mailserver"
    assert (s.vmail.uid, s.vmail.gid, s.vmail.home) == (5000, 5000, "/var/mail/vhosts")
    assert s.passwords.scheme == "SHA512-CRYPT"
    assert s.dkim.key_table == "/etc/opendkim/KeyTable"
    assert s.postfix.sni_map == "/etc/postfix/vmail_ssl.map"
    assert s.dovecot.sni_conf == "/etc/dovecot/conf.d/11-ssl-sni.conf"
    assert s.commands.reload_postfix == ["postfix", "reload"]


def test_no_config_file_means_sandbox_under_xdg_data_home(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    s = load_settings(None, None, env)
    assert s.sandbox
    root = tmp_path / "data" / "mailctl"
    assert s.database.url == f"sqlite:///{root / 'mailctl.sqlite3'}"
    assert s.dkim.key_dir.startswith(str(root))
    assert s.commands.reload_postfix == []


def test_db_override_wins_over_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[database]\nurl = "sqlite:///a.db"\n')
    s = load_settings(str(cfg), "sqlite:///b.db", {})
    assert s.database.url == "sqlite:///b.db"
    s = load_settings(None, None, {"MAILCTL_CONFIG": str(cfg), "MAILCTL_DB_URL": "sqlite:///c.db"})
    assert s.database.url == "sqlite:///c.db"
    assert not s.sandbox


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[dkim]\nbits = 512\n", "At 'dkim.bits': must be an integer from 1024 to 8192"),
        ("[dkim]\nbits = \"many\"\n", "At 'dkim.bits': must be an integer"),
        ("[passwords]\nscheme = \"md5\"\n", "At 'passwords.scheme': must be one of"),
        ("[vmail]\ncreate_maildirs = 1\n", "At 'vmail.create_maildirs': must be true or false"),
        ("[postfix]\nsni_names = \"smtp\"\n", "At 'postfix.sni_names': must be a list of strings"),
        ("[dkim]\nbitz = 2048\n", "At 'dkim.bitz': unknown key"),
        ("[dkm]\nbits = 2048\n", "At 'dkm': unknown section"),
        ("dkim = 3\n", "At 'dkim': must be a table"),
        ("[database]\nurl = \"localhost\"\n", "At 'database.url': must be a database URL"),
    ],
)
def test_errors_name_the_key_path(tmp_path: Path, toml: str, message: str) -> None:
    cfg = write(tmp_path / "c.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_settings(str(cfg), None, {})
    assert message in str(info.value)


def test_scheme_names_are_case_insensitive(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[passwords]\nscheme = "blf-crypt"\n')
    assert load_settings(str(cfg), None, {}).passwords.scheme == "BLF-CRYPT"


def test_invalid_toml_is_one_clear_error(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[dkim\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(str(cfg), None, {})


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "nope.toml"), None, {})


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_config_readable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    cfg = write(tmp_path / "c.toml", "", mode)
    with pytest.raises(ConfigError) as info:
        load_settings(str(cfg), None, {})
    assert f"chmod 600 {cfg}" in str(info.value)


def test_password_file_goes_into_the_url_and_must_be_private(tmp_path: Path) -> None:
    secret = write(tmp_path / "db.password", "s3cr3t/p@ss\n")
    cfg = write(
        tmp_path / "c.toml",
        f'[database]\nurl = "mysql+pymysql://mailctl@127.0.0.1/mailserver"\n'
        f'password_file = "{secret}"\n',
    )
    s = load_settings(str(cfg), None, {})
    url = database_url(s)
    from sqlalchemy.engine import make_url

    assert make_url(url).password == "s3cr3t/p@ss"
    os.chmod(secret, 0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        database_url(s)


def test_mask_url_hides_the_password() -> None:
    assert mask_url("mysql+pymysql://u:pw@h/db") == "mysql+pymysql://u:***@h/db"
    assert mask_url("mysql+pymysql://u@h/db") == "mysql+pymysql://u@h/db"
    assert mask_url("sqlite:////x/y.db") == "sqlite:////x/y.db"


def test_rendered_config_is_complete_and_loads_back(tmp_path: Path) -> None:
    original = build_settings({"server": {"hostname": "mx.example.org"}, "dkim": {"bits": 3072}})
    text = render_toml(original, masked=False, commented=True)
    assert "# RSA key size" in text
    parsed = tomllib.loads(text)
    assert parsed["server"]["hostname"] == "mx.example.org"
    again = build_settings(parsed)
    assert again == original
