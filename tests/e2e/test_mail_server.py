"""The guide's server accepts what mailctl writes: logins succeed, mail is delivered,
signatures verify, and what mailctl removes stops working.

Every change goes through `mailctl` commands; the daemons see it only through
the database and the files mailctl renders (and the reloads it runs). Each test
uses its own domain, so the tests share one running stack but no state.
"""

from __future__ import annotations

import email
import gzip
import imaplib
import json
import smtplib
import ssl
import stat
from email.message import EmailMessage
from pathlib import Path

import dkim as dkimpy
import pytest
from e2e_stack import (
    ADMIN_EMAIL,
    MAILHOST,
    PASSWORD,
    Stack,
    add_domain,
    add_domain_cert,
    add_user,
    inbound,
    message,
    rcpt_reply,
    send_inbound,
    submission,
    wait_for,
)

from mailctl.dkim import keyfiles as dkim

# ------------------------------------------------------------------ setup sql / setup render


def test_setup_render_files_are_private_to_postfix_and_dovecot(stack: Stack) -> None:
    import grp

    maps = sorted(stack.postfix_dir.glob("mysql-*.cf"))
    assert [p.name for p in maps] == [
        "mysql-sender-login-maps.cf",
        "mysql-virtual-alias-maps.cf",
        "mysql-virtual-email2email.cf",
        "mysql-virtual-mailbox-domains.cf",
        "mysql-virtual-mailbox-maps.cf",
    ]
    dovecot = [stack.dovecot_sql_conf, stack.dovecot_dict_conf]
    for path, group in [*((m, "postfix") for m in maps), *((d, "dovecot") for d in dovecot)]:
        info = path.stat()
        assert stat.S_IMODE(info.st_mode) == 0o640, path
        assert (info.st_uid, info.st_gid) == (0, grp.getgrnam(group).gr_gid), path
        text = path.read_text()
        assert stack.readonly_user in text  # the read-only account, never mailctl's
        assert stack.mailctl_user not in text
    for name in ("db.password", "mailuser.password"):
        assert stat.S_IMODE((stack.root / "etc" / name).stat().st_mode) == 0o600


# ------------------------------------------------------------------ logins


@pytest.mark.parametrize("scheme", ["SHA512-CRYPT", "BLF-CRYPT", "ARGON2ID"])
def test_login_with_each_scheme(stack: Stack, scheme: str) -> None:
    domain = f"{scheme.lower()}.example"
    add_domain(stack, domain)
    user = f"joe@{domain}"
    add_user(stack, user, scheme)
    shown = json.loads(stack.mailctl("user", "show", user, "--format", "json").stdout)
    assert shown["scheme"] == scheme
    assert stack.auth_ok(user, PASSWORD)
    assert not stack.auth_ok(user, PASSWORD + "!")
    assert not stack.auth_ok(f"nobody@{domain}", PASSWORD)
    # IMAPS: Dovecot answers imap.<domain> with that domain's certificate (the SNI
    # block mailctl wrote, loaded by the reload mailctl ran), and SQL auth lets joe in.
    assert stack.imap_login(user, PASSWORD, f"imap.{domain}") == stack.cert_der(domain)
    assert stack.imap_login(user, PASSWORD, MAILHOST) == stack.cert_der(MAILHOST)
    with pytest.raises(imaplib.IMAP4.error):
        stack.imap_login(user, "not the password", f"imap.{domain}")


# ------------------------------------------------------------------ Postfix maps


def test_postmap_answers_what_the_database_holds(stack: Stack) -> None:
    domain = "maps.example"
    add_domain(stack, domain, cert=False)
    add_user(stack, f"ann@{domain}")
    stack.mailctl("alias", "add", f"info@{domain}", f"ann@{domain}", "friend@outside.example")
    aliases = {
        row["source"]: row["destinations"]
        for row in json.loads(stack.mailctl("alias", "list", domain, "--format", "json").stdout)
    }
    assert stack.postmap_q(domain, "mysql-virtual-mailbox-domains.cf") == "1"
    assert stack.postmap_q("elsewhere.example", "mysql-virtual-mailbox-domains.cf") is None
    assert stack.postmap_q(f"ann@{domain}", "mysql-virtual-mailbox-maps.cf") == "1"
    assert stack.postmap_q(f"info@{domain}", "mysql-virtual-mailbox-maps.cf") is None
    for source, destinations in aliases.items():
        expected = ",".join(destinations) if isinstance(destinations, list) else destinations
        assert stack.postmap_q(source, "mysql-virtual-alias-maps.cf") == expected
    assert set(aliases) == {  # info@, the role aliases and the report addresses
        f"{local}@{domain}"
        for local in ("info", "postmaster", "abuse", "dmarc-reports", "tls-report")
    }
    assert stack.postmap_q(f"info@{domain}", "mysql-virtual-alias-maps.cf") == (
        f"ann@{domain},friend@outside.example"
    )
    assert stack.postmap_q(f"ann@{domain}", "mysql-sender-login-maps.cf") == f"ann@{domain}"
    assert stack.postmap_q(f"ann@{domain}", "mysql-virtual-email2email.cf") == f"ann@{domain}"
    assert stack.postmap_q(f"info@{domain}", "mysql-virtual-email2email.cf") is None


