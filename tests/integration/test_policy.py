"""Account policy through the CLI on every backend: suspension, per-service flags,
quotas and domain limits, send-as grants, the reports, and bad input that
changes nothing. (That Postfix and Dovecot enforce it is proved in tests/e2e.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from support.cli import Mailctl

PW = "correct horse battery\n"


@pytest.fixture
def hosted(mailctl: Mailctl) -> Mailctl:
    mailctl("domain", "add", "example.nl", "example.org")
    for login in ("anna@example.nl", "ben@example.nl"):
        mailctl("user", "add", login, "--password-stdin", input=PW)
    return mailctl


def show(m: Mailctl, email: str) -> dict[str, object]:
    record: dict[str, object] = json.loads(m("user", "show", email, "-f", "json").stdout)
    return record


def test_suspend_and_resume_a_user(hosted: Mailctl) -> None:
    m = hosted
    m("user", "suspend", "anna@example.nl", "--reason", "sent spam")
    shown = show(m, "anna@example.nl")
    assert (shown["status"], shown["suspend_reason"]) == ("suspended", "sent spam")
    assert m.query(
        "SELECT suspended, suspend_reason FROM mailctl_user_policy p"
        " JOIN virtual_users u ON u.id = p.user_id WHERE u.email = 'anna@example.nl'"
    ) == [(1, "sent spam")]
    again = m("user", "suspend", "anna@example.nl", code=1)
    assert again.stderr == "mailctl: error: user anna@example.nl is suspended already\n"
    m("user", "resume", "anna@example.nl")
    assert show(m, "anna@example.nl")["status"] == "active"
    assert show(m, "ben@example.nl")["status"] == "active"


def _fake_kick(m: Mailctl, tmp_path: Path, exit_code: int) -> Path:
    """commands.kick as a script that logs its arguments and exits `exit_code`."""
    log = tmp_path / "kicked"
    script = tmp_path / "kick"
    script.write_text(f'#!/bin/sh\necho "$@" >>{log}\nexit {exit_code}\n')
    script.chmod(0o700)
    m.reconfigure(commands={"kick": [str(script)]})
    return log


def test_suspending_a_login_without_sessions_is_no_error(lite: Mailctl, tmp_path: Path) -> None:
    """doveadm kick exits 68 ("no users kicked") when there is no session (tests/e2e
    shows it on the real Dovecot): that is success, and the audit names no ended session."""

    def audited() -> str:
        last = (lite.root / "audit.log").read_text().splitlines()[-1]
        return "\n".join(json.loads(last)["changes"])

    lite("domain", "add", "example.nl")
    lite("user", "add", "anna@example.nl", "--password-stdin", input=PW)
    log = _fake_kick(lite, tmp_path, 68)
    lite("user", "suspend", "anna@example.nl")
    assert log.read_text() == "anna@example.nl\n"
    assert "suspended" in audited() and "sessions" not in audited()
    lite("user", "resume", "anna@example.nl")
    _fake_kick(lite, tmp_path, 0)
    lite("user", "suspend", "anna@example.nl")
    assert f"ended ({tmp_path / 'kick'} anna@example.nl)" in audited()
    # any other failure: saved, but the sessions may still be open (exit 3)
    lite("user", "resume", "anna@example.nl")
    _fake_kick(lite, tmp_path, 75)
    out = lite("domain", "suspend", "example.nl", code=3)
    assert "changes are saved, but" in out.stderr and "(exit 75)" in out.stderr
    assert show(lite, "anna@example.nl")["status"] == "suspended"


def test_services_and_quota(hosted: Mailctl) -> None:
    m = hosted
    m("user", "set", "anna@example.nl", "--no-imap", "--no-smtp", "--quota", "500M")
    shown = show(m, "anna@example.nl")
    assert (shown["status"], shown["quota"]) == ("no imap,smtp", "500M")
    m("user", "set", "anna@example.nl", "--imap", "--quota", "default")
    assert show(m, "anna@example.nl")["quota"] == "unlimited"  # no domain default
    m("domain", "set", "example.nl", "--default-quota", "1G")
    assert show(m, "anna@example.nl")["quota"] == "1G"
    assert show(m, "anna@example.nl")["status"] == "no smtp"
    m("user", "set", "anna@example.nl", "--quota", "unlimited")
    assert show(m, "anna@example.nl")["quota"] == "unlimited"


def test_domain_limits_refuse_with_one_line_and_change_nothing(hosted: Mailctl) -> None:
    m = hosted
    m("domain", "set", "example.nl", "--max-users", "2", "--max-aliases", "5",
      "--max-quota", "2G", "--default-quota", "1G")
    before = m.dump()
    cases = [
        (("user", "add", "cees@example.nl", "--password-stdin"), PW, "max-users 2"),
        (("user", "set", "anna@example.nl", "--quota", "3G"), None, "max-quota 2G"),
        (("user", "set", "anna@example.nl", "--quota", "unlimited"), None, "max-quota 2G"),
        (("alias", "add", "info@example.nl", "anna@example.nl"), None, "max-aliases 5"),
        (("domain", "set", "example.nl", "--default-quota", "3G"), None, "exceeds max-quota"),
    ]
    # postmaster@, abuse@ and the two report addresses are four of the five; a fifth fits
    m("alias", "add", "sales@example.nl", "ben@example.nl")
    before = m.dump()
    for args, stdin, message in cases:
        result = m(*args, input=stdin, code=1)
        assert result.stderr.count("\n") == 1 and message in result.stderr, (args, result.stderr)
        assert m.dump() == before, args
    m("alias", "add", "sales@example.nl", "anna@example.nl")  # extending an alias is no new one
    m("domain", "set", "example.nl", "--max-users", "none")
    m("user", "add", "cees@example.nl", "--password-stdin", input=PW)
    lowered = m("domain", "set", "example.nl", "--max-users", "1")
    assert "has 3 users, more than max-users 1" in lowered.stderr  # kept, and said
    shown = json.loads(m("domain", "show", "example.nl", "-f", "json").stdout)
    assert (shown["max_users"], shown["max_quota"], shown["default_quota"]) == (1, "2G", "1G")


def test_domain_suspension(hosted: Mailctl) -> None:
    m = hosted
    m("domain", "suspend", "example.nl", "--no-receive", "--reason", "unpaid")
    assert {show(m, u)["status"] for u in ("anna@example.nl", "ben@example.nl")} == {"suspended"}
    shown = json.loads(m("domain", "show", "example.nl", "-f", "json").stdout)
    assert (shown["status"], shown["suspend_reason"]) == ("suspended, mail refused", "unpaid")
    m("domain", "resume", "example.nl")
    assert show(m, "anna@example.nl")["status"] == "active"
    assert m.query("SELECT suspended, receive FROM mailctl_domain_policy") == [(0, 1)]


def test_send_as_grants(hosted: Mailctl) -> None:
    m = hosted
    m("sender", "allow", "anna@example.nl", "sales@example.nl")
    m("sender", "allow", "anna@example.nl", "@EXAMPLE.org")
    m("sender", "allow", "ben@example.nl", "anna@example.nl")
    listed = json.loads(m("sender", "list", "-f", "json").stdout)
    assert listed == [
        {"login": "anna@example.nl", "may_send_as": "@example.org"},
        {"login": "anna@example.nl", "may_send_as": "sales@example.nl"},
        {"login": "ben@example.nl", "may_send_as": "anna@example.nl"},
    ]
    assert show(m, "anna@example.nl")["send_as"] == ["@example.org", "sales@example.nl"]
    for args, message in (
        (("anna@example.nl", "anna@example.nl"), "may always send as itself"),
        (("anna@example.nl", "sales@example.nl"), "already"),
        (("anna@example.nl", "x@not-hosted.example"), "not-hosted.example"),
        (("anna@example.nl", "@not-hosted.example"), "not-hosted.example"),
        (("nobody@example.nl", "sales@example.nl"), "does not exist"),
    ):
        result = m("sender", "allow", *args, code=1)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    m("sender", "deny", "anna@example.nl", "@example.org")
    assert m("sender", "deny", "anna@example.nl", "@example.org", code=1).stderr.count("\n") == 1
    m("user", "del", "ben@example.nl", "--yes")  # its grants go with it
    assert m("sender", "list", "-f", "plain").stdout == "anna@example.nl\tsales@example.nl\n"


def test_reports_read_what_dovecot_wrote(hosted: Mailctl) -> None:
    m = hosted
    m("user", "add", "cees@example.org", "--password-stdin", input=PW)
    m("user", "set", "anna@example.nl", "--quota", "100M")
    m("user", "set", "ben@example.nl", "--quota", "100M")
    # what Dovecot's quota_clone and last_login plugins write
    m.execute(
        "INSERT INTO mailctl_quota_usage (username, bytes, messages) VALUES"
        " ('anna@example.nl', 10485760, 3), ('ben@example.nl', 94371840, 40)"
    )
    m.execute(f"INSERT INTO mailctl_last_login VALUES ('ben@example.nl', {int(time.time())})")
    usage = json.loads(m("report", "usage", "-f", "json").stdout)
    assert [(r["email"], r["used_pct"]) for r in usage] == [
        ("ben@example.nl", "90.0"),
        ("anna@example.nl", "10.0"),
        ("cees@example.org", ""),
        ("total @example.nl", "50.0"),
        ("total @example.org", ""),
    ]
    listed = json.loads(m("user", "list", "example.nl", "-f", "json").stdout)
    assert [(u["used"], u["quota"]) for u in listed] == [("10M", "100M"), ("90M", "100M")]
    idle = json.loads(m("report", "inactive", "--days", "0", "-f", "json").stdout)
    assert [r["email"] for r in idle] == ["anna@example.nl", "cees@example.org"]
    m("user", "del", "ben@example.nl", "--yes")  # Dovecot's rows of a deleted user go too
    assert m.query("SELECT username FROM mailctl_quota_usage") == [("anna@example.nl",)]
    assert m.query("SELECT COUNT(*) FROM mailctl_last_login") == [(0,)]
    m("domain", "del", "example.nl", "--yes")
    assert m.query("SELECT COUNT(*) FROM mailctl_quota_usage") == [(0,)]


@pytest.mark.parametrize(
    "args",
    [
        ("user", "set", "anna@example.nl"),
        ("user", "set", "anna@example.nl", "--quota", "lots"),
        ("user", "set", "anna@example.nl", "--quota", "0"),
        ("user", "set", "anna@example.nl", "--quota", "99999999999999999999"),
        ("user", "suspend", "anna@example.nl", "--reason", "x" * 256),
        ("user", "suspend", "anna@example.nl", "--reason", "bad\nreason"),
        ("user", "suspend", "nobody@example.nl"),
        ("user", "resume", "anna@example.nl"),
        ("domain", "set", "example.nl"),
        ("domain", "set", "example.nl", "--max-users", "-1"),
        ("domain", "set", "example.nl", "--max-aliases", "ten"),
        ("domain", "set", "example.nl", "--max-quota", "2X"),
        ("domain", "suspend", "nowhere.example"),
        ("domain", "resume", "example.nl"),
        ("sender", "deny", "anna@example.nl", "sales@example.nl"),
        ("sender", "allow", "anna@example.nl", "not an address"),
        ("report", "usage", "nowhere.example"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(hosted: Mailctl, args: tuple[str, ...]) -> None:
    before = hosted.dump()
    result = hosted(*args, code=None)
    assert result.exit_code in (1, 2), result.output
    if result.exit_code == 1:
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("mailctl: error: "), result.stderr
    else:  # click's usage error: its usage line, then one line naming the problem
        assert result.stderr.splitlines()[-1].startswith(("Error:", "mailctl: error:"))
    assert "Traceback" not in result.output
    assert hosted.dump() == before


def test_dry_run_shows_and_writes_nothing(hosted: Mailctl) -> None:
    before = hosted.dump()
    out = hosted("user", "suspend", "anna@example.nl", "--dry-run")
    assert "UPDATE mailctl_user_policy: anna@example.nl (suspended)" in out.stdout
    hosted("domain", "set", "example.nl", "--max-users", "1", "--dry-run")
    hosted("sender", "allow", "anna@example.nl", "@example.org", "--dry-run")
    assert hosted.dump() == before
