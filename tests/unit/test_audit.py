"""The audit log never holds a secret, however a password reaches the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mailctl.core import audit


@pytest.mark.parametrize(
    ("argv", "secret"),
    [
        (["--db", "mysql+pymysql://mailctl:hunter2@db.example/mail", "domain", "add", "x.nl"],
         "hunter2"),
        (["--db=postgresql+psycopg://u:p%40ss@h:5432/d", "user", "del", "a@x.nl"], "p%40ss"),
        (["--db", "mysql+pymysql://mailctl:pa/ss@db.example/mail", "sync"], "pa/ss"),
        (["setup", "sql", "--admin-url", "mysql+pymysql://root:topsecret@127.0.0.1/"],
         "topsecret"),
    ],
)
def test_urls_in_the_command_are_masked(
    argv: list[str], secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["mailctl", *argv])
    log = tmp_path / "audit.log"
    audit.append(log, changes=["x"], result="ok")
    entry = json.loads(log.read_text())
    assert secret not in log.read_text()
    assert any(":***@" in arg for arg in entry["command"])
    assert entry["command"][0] == "mailctl" and len(entry["command"]) == len(argv) + 1
    assert log.stat().st_mode & 0o777 == 0o600


def test_plain_arguments_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--db", "sqlite:////var/lib/mailctl/db.sqlite3", "alias", "add", "a@x.nl", "b@y.nl"]
    monkeypatch.setattr(sys, "argv", ["mailctl", *argv])
    audit.append(tmp_path / "audit.log", changes=[], result="ok")
    assert json.loads((tmp_path / "audit.log").read_text())["command"] == ["mailctl", *argv]


@pytest.mark.parametrize(
    "text",
    ["", "plain", 'quo"te', "back\\slash", "tab\tnew\nline\r", "\b\f\x00\x01\x1f\x7f",
     "ünïcødé ✓ 𝄞", "\u2028\u2029", "</script>", "a\\u0041"],
)
def test_lines_are_what_json_dumps_writes(text: str) -> None:
    entry = {"time": text, "user": None, "command": ["mailctl", text, ""], "changes": []}
    line = audit.json_line(entry)
    assert line == (json.dumps(entry, ensure_ascii=False) + "\n").encode()
    assert json.loads(line) == entry


def test_an_argument_that_is_not_utf8_is_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sys.argv holds undecodable bytes as lone surrogates: written as \\udcXX, not a crash."""
    undecodable = b"\xff@x.nl".decode(errors="surrogateescape")
    monkeypatch.setattr(sys, "argv", ["mailctl", "alias", "add", undecodable])
    audit.append(tmp_path / "audit.log", changes=[], result="error")
    raw = (tmp_path / "audit.log").read_bytes()
    assert b"\\udcff@x.nl" in raw
    assert json.loads(raw)["command"][3] == "\udcff@x.nl"


def test_the_user_is_getpass_user(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    assert audit._user() == getpass.getuser()
    monkeypatch.setenv("USER", "someone")
    assert audit._user() == "someone" == getpass.getuser()