# ------------------------------------------------------------------ inbound mail


def test_alias_delivered_to_maildir_over_port_25(stack: Stack) -> None:
    domain = "flow.example"
    add_domain(stack, domain, cert=False)
    add_user(stack, f"joe@{domain}")
    stack.mailctl("alias", "add", f"info@{domain}", f"joe@{domain}")
    send_inbound(stack, f"info@{domain}", "alias-to-joe")
    delivered = stack.wait_delivered(f"joe@{domain}", "alias-to-joe")
    assert b"Delivered-To: joe@flow.example" in delivered
    code, text = rcpt_reply(stack, f"nobody@{domain}")
    assert code == 550, text
    # not an open relay for the outside
    code, text = rcpt_reply(stack, "someone@elsewhere.example")
    assert code == 554 and "Relay access denied" in text, text
    # mailctl's HELO checks: nobody outside may greet as one of our domains
    code, text = rcpt_reply(stack, f"joe@{domain}", helo=domain)
    assert code == 554 and "Spoofed HELO" in text, text


def test_catchall_next_to_mailboxes(stack: Stack) -> None:
    """Needs `setup render --catchall-fix`: without the email2email map the catch-all
    would also take the mail of joe@, who has a mailbox of his own."""
    domain = "catch.example"
    add_domain(stack, domain, cert=False)
    for user in ("joe", "bucket", "keep"):
        add_user(stack, f"{user}@{domain}")
    stack.mailctl("alias", "add", f"@{domain}", f"bucket@{domain}")
    # forward with a local copy: the alias keeps the mailbox among its destinations
    stack.mailctl("alias", "add", f"keep@{domain}", f"keep@{domain}", f"bucket@{domain}")
    send_inbound(stack, f"whoever@{domain}", "to-catchall")
    send_inbound(stack, f"joe@{domain}", "to-joe")
    send_inbound(stack, f"keep@{domain}", "to-keep")
    stack.wait_delivered(f"bucket@{domain}", "to-catchall")
    stack.wait_delivered(f"joe@{domain}", "to-joe")
    stack.wait_delivered(f"keep@{domain}", "to-keep")
    stack.wait_delivered(f"bucket@{domain}", "to-keep")
    bucket = b"".join(stack.delivered(f"bucket@{domain}"))
    assert b"to-joe" not in bucket
    assert all(b"to-catchall" not in m for m in stack.delivered(f"joe@{domain}"))


