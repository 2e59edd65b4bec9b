"""The newcomer's path: no config, no root, no server — the installed `mailctl`
runs on its embedded SQLite sandbox and says so on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.cli import Mailctl
from support.env import program


def run(
    *args: str, env: dict[str, str], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailctl", *args],
        capture_output=True,
        text=True,
        env=env,
        input=input,
        timeout=120,
        check=False,
        cwd=env["HOME"],
    )


def test_sandbox_without_config(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCTL_")}
    env["HOME"] = str(tmp_path)
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    added = run("domain", "add", "example.nl", env=env)
    assert added.returncode == 0, added.stderr
    assert added.stderr.count("using the sandbox in") == 1
    # Postfix is installed but, as on a fresh Debian machine, has no main.cf (the
    # suite points $MAIL_CONFIG at nothing): one warning line, and the rest works.
    program("postmap")
    warnings = [line for line in added.stderr.splitlines() if "Postfix is not configured" in line]
    assert len(warnings) == 1, added.stderr
    assert f"{env['MAIL_CONFIG']}/main.cf does not exist; skipped: postmap -F" in warnings[0]
    assert str(tmp_path / "data" / "mailctl") in added.stderr
    listed = run("-q", "domain", "list", "--format", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""  # -q silences the notice
    assert json.loads(listed.stdout)[0]["domain"] == "example.nl"
    assert (tmp_path / "data" / "mailctl" / "mailctl.sqlite3").is_file()
    assert (tmp_path / "data" / "mailctl" / "mailctl.sqlite3").stat().st_mode & 0o777 == 0o600
    user = run(
        "user", "add", "joe@example.nl", "--password-stdin", env=env, input="sandbox password\n"
    )
    assert user.returncode == 0, user.stderr


def test_config_show_masks_secrets(maria: Mailctl, tmp_path: Path) -> None:
    secret = tmp_path / "db.password"
    secret.write_text("hunter2-very-secret\n")
    os.chmod(secret, 0o600)
    maria.reconfigure(database={
        "url": "mysql+pymysql://mailctl:inline-secret@127.0.0.1/mailserver",
        "password_file": str(secret),
    })
    shown = maria("config", "show").stdout
    assert "mysql+pymysql://mailctl:***@127.0.0.1/mailserver" in shown
    assert "inline-secret" not in shown and "hunter2" not in shown
    as_json = json.loads(maria("config", "show", "--format", "json").stdout)
    assert as_json["database"]["password_file"] == str(secret)
    assert as_json["source"] == str(maria.config)


def test_world_readable_config_is_refused(maria: Mailctl) -> None:
    os.chmod(maria.config, 0o644)
    out = maria("domain", "list", code=1)
    assert f"chmod 600 {maria.config}" in out.stderr
