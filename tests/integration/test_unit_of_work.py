"""Every mutating command runs in the one unit of work (services.unit): it waits
for the lock, and writes one audit line whether it succeeds or fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli import Mailctl
from support.files import make_cert


def audit_lines(m: Mailctl) -> list[dict[str, object]]:
    log = m.root / "audit.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def hold_lock(path: Path) -> subprocess.Popen[str]:
    """Another process holding mailctl's lock (as a concurrent mailctl would)."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(30)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


COMMANDS = {
    "sync": ["sync"],
    "setup render": ["setup", "render", "--dovecot-version", "2.3"],
    "db upgrade": ["db", "upgrade"],
    "domain add": ["domain", "add", "example2.nl"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_mutating_commands_wait_for_the_lock(lite: Mailctl, name: str) -> None:
    lite("domain", "add", "example.nl")
    make_cert(lite.root / "certs" / "example.nl", ["example.nl", "smtp.example.nl"])
    lite.reconfigure(lock={"timeout": 1})
    before = len(audit_lines(lite))
    holder = hold_lock(lite.root / "mailctl.lock")
    try:
        started = time.monotonic()
        out = lite(*COMMANDS[name], code=1)
        assert time.monotonic() - started >= 0.9
    finally:
        holder.kill()
        holder.wait()
    assert "another mailctl holds the lock" in out.stderr
    entries = audit_lines(lite)[before:]
    assert len(entries) == 1 and str(entries[0]["result"]).startswith("error: another mailctl")


def test_sync_audits_what_it_wrote_and_check_writes_no_line(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    make_cert(lite.root / "certs" / "example.nl", ["example.nl", "smtp.example.nl"])
    before = len(audit_lines(lite))
    lite("sync", "--check", code=1)
    assert len(audit_lines(lite)) == before
    lite("sync")
    (entry,) = audit_lines(lite)[before:]
    assert entry["result"] == "ok" and entry["command"] == ["mailctl", *entry["command"][1:]]
    assert str(lite.root / "vmail_ssl.map") in entry["changes"]  # type: ignore[operator]


def test_setup_render_and_db_upgrade_audit_success_and_failure(lite: Mailctl) -> None:
    before = len(audit_lines(lite))
    lite("setup", "render", "--dovecot-version", "2.3")
    (rendered,) = audit_lines(lite)[before:]
    assert rendered["result"] == "ok"
    assert any(str(c).startswith(f"wrote {lite.root / 'postfix'}") for c in rendered["changes"])  # type: ignore[attr-defined]
    # A map directory that cannot be created: the failure is audited too.
    (lite.root / "blocked").write_text("a file where a directory should be\n")
    lite.reconfigure(setup={"postfix_map_dir": str(lite.root / "blocked" / "postfix")})
    os.remove(lite.root / "postfix" / "sqlite-virtual-alias-maps.cf")
    lite("setup", "render", "--dovecot-version", "2.3", code=1)
    failed = audit_lines(lite)[-1]
    assert str(failed["result"]).startswith("error: ")
    lite("db", "upgrade")  # already current: nothing to record, no line
    assert audit_lines(lite)[-1] == failed
