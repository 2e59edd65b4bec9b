"""The harness itself: no test may point a Postfix or Dovecot program at the
system's configuration (/etc/postfix, /etc/dovecot, /etc/opendkim), and the one
config writer validates through mailctl's own schema."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.cli import Mailctl
from support.config import layout, write_config
from support.mailconfig import MailConfig, system_config_problem

from mailctl.core.config import load_settings


@pytest.mark.parametrize(
    "argv",
    [
        ["postmap", "-F", "hash:/tmp/x/vmail_ssl.map"],
        ["/usr/sbin/postmap", "-q", "key", "hash:/tmp/x/map"],
        ["postfix", "check"],
        ["postconf", "-h", "mail_owner"],
        ["postfix", "-c", "/etc/postfix", "check"],
        ["doveadm", "pw", "-t", "{PLAIN}x", "-p", "x"],
        ["doveconf", "-n"],
        ["doveconf", "-c", "/etc/dovecot/dovecot.conf", "-n"],
        ["opendkim", "-x", "/etc/opendkim.conf"],
        ["opendkim", "-x", "/etc/opendkim/opendkim-sign.conf"],
        ["postmap", "-c"],
    ],
)
def test_system_configuration_is_refused(argv: list[str]) -> None:
    assert system_config_problem(argv) is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["postmap", "-c", "/tmp/t/postfix-etc", "-F", "hash:/tmp/t/vmail_ssl.map"],
        ["doveadm", "-c", "/tmp/t/dovecot.conf", "pw", "-t", "{PLAIN}x", "-p", "x"],
        ["dovecot", "--version"],
        ["named-checkzone", "example.nl", "/tmp/t/zone"],
        ["false"],
    ],
)
def test_private_configuration_is_allowed(argv: list[str]) -> None:
    assert system_config_problem(argv) is None


def test_the_session_guard_stops_a_system_config_call_before_it_starts() -> None:
    with pytest.raises(AssertionError, match="must not use the system's config"):
        subprocess.run(["postmap", "-q", "key", "hash:/nonexistent/map"], check=False)  # noqa: S607


def test_the_private_programs_work(mail_config: MailConfig, tmp_path: Path) -> None:
    table = tmp_path / "map"
    table.write_text("key value\n")
    assert mail_config.postmap_query("key", "inline:{ key=value }") == "value"
    assert mail_config.password_verifies("{PLAIN}secret", "secret")
    assert not mail_config.password_verifies("{PLAIN}secret", "other")


def test_config_writer_refuses_a_system_postmap(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="commands.postmap"):
        write_config(tmp_path / "c.toml", "sqlite://", tmp_path,
                     sections={"commands": {"postmap": ["postmap"]}})
    assert not (tmp_path / "c.toml").exists()


def test_config_writer_validates_with_the_product_schema(tmp_path: Path) -> None:
    from mailctl.errors import ConfigError

    with pytest.raises(ConfigError, match="dkim.bits"):
        write_config(tmp_path / "c.toml", "sqlite://", tmp_path, sections={"dkim": {"bits": 7}})


def test_reconfigure_round_trips_through_the_loader(tmp_path: Path) -> None:
    m = Mailctl.create(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db'}", tmp_path)
    m.reconfigure(dkim={"ed25519": True}, lock={"timeout": 1})
    settings = load_settings(str(m.config))
    assert settings.dkim.ed25519 is True and settings.lock.timeout == 1
    assert settings.dkim.key_table == layout(tmp_path)["dkim"]["key_table"]
    assert settings.commands.postmap == []  # off unless a private Postfix is given
    m.reconfigure(lock={"timeout": None})
    assert load_settings(str(m.config)).lock.timeout != 1


def test_created_folders_get_their_mode_whatever_the_umask(tmp_path: Path) -> None:
    import os

    from mailctl.system.files import atomic_write

    old = os.umask(0)
    try:
        created = atomic_write(tmp_path / "a" / "b" / "file", "x", mode=0o600)
    finally:
        os.umask(old)
    assert created == [tmp_path / "a", tmp_path / "a" / "b"]
    assert [d.stat().st_mode & 0o777 for d in created] == [0o755, 0o755]
    assert (tmp_path / "a" / "b" / "file").stat().st_mode & 0o777 == 0o600
