"""`mailctl doctor`: green on a consistent installation, and each fault named."""

from __future__ import annotations

import json

import pytest
from support.cli import Mailctl, add_admin_mailbox
from support.files import make_cert


def rows(m: Mailctl, code: int | None) -> dict[str, dict[str, str]]:
    out = m("doctor", "-f", "json", code=code)
    return {r["check"]: r for r in json.loads(out.stdout)}


@pytest.fixture
def healthy(lite: Mailctl) -> Mailctl:
    lite("domain", "add", "example.nl")
    make_cert(
        lite.root / "certs" / "example.nl", ["example.nl", "smtp.example.nl", "imap.example.nl"]
    )
    lite("sync")
    lite("user", "add", "joe@example.nl", "--password-stdin", input="a good long password\n")
    add_admin_mailbox(lite)  # where postmaster@, abuse@ and the report addresses lead
    return lite


def test_all_green(healthy: Mailctl) -> None:
    found = rows(healthy, 0)
    # The SQL maps are not rendered in this tier (tests/e2e and test_setup_sql read them).
    maps = {k: r for k, r in found.items() if k.startswith("postfix map")}
    assert {r["status"] for r in maps.values()} == {"WARN"}
    assert all("mailctl setup render" in r["detail"] for r in maps.values())
    assert {r["status"] for k, r in found.items() if k not in maps} == {"OK"}
    assert found["dkim mail._domainkey.example.nl"]["status"] == "OK"
    assert found["tls example.nl"]["detail"].startswith("covers its names")


def test_deleted_key_file(healthy: Mailctl) -> None:
    key = healthy.root / "keys" / "example.nl" / "mail.private"
    key.unlink()
    found = rows(healthy, 1)
    assert found["dkim mail._domainkey.example.nl"]["status"] == "FAIL"
    detail = found["dkim mail._domainkey.example.nl"]["detail"]
    assert detail == f"{key} is missing (run: mailctl sync) (active key)"
    healthy("sync")  # the fix it names: the key comes back from the database
    assert rows(healthy, 0)["dkim mail._domainkey.example.nl"]["status"] == "OK"


def test_key_file_other_than_the_database(healthy: Mailctl) -> None:
    """A key file that is a sound key with a matching .txt, but not the database's
    (another host's sync would write the database's): named, with the fix."""
    from mailctl.dkim import keyfiles

    key = healthy.root / "keys" / "example.nl" / "mail.private"
    stored = key.read_bytes()
    other = keyfiles.generate_rsa_key(1024)
    keyfiles.write_key_pair(
        healthy.root / "keys", "example.nl", "mail", other, owner=None, replace=True
    )
    found = rows(healthy, 1)["dkim mail._domainkey.example.nl"]
    assert found["status"] == "FAIL"
    assert "holds another key than the database (run: mailctl sync)" in found["detail"]
    healthy("sync")
    assert key.read_bytes() == stored
    assert rows(healthy, 0)["dkim mail._domainkey.example.nl"]["status"] == "OK"


def test_a_key_the_database_lacks_is_a_warning(healthy: Mailctl) -> None:
    """Kept in a file only (its db upgrade ran on a host without it): this host still
    signs with the file, but no other host can."""
    healthy.execute("DELETE FROM mailctl_dkim_secrets")
    found = rows(healthy, 0)
    assert found["dkim mail._domainkey.example.nl"]["status"] == "OK"
    assert found["dkim keys in the database"]["status"] == "WARN"
    assert "holds no private key" in found["dkim keys in the database"]["detail"]


def test_key_readable_by_others(healthy: Mailctl) -> None:
    key = healthy.root / "keys" / "example.nl" / "mail.private"
    key.chmod(0o644)
    found = rows(healthy, 1)
    assert f"chmod 600 {key}" in found["dkim mail._domainkey.example.nl"]["detail"]


def test_keytable_edited_by_hand(healthy: Mailctl) -> None:
    table = healthy.root / "KeyTable"
    table.write_text(table.read_text().replace("example.nl:mail:", "example.nl:old:"))
    out = healthy("doctor", "-f", "plain", code=1)
    assert "file KeyTable\tFAIL" in out.stdout
    assert "1 check(s) failed: file KeyTable" in out.stderr


def test_removed_certificate(healthy: Mailctl) -> None:
    (healthy.root / "certs" / "example.nl" / "fullchain.pem").unlink()
    found = rows(healthy, 1)
    assert found["file SNI map"]["status"] == "FAIL"  # its entry must go (mailctl sync)
    assert found["tls example.nl"]["status"] == "WARN"


def test_expiring_certificate(healthy: Mailctl) -> None:
    make_cert(
        healthy.root / "certs" / "example.nl",
        ["example.nl", "smtp.example.nl", "imap.example.nl"],
        days=10,
    )
    found = rows(healthy, 1)
    assert "expires in" in found["tls example.nl"]["detail"]


def test_certificate_missing_a_name(healthy: Mailctl) -> None:
    make_cert(healthy.root / "certs" / "example.nl", ["example.nl", "smtp.example.nl"])
    found = rows(healthy, 1)
    assert "does not cover imap.example.nl" in found["tls example.nl"]["detail"]


def test_domain_without_postmaster(healthy: Mailctl) -> None:
    healthy("alias", "del", "postmaster@example.nl")
    found = rows(healthy, 1)
    assert found["rfc5321 example.nl"]["status"] == "FAIL"


