"""Issue 12's proof: the account policy mailctl stores is what the running server
enforces, as `setup render` configures it (SQL passdb and userdb, the quota /
quota-status / quota_clone / last_login fragment and its SQL dict, and the
check_policy_service line in smtpd_recipient_restrictions).

Every check is the servers' own answer: an SMTP reply at RCPT or to AUTH, an IMAP
login, a message in a maildir or at the relay sink, an IMAP session that ends.
What mailctl reports back (usage, last login) is what Dovecot wrote, with no
doveadm call by mailctl. Each test uses its own domains.
"""

from __future__ import annotations

import json
import smtplib
import subprocess
import time
from calendar import timegm
from typing import Any

import pytest
from e2e_stack import (
    PASSWORD,
    ImapSession,
    Stack,
    add_domain,
    add_user,
    imap_login_works,
    inbound,
    message,
    rcpt_reply,
    send_inbound,
    smtp_auth_works,
    submission,
    wait_for,
)

from mailctl.model.sizes import format_size


def show(stack: Stack, email: str) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(stack.mailctl("user", "show", email, "-f", "json").stdout)
    return shown


def listed(stack: Stack, *args: str) -> dict[str, dict[str, Any]]:
    """`mailctl ARGS -f json` rows by email."""
    rows = json.loads(stack.mailctl(*args, "-f", "json").stdout)
    return {row["email"]: row for row in rows}


def quota_usage(stack: Stack, email: str) -> tuple[int, int] | None:
    """(bytes, messages) as Dovecot's quota_clone wrote them."""
    found = stack.query(
        "SELECT bytes, messages FROM mailctl_quota_usage WHERE username = %s", email
    )
    return (int(found[0][0]), int(found[0][1])) if found else None


def doveadm_storage_kib(stack: Stack, email: str) -> int:
    """The STORAGE value `doveadm quota get` prints: Dovecot's own count, in KiB
    rounded up."""
    done = subprocess.run(  # noqa: S603 - argv list
        [stack.programs["doveadm"], "-c", str(stack.dovecot_conf), "quota", "get", "-u", email],
        capture_output=True, text=True, timeout=30, check=True, stdin=subprocess.DEVNULL,
    )
    row = next(line for line in done.stdout.splitlines() if " STORAGE " in line)
    return int(row.split()[-3])


def send_as(stack: Stack, login: str, sender: str, marker: str) -> tuple[int, str] | None:
    """Submit as `login` with MAIL FROM `sender`: None when Postfix accepted it (and the
    relay sink got it), else the reply to RCPT."""
    rcpt = f"{marker}@outside.example"
    with submission(stack) as smtp:
        smtp.login(login, PASSWORD)
        try:
            smtp.send_message(message(sender, rcpt, marker), from_addr=sender, to_addrs=[rcpt])
        except smtplib.SMTPRecipientsRefused as refused:
            code, text = refused.recipients[rcpt]
            return code, text.decode()
    assert stack.sink.wait_for(rcpt).mail_from == sender
    return None


NOT_OWNED = 553  # reject_authenticated_sender_login_mismatch


# ------------------------------------------------------------------ quota