def _aggregate_report(reporter: str, rcpt: str, domain: str) -> EmailMessage:
    """A DMARC aggregate report as Gmail or Yahoo send one (RFC 7489 §7.2.1.1):
    a gzipped XML feedback document attached to a short note."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<feedback>\n'
        f"  <report_metadata><org_name>{reporter}</org_name><email>noreply@{reporter}</email>"
        "<report_id>e2e-dmarc-report</report_id>"
        "<date_range><begin>1764547200</begin><end>1764633599</end></date_range>"
        "</report_metadata>\n"
        f"  <policy_published><domain>{domain}</domain><p>reject</p></policy_published>\n"
        "</feedback>\n"
    )
    msg = message(f"noreply-dmarc-support@{reporter}", rcpt, "dmarc-aggregate-report")
    msg.replace_header("Subject", f"Report domain: {domain} Submitter: {reporter} Report-ID: e2e")
    msg.add_attachment(
        gzip.compress(xml.encode()),
        maintype="application",
        subtype="gzip",
        filename=f"{reporter}!{domain}!1764547200!1764633599.xml.gz",
    )
    return msg


def test_dmarc_and_tls_reports_reach_the_admin_mailbox(stack: Stack) -> None:
    """The rua= addresses of a domain made by `domain add` alone exist: an aggregate
    report sent to them over port 25 lands in server.admin_email's mailbox."""
    admin, admin_domain = ADMIN_EMAIL, ADMIN_EMAIL.rpartition("@")[2]
    if admin_domain not in stack.mailctl("domain", "list", "-f", "plain").stdout.split():
        add_domain(stack, admin_domain, cert=False)
        add_user(stack, admin)
    domain = "reports.example"
    add_domain(stack, domain, cert=False)
    records = json.loads(stack.mailctl("dns", "show", domain, "-f", "json").stdout)
    dmarc = next(r["value"] for r in records if r["name"] == f"_dmarc.{domain}.")
    tlsrpt = next(r["value"] for r in records if r["name"] == f"_smtp._tls.{domain}.")
    for record, tag in ((dmarc, "rua="), (tlsrpt, "rua=")):
        uri = record.split(tag, 1)[1].split(";", 1)[0].split(",", 1)[0]
        rcpt = uri.removeprefix("mailto:")
        with inbound(stack) as smtp:
            smtp.send_message(_aggregate_report("google.com", rcpt, domain),
                              to_addrs=[rcpt])

    def reports() -> list[bytes] | None:
        found = [m for m in stack.delivered(admin) if b"Report-ID: e2e" in m]
        return found if len(found) == 2 else None

    delivered = wait_for(reports, f"the DMARC and the TLS-RPT report in {admin}'s maildir")
    parsed = [email.message_from_bytes(m) for m in delivered]
    assert {m["To"] for m in parsed} == {f"dmarc-reports@{domain}", f"tls-report@{domain}"}
    assert all(m["Delivered-To"] == admin for m in parsed)
    assert all(b"filename=\"google.com!reports.example!" in m for m in delivered)


# ------------------------------------------------------------------ submission


def _dns_from_mailctl(stack: Stack, domain: str) -> dict[bytes, bytes]:
    """TXT records as `mailctl dns show DOMAIN --format json` tells the admin to publish."""
    records = json.loads(stack.mailctl("dns", "show", domain, "--format", "json").stdout)
    return {
        (r["name"].rstrip(".") + ".").encode(): r["value"].encode()
        for r in records
        if r["type"] == "TXT"
    }


def test_submission_is_dkim_signed_and_sender_checked(stack: Stack) -> None:
    domain = "sign.example"
    add_domain(stack, domain)
    add_user(stack, f"ann@{domain}")
    add_user(stack, f"bob@{domain}")
    stack.mailctl("alias", "add", f"sales@{domain}", f"ann@{domain}")
    with submission(stack, f"smtp.{domain}") as smtp:
        sock = smtp.sock
        assert isinstance(sock, ssl.SSLSocket)
        # Postfix's SNI map (mailctl's vmail_ssl.map, postmap -F) picked the domain's cert
        assert sock.getpeercert(binary_form=True) == stack.cert_der(domain)
        smtp.login(f"ann@{domain}", PASSWORD)
        msg = message(f"Ann <ann@{domain}>", "friend@outside.example", "signed-out")
        smtp.send_message(msg, from_addr=f"ann@{domain}", to_addrs=["friend@outside.example"])
        # bob's address is not ann's: reject_authenticated_sender_login_mismatch
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail(f"bob@{domain}", ["friend@outside.example"], b"Subject: x\r\n\r\nx\r\n")
        code, text = refused.value.recipients["friend@outside.example"]
        assert code == 553 and b"not owned by user" in text, text
    received = stack.sink.wait_for("friend@outside.example")
    assert received.mail_from == f"ann@{domain}"
    signatures = received.message.get_all("DKIM-Signature") or []
    assert len(signatures) == 1, received.data[:2000]  # a down signer would let it out unsigned
    tags = dkim.parse_tags(str(signatures[0]).replace("\r\n", "").replace("\n", ""))
    assert (tags["d"], tags["s"]) == (domain, "mail")

    published = _dns_from_mailctl(stack, domain)
    key_name = f"mail._domainkey.{domain}.".encode()
    assert key_name in published
    txt = (stack.odk / "keys" / domain / "mail.txt").read_text()
    assert published[key_name] == dkim.txt_value(txt).encode()

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return published.get(name, b"")

    assert dkimpy.verify(received.data, dnsfunc=dnsfunc)
    assert not dkimpy.verify(received.data.replace(b"signed-out", b"signed-in"), dnsfunc=dnsfunc)

    # without AUTH the submission port relays nothing
    with submission(stack, f"smtp.{domain}") as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail(f"ann@{domain}", ["friend@outside.example"], b"Subject: x\r\n\r\nx\r\n")