def test_a_tls_private_key_others_can_read_is_warned(healthy: Mailctl) -> None:
    key = healthy.root / "certs" / "example.nl" / "privkey.pem"
    key.chmod(0o644)
    found = rows(healthy, 0)
    assert found["tls key example.nl"]["status"] == "WARN"
    assert f"chmod 600 {key}" in found["tls key example.nl"]["detail"]


def test_servers_that_do_not_answer_are_not_checked_and_not_failed(healthy: Mailctl) -> None:
    """tls.probe_host on, nothing listening (no Postfix or Dovecot in this tier)."""
    import socket

    with socket.socket() as imaps, socket.socket() as submission:
        for sock in (imaps, submission):
            sock.bind(("127.0.0.1", 0))  # bound, not listening: refused, and kept from others
        healthy.reconfigure(
            tls={
                "probe_host": "127.0.0.1",
                "imaps_port": imaps.getsockname()[1],
                "submission_port": submission.getsockname()[1],
            }
        )
        found = rows(healthy, 0)
    for server, key in (("dovecot", "imaps_port"), ("postfix", "submission_port")):
        assert found[f"tls {server}"]["status"] == "WARN"
        assert found[f"tls {server}"]["detail"].endswith(
            f": Connection refused: the certificates {server.capitalize()} serves were not"
            f" checked (tls.{key}, tls.probe_host)"
        )
    assert not [k for k in found if k.startswith(("tls dovecot ", "tls postfix "))]


def test_a_policy_the_servers_do_not_enforce_is_named(healthy: Mailctl, tmp_path) -> None:
    """A quota with no quota-status in Postfix's restrictions, a suspension while
    Dovecot does not read setup render's passdb: FAIL, each; fixed: OK."""
    import subprocess

    from support.mailconfig import private_mail_config

    private = private_mail_config(tmp_path / "policy-mail")  # this test's own main.cf
    healthy.reconfigure(
        commands={"postmap": private.postmap, "check_dovecot": private.dovecot("doveconf") + ["-n"]}
    )
    found = rows(healthy, 0)
    assert not [k for k in found if k.startswith("policy")]  # no policy set: nothing to say
    healthy("user", "set", "joe@example.nl", "--quota", "1G")
    healthy("user", "suspend", "joe@example.nl")
    found = rows(healthy, 1)
    postfix, dovecot = found["policy quota (Postfix)"], found["policy suspended (Dovecot)"]
    assert postfix["status"] == "FAIL" and "check_policy_service" in postfix["detail"]
    assert dovecot["status"] == "FAIL" and "suspended logins still work" in dovecot["detail"]
    subprocess.run(  # noqa: S603 - the admin's fix, on the private main.cf
        [
            *private.postfix("postconf"),
            "-e",
            "smtpd_recipient_restrictions = permit_mynetworks,"
            " check_policy_service inet:127.0.0.1:12340, reject_unauth_destination",
        ],
        check=True,
    )
    assert rows(healthy, 1)["policy quota (Postfix)"]["status"] == "OK"


def test_report_addresses_exist_and_a_lost_one_is_named(healthy: Mailctl) -> None:
    aliases = healthy("alias", "list", "example.nl", "-f", "plain").stdout
    for address in ("dmarc-reports@example.nl", "tls-report@example.nl"):  # domain add made them
        assert f"{address}\tadmin@example.nl\n" in aliases
    assert rows(healthy, 0)["reports example.nl"]["status"] == "OK"
    healthy("alias", "del", "tls-report@example.nl")
    lost = rows(healthy, 1)["reports tls-report@example.nl"]
    assert lost["status"] == "FAIL"
    assert "mailctl alias add tls-report@example.nl admin@example.nl" in lost["detail"]
    healthy.reconfigure(dns={"reports_to": "reports@example.org"})
    healthy("domain", "add", "example.com")
    assert (
        "tls-report@example.com\treports@example.org"
        in healthy("alias", "list", "example.com", "-f", "plain").stdout
    )


def test_report_addresses_are_followed_through_the_maps_like_postfix(healthy: Mailctl) -> None:
    """Received means a receiving mailbox at the end of the aliases, as Postfix's
    rendered queries would find it: not merely an alias row."""

    def report() -> dict[str, str]:
        return rows(healthy, None).get("reports dmarc-reports@example.nl", {})

    healthy("user", "set", "admin@example.nl", "--no-receive")
    lost = report()
    assert lost["status"] == "FAIL"
    assert lost["detail"].endswith(
        "sends reports to dmarc-reports@example.nl, but it leads to admin@example.nl: no"
        " receiving mailbox or alias has that address (fix: mailctl user set"
        " admin@example.nl --receive)"
    )
    healthy("user", "set", "admin@example.nl", "--receive")
    assert report() == {}  # received again: only the domain's OK row
    healthy("alias", "del", "dmarc-reports@example.nl")
    healthy("alias", "add", "dmarc-reports@example.nl", "nobody@example.nl")
    assert report()["detail"].endswith(
        "it leads to nobody@example.nl: no receiving mailbox or alias has that address"
        " (fix: mailctl user add nobody@example.nl)"
    )
    healthy("alias", "del", "dmarc-reports@example.nl")
    healthy("alias", "add", "@example.nl", "joe@example.nl")  # a catch-all receives it
    assert report() == {}
    healthy("domain", "suspend", "example.nl", "--no-receive")  # 550 at RCPT for all of it
    assert report()["detail"].endswith(
        "but no receiving mailbox or alias has that address (fix: mailctl domain resume example.nl)"
    )