def test_quota_refuses_at_rcpt_and_usage_reaches_user_list(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = "quota.example"
    add_domain(stack, domain, cert=False)
    user = f"kim@{domain}"
    add_user(stack, user)
    stack.mailctl("user", "set", user, "--quota", "1M")
    assert show(stack, user)["quota"] == "1M"
    assert show(stack, user)["used"] == ""  # Dovecot has written nothing yet

    # 600 KB fits the empty mailbox
    first_message = message("a@outside.example", user, "quota-first", padding=600 * 1024)
    with inbound(stack) as smtp:
        smtp.send_message(first_message, from_addr="a@outside.example", to_addrs=[user])
    first = stack.wait_delivered(user, "quota-first")
    assert len(first) > 600 * 1024

    # the next 600 KB does not: quota-status answers Postfix's check_policy_service at
    # RCPT (smtplib announces SIZE=), and the sending client gets the reply
    second = message("a@outside.example", user, "quota-second", padding=600 * 1024)
    with inbound(stack) as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.send_message(second, from_addr="a@outside.example", to_addrs=[user])
    code, text = refused.value.recipients[user]
    assert code in (552, 554) and b"5.2.2" in text, (code, text)
    # what remains is still open: the refusal is the quota's, not the size's
    send_inbound(stack, user, "quota-small")
    stack.wait_delivered(user, "quota-small")
    assert not any(b"quota-second" in m for m in stack.delivered(user))

    # quota_clone wrote the usage into mailctl_quota_usage; `user list` and `report
    # usage` read it from there and start no program (no doveadm per user)
    used = wait_for(
        lambda: (u := quota_usage(stack, user)) and u[1] == 2 and u, "quota_clone's row"
    )
    assert -(-used[0] // 1024) == doveadm_storage_kib(stack, user)  # Dovecot's count, KiB up

    def no_programs(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"mailctl started a program: {args}")

    with monkeypatch.context() as mp:
        mp.setattr(subprocess, "Popen", no_programs)
        row = listed(stack, "user", "list", domain)[user]
        usage = listed(stack, "report", "usage", domain)[user]
    assert row["used"] == format_size(used[0]), row
    assert row["used_pct"] == f"{100.0 * used[0] / 1024**2:.1f}", row
    assert float(row["used_pct"]) > 58.0
    assert usage["used_pct"] == row["used_pct"]


# ------------------------------------------------------------------ suspension


def test_suspended_user_cannot_log_in_and_still_receives(stack: Stack) -> None:
    domain = "suspend.example"
    add_domain(stack, domain, cert=False)
    joe, ann = f"joe@{domain}", f"ann@{domain}"
    add_user(stack, joe)
    add_user(stack, ann)
    assert imap_login_works(stack, joe) and smtp_auth_works(stack, joe)

    # joe has no open session: doveadm kick exits 68 ("no users kicked"), which
    # mailctl takes as done (exit 0, not 3)
    stack.mailctl("user", "suspend", joe, "--reason", "e2e")
    assert not imap_login_works(stack, joe)
    assert not smtp_auth_works(stack, joe)
    assert imap_login_works(stack, ann) and smtp_auth_works(stack, ann)  # joe only
    send_inbound(stack, joe, "while-suspended")
    stack.wait_delivered(joe, "while-suspended")

    stack.mailctl("user", "resume", joe)
    assert imap_login_works(stack, joe) and smtp_auth_works(stack, joe)


def test_suspend_ends_open_imap_sessions(stack: Stack) -> None:
    """Dovecot asks the passdb at login only: the session a suspended user has open
    ends because mailctl runs commands.kick (doveadm kick) after the commit."""
    domain = "kick.example"
    add_domain(stack, domain, cert=False)
    joe, ann = f"joe@{domain}", f"ann@{domain}"
    add_user(stack, joe)
    add_user(stack, ann)
    kick = stack.mailctl.sections["commands"]["kick"]

    # without commands.kick the suspension leaves the open session alone
    session = ImapSession(stack, joe)
    stack.mailctl.reconfigure(commands={"kick": []})
    try:
        stack.mailctl("user", "suspend", joe)
    finally:
        stack.mailctl.reconfigure(commands={"kick": kick})
    assert session.alive()
    assert not imap_login_works(stack, joe)
    session.close()
    stack.mailctl("user", "resume", joe)

    joes, anns = ImapSession(stack, joe), ImapSession(stack, ann)
    try:
        assert joes.alive() and anns.alive()
        stack.mailctl("user", "suspend", joe)
        wait_for(lambda: not joes.alive(), "joe's IMAP session to end")
        assert anns.alive()  # another login's session stays
    finally:
        joes.close()
        anns.close()


def test_domain_suspend_stops_every_login_and_no_receive_refuses_mail(stack: Stack) -> None:
    domain, other = "dsuspend.example", "dfree.example"
    add_domain(stack, domain, cert=False)
    add_domain(stack, other, cert=False)
    users = [f"a@{domain}", f"b@{domain}"]
    for user in (*users, f"c@{other}"):
        add_user(stack, user)
    assert all(imap_login_works(stack, u) and smtp_auth_works(stack, u) for u in users)

    session, elsewhere = ImapSession(stack, users[0]), ImapSession(stack, f"c@{other}")
    try:
        stack.mailctl("domain", "suspend", domain)  # doveadm kick *@dsuspend.example
        wait_for(lambda: not session.alive(), "the domain's IMAP session to end")
        assert elsewhere.alive()
    finally:
        session.close()
        elsewhere.close()
    for user in users:
        assert not imap_login_works(stack, user), user
        assert not smtp_auth_works(stack, user), user
    assert imap_login_works(stack, f"c@{other}") and smtp_auth_works(stack, f"c@{other}")
    send_inbound(stack, users[1], "domain-suspended")  # mail still arrives
    stack.wait_delivered(users[1], "domain-suspended")

    stack.mailctl("domain", "resume", domain)
    assert all(imap_login_works(stack, u) and smtp_auth_works(stack, u) for u in users)
    for rcpt in (users[0], f"postmaster@{domain}"):
        assert rcpt_reply(stack, rcpt)[0] == 250, rcpt

    stack.mailctl("domain", "suspend", domain, "--no-receive")
    for rcpt in (users[0], f"postmaster@{domain}"):  # mailboxes and aliases alike
        code, text = rcpt_reply(stack, rcpt)
        assert code == 550 and "5.1.1" in text, (rcpt, code, text)
    assert not imap_login_works(stack, users[0])
    assert rcpt_reply(stack, f"c@{other}")[0] == 250
    stack.mailctl("domain", "resume", domain)
    assert rcpt_reply(stack, users[0])[0] == 250


# ------------------------------------------------------------------ per-service flags


def test_service_flags_block_that_service_only(stack: Stack) -> None:
    """The stack serves IMAP and SMTP AUTH (no POP3): each flag blocks its own."""
    domain = "flags.example"
    add_domain(stack, domain, cert=False)
    joe = f"joe@{domain}"
    add_user(stack, joe)
    assert imap_login_works(stack, joe) and smtp_auth_works(stack, joe)

    stack.mailctl("user", "set", joe, "--no-imap")
    assert not imap_login_works(stack, joe)
    assert smtp_auth_works(stack, joe)
    stack.mailctl("user", "set", joe, "--imap", "--no-smtp")
    assert imap_login_works(stack, joe)
    assert not smtp_auth_works(stack, joe)
    stack.mailctl("user", "set", joe, "--smtp")
    assert smtp_auth_works(stack, joe)

    assert rcpt_reply(stack, joe)[0] == 250
    stack.mailctl("user", "set", joe, "--no-receive")
    code, text = rcpt_reply(stack, joe)
    assert code == 550 and "5.1.1" in text, text
    assert imap_login_works(stack, joe) and smtp_auth_works(stack, joe)  # logins stay
    stack.mailctl("user", "set", joe, "--receive")
    assert rcpt_reply(stack, joe)[0] == 250


# ------------------------------------------------------------------ send-as


def test_send_as_grants_for_an_address_and_a_domain(stack: Stack) -> None:
    domain, brand = "sendas.example", "brand.example"
    add_domain(stack, domain, cert=False)
    add_domain(stack, brand, cert=False)
    ann, bob = f"ann@{domain}", f"bob@{domain}"
    add_user(stack, ann)
    add_user(stack, bob)

    assert send_as(stack, ann, ann, "own-address") is None
    refused = send_as(stack, ann, bob, "as-bob-before")
    assert refused and refused[0] == NOT_OWNED and "not owned by user" in refused[1], refused
    stack.mailctl("sender", "allow", ann, bob)
    assert send_as(stack, ann, bob, "as-bob-granted") is None
    stack.mailctl("sender", "deny", ann, bob)
    refused = send_as(stack, ann, bob, "as-bob-denied")
    assert refused and refused[0] == NOT_OWNED, refused

    refused = send_as(stack, ann, f"news@{brand}", "as-brand-before")
    assert refused and refused[0] == NOT_OWNED, refused
    stack.mailctl("sender", "allow", ann, f"@{brand}")
    assert send_as(stack, ann, f"news@{brand}", "as-brand-news") is None
    assert send_as(stack, ann, f"sales@{brand}", "as-brand-sales") is None
    refused = send_as(stack, bob, f"news@{brand}", "bob-as-brand")  # ann's grant only
    assert refused and refused[0] == NOT_OWNED, refused
    stack.mailctl("sender", "deny", ann, f"@{brand}")
    refused = send_as(stack, ann, f"news@{brand}", "as-brand-denied")
    assert refused and refused[0] == NOT_OWNED, refused


# ------------------------------------------------------------------ domain limits


def test_max_users_refuses_the_next_mailbox_and_changes_nothing(stack: Stack) -> None:
    domain = "limits.example"
    add_domain(stack, domain, cert=False)
    stack.mailctl("domain", "set", domain, "--max-users", "2")
    add_user(stack, f"one@{domain}")
    add_user(stack, f"two@{domain}")
    third = f"three@{domain}"
    before = stack.dump()

    out = stack.mailctl("user", "add", third, "--password-stdin", input=PASSWORD + "\n", code=1)
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("mailctl: error: "), out.stderr
    assert "max-users" in out.stderr, out.stderr
    assert stack.dump() == before
    assert not stack.maildir(third).exists()
    assert not stack.auth_ok(third, PASSWORD)
    assert rcpt_reply(stack, third)[0] == 550

    # import: the same limit, over the whole file
    bulk = stack.root / "etc" / "limits-import.json"
    bulk.write_text(json.dumps({"version": 1, "users": [{"email": third, "plaintext": PASSWORD}]}))
    out = stack.mailctl("import", str(bulk), code=1)
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("mailctl: error: "), out.stderr
    assert "max-users" in out.stderr, out.stderr
    assert stack.dump() == before
    assert not stack.auth_ok(third, PASSWORD)
    assert rcpt_reply(stack, third)[0] == 550

    # the control: with room, the same import goes through
    stack.mailctl("domain", "set", domain, "--max-users", "3")
    stack.mailctl("import", str(bulk))
    assert stack.auth_ok(third, PASSWORD)
    assert rcpt_reply(stack, third)[0] == 250


# ------------------------------------------------------------------ last login


def test_last_login_is_shown_and_ends_inactivity(stack: Stack) -> None:
    domain = "seen.example"
    add_domain(stack, domain, cert=False)
    seen, unseen = f"seen@{domain}", f"unseen@{domain}"
    add_user(stack, seen)
    add_user(stack, unseen)
    assert show(stack, seen)["last_login"] == "never"
    inactive = listed(stack, "report", "inactive", "--days", "0")
    assert seen in inactive and unseen in inactive

    before = int(time.time()) // 60 * 60
    assert imap_login_works(stack, seen)
    # Dovecot's last_login plugin writes the time through the SQL dict
    shown = wait_for(
        lambda: (s := show(stack, seen))["last_login"] != "never" and s, "seen's last login"
    )
    when = timegm(time.strptime(shown["last_login"], "%Y-%m-%d %H:%M"))
    assert before <= when <= time.time(), shown["last_login"]
    assert show(stack, unseen)["last_login"] == "never"
    inactive = listed(stack, "report", "inactive", "--days", "0")
    assert seen not in inactive and unseen in inactive


# ------------------------------------------------------------------ doctor


def test_doctor_finds_the_policy_enforced(stack: Stack) -> None:
    """On this server every kind of policy the database holds is enforced: doctor's
    policy rows (read from postconf and doveconf) are all OK."""
    domain = "doctorpolicy.example"
    add_domain(stack, domain, cert=False)
    joe = f"joe@{domain}"
    add_user(stack, joe)
    stack.mailctl("user", "set", joe, "--quota", "1G", "--no-imap", "--no-receive")
    stack.mailctl("user", "suspend", joe)
    stack.mailctl("sender", "allow", joe, f"@{domain}")
    found = json.loads(stack.mailctl("doctor", "-f", "json", code=None).stdout)
    policy = {r["check"]: r["status"] for r in found if r["check"].startswith("policy ")}
    assert policy == {
        "policy receive (Postfix)": "OK",
        "policy grants (Postfix)": "OK",
        "policy quota (Postfix)": "OK",
        "policy quota (Dovecot)": "OK",
        "policy suspended (Dovecot)": "OK",
        "policy services (Dovecot)": "OK",
    }, found
