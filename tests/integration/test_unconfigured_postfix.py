"""A host where Postfix is installed but not configured (Debian's "No
configuration": no main.cf): a real config refuses the change in one line and
changes nothing, and doctor names the cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import Mailctl, add_admin_mailbox
from support.env import program
from support.files import make_cert, snapshot


@pytest.fixture
def unconfigured(tmp_path: Path) -> Path:
    """A Postfix config directory without main.cf, like /etc/postfix on a fresh machine."""
    directory = tmp_path / "postfix-unconfigured"
    directory.mkdir()
    return directory


def certify(m: Mailctl, domain: str) -> None:
    make_cert(m.root / "certs" / domain, [domain, f"smtp.{domain}", f"imap.{domain}"])


@pytest.mark.parametrize("step", ["postmap", "check_postfix"])
def test_domain_add_names_the_missing_main_cf_and_changes_nothing(
    lite: Mailctl, unconfigured: Path, step: str
) -> None:
    lite("domain", "add", "example.nl")
    certify(lite, "example2.nl")  # so the SNI map changes and postmap must run
    argv = {
        "postmap": [program("postmap"), "-c", str(unconfigured)],
        "check_postfix": [program("postfix"), "-c", str(unconfigured), "check"],
    }[step]
    lite.reconfigure(commands={step: argv})
    before, files = lite.dump(), snapshot(lite.root)
    out = lite("domain", "add", "example2.nl", code=1)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"Postfix is not configured: {unconfigured}/main.cf does not exist" in lines[0]
    assert "configure Postfix first" in lines[0] and "nothing was changed" in lines[0]
    assert "Traceback" not in out.output
    assert lite.dump() == before and snapshot(lite.root) == files


def test_doctor_names_the_unconfigured_postfix(lite: Mailctl, unconfigured: Path) -> None:
    lite("domain", "add", "example.nl")
    add_admin_mailbox(lite)
    healthy = {r["check"]: r for r in json.loads(lite("doctor", "-f", "json").stdout)}
    assert healthy["postfix config"]["status"] == "OK"
    lite.reconfigure(commands={"postmap": [program("postmap"), "-c", str(unconfigured)]})
    out = lite("doctor", "-f", "json", code=1)
    found = {r["check"]: r for r in json.loads(out.stdout)}
    assert found["postfix config"]["status"] == "FAIL"
    assert f"{unconfigured}/main.cf does not exist" in found["postfix config"]["detail"]