# ------------------------------------------------------------------ changes


def test_user_passwd_replaces_the_password(stack: Stack) -> None:
    domain = "passwd.example"
    add_domain(stack, domain, cert=False)
    user = f"joe@{domain}"
    add_user(stack, user, "BLF-CRYPT")
    assert stack.auth_ok(user, PASSWORD)
    new = "a different long password"
    stack.mailctl("user", "passwd", user, "--password-stdin", input=new + "\n")
    assert not stack.auth_ok(user, PASSWORD)
    assert stack.auth_ok(user, new)
    assert stack.imap_login(user, new, MAILHOST)


def test_user_del_stops_login_and_delivery(stack: Stack) -> None:
    domain = "userdel.example"
    add_domain(stack, domain, cert=False)
    user = f"joe@{domain}"
    add_user(stack, user)
    assert stack.auth_ok(user, PASSWORD)
    assert rcpt_reply(stack, user)[0] == 250
    stack.mailctl("user", "del", user, "--yes")
    assert not stack.auth_ok(user, PASSWORD)
    code, text = rcpt_reply(stack, user)
    assert code == 550, text


def _mentions(path: Path, domain: str) -> bool:
    text = path.read_text()
    return domain in text or domain.replace(".", "\\.") in text  # PCRE: gone\.example


def test_domain_del_rejects_mail_and_drops_keys_and_sni(stack: Stack) -> None:
    domain = "gone.example"
    add_domain(stack, domain)
    user = f"joe@{domain}"
    add_user(stack, user)
    managed = [
        stack.odk / "KeyTable",
        stack.odk / "SigningTable",
        stack.postfix_dir / "vmail_ssl.map",
        stack.postfix_dir / "helo_checks.pcre",
        stack.dovecot_sni_conf,
    ]
    assert all(_mentions(path, domain) for path in managed)
    assert stack.imap_login(user, PASSWORD, f"imap.{domain}") == stack.cert_der(domain)
    assert rcpt_reply(stack, user)[0] == 250

    stack.mailctl("domain", "del", domain, "--yes")

    assert [p.name for p in managed if _mentions(p, domain)] == []
    sni = stack.run_postmap_sni(f"smtp.{domain}")
    assert sni is None
    for rcpt in (user, f"postmaster@{domain}", f"anything@{domain}"):
        code, text = rcpt_reply(stack, rcpt)
        assert code >= 500, (rcpt, code, text)
    assert stack.postmap_q(domain, "mysql-virtual-mailbox-domains.cf") is None
    assert not stack.auth_ok(user, PASSWORD)
    # Dovecot was reloaded without the domain's SNI block: the default certificate now
    assert stack.imap_login_cert(f"imap.{domain}") == stack.cert_der(MAILHOST)


def test_certificate_renewal_reaches_postfix_and_dovecot(stack: Stack) -> None:
    """certbot renew replaces the files; the deploy hook runs `mailctl sync`, which
    rebuilds the SNI index and reloads both servers, so they serve the new one."""
    domain = "renew.example"
    add_domain(stack, domain)
    old = stack.cert_der(domain)
    assert stack.submission_cert(f"smtp.{domain}") == old
    assert stack.imap_login_cert(f"imap.{domain}") == old

    add_domain_cert(stack, domain)  # the renewal: new key and certificate, same paths
    stack._certs.pop(domain)
    new = stack.cert_der(domain)
    assert new != old
    assert "out of sync" in stack.mailctl("sync", "--check", code=1).stderr
    out = stack.mailctl("sync")
    assert f"rebuilt {stack.postfix_dir / 'vmail_ssl.map'}" in out.stderr
    wait_for(lambda: stack.submission_cert(f"smtp.{domain}") == new, "Postfix's new certificate")
    wait_for(lambda: stack.imap_login_cert(f"imap.{domain}") == new, "Dovecot's new certificate")
    assert "in sync" in stack.mailctl("sync").stderr
