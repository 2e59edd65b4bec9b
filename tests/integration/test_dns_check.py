"""`dns check` against a real BIND serving the zone `dns show --zone` printed:
all OK, then one fault at a time with its exact row and exit 1."""

from __future__ import annotations

import json

import pytest
from support.cli import Mailctl, add_admin_mailbox
from support.named import Named, served


def check(m: Mailctl, named: Named, code: int) -> dict[tuple[str, str], dict[str, str]]:
    out = m("dns", "check", "example.nl", "--nameserver", named.address, "-f", "json", code=code)
    rows = json.loads(out.stdout)
    return {(r["name"], r["type"]): r for r in rows if r["status"] != "OK"}


@pytest.fixture
def hosted(lite: Mailctl) -> Mailctl:
    lite("domain", "add", "example.nl")
    add_admin_mailbox(lite)
    return lite


def test_all_ok(hosted: Mailctl, named: Named) -> None:
    served(hosted, named)
    assert check(hosted, named, 0) == {}


def test_wrong_dkim_key(hosted: Mailctl, named: Named) -> None:
    from mailctl.dkim import keyfiles as dkim

    other = dkim.dns_value(dkim.generate_rsa_key(1024))
    records = json.loads(hosted("dns", "show", "example.nl", "-f", "json").stdout)
    (mine,) = [r for r in records if r["name"] == "mail._domainkey.example.nl."]
    from mailctl.dns.render import quote_txt, txt_strings

    served(hosted, named, {" ".join(quote_txt(c) for c in mine["strings"]):
                           " ".join(quote_txt(c) for c in txt_strings(other))})
    bad = check(hosted, named, 1)
    row = bad[("mail._domainkey.example.nl.", "TXT")]
    assert row["status"] == "DIFFERENT"
    assert "published key does not match the local key" in row["found"]


def test_second_spf_record(hosted: Mailctl, named: Named) -> None:
    served(hosted, named, {'"v=spf1 mx -all"': '"v=spf1 mx -all"\nexample.nl.\t3600\tIN\tTXT\t'
                                                '"v=spf1 a -all"'})
    row = check(hosted, named, 1)[("example.nl.", "TXT")]
    assert row["status"] == "DIFFERENT" and "2 SPF records" in row["found"]


def test_spf_without_the_servers_address(hosted: Mailctl, named: Named) -> None:
    served(hosted, named, {'"v=spf1 mx -all"': '"v=spf1 ip4:198.51.100.1 -all"'})
    row = check(hosted, named, 1)[("example.nl.", "TXT")]
    assert "does not authorise 203.0.113.10: fail" in row["found"]


def test_missing_dmarc(hosted: Mailctl, named: Named) -> None:
    served(hosted, named, {"_dmarc.example.nl.": "_notdmarc.example.nl."})
    row = check(hosted, named, 1)[("_dmarc.example.nl.", "TXT")]
    assert row["status"] == "MISSING"


def test_mx_elsewhere(hosted: Mailctl, named: Named) -> None:
    served(hosted, named, {"MX\t10 mail.example.nl.": "MX\t10 mx.elsewhere.example."})
    row = check(hosted, named, 1)[("example.nl.", "MX")]
    assert row["status"] == "DIFFERENT" and row["found"] == "10 mx.elsewhere.example."


def test_stale_mta_sts_id(hosted: Mailctl, named: Named) -> None:
    records = json.loads(hosted("dns", "show", "example.nl", "-f", "json").stdout)
    (sts,) = [r for r in records if r["name"] == "_mta-sts.example.nl."]
    served(hosted, named, {sts["value"]: "v=STSv1; id=0000stale"})
    row = check(hosted, named, 1)[("_mta-sts.example.nl.", "TXT")]
    assert row["status"] == "DIFFERENT" and "current id=" in row["found"]


def test_ptr_that_does_not_resolve_back(hosted: Mailctl, named: Named) -> None:
    served(hosted, named, {"mail.example.nl.\t3600\tIN\tA\t203.0.113.10":
                           "mail.example.nl.\t3600\tIN\tA\t203.0.113.99"})
    row = check(hosted, named, 1)[("10.113.0.203.in-addr.arpa.", "PTR")]
    assert "forward-confirmed reverse DNS fails" in row["found"]


def test_unknown_domain_and_bad_nameserver(hosted: Mailctl) -> None:
    out = hosted("dns", "check", "nope.example", code=1)
    assert "nope.example is not hosted" in out.stderr
    out = hosted("dns", "check", "--nameserver", "localhost:x", code=2)
    assert "invalid --nameserver" in out.stderr


def test_unreachable_nameserver_is_one_clear_line(hosted: Mailctl) -> None:
    out = hosted("dns", "check", "--nameserver", "127.0.0.1:9", code=1)
    assert out.stderr.count("mailctl: error:") == 1
    assert "timed out after 5s" in out.stderr and "Traceback" not in out.stderr


def test_doctor_dns_uses_dns_check(hosted: Mailctl, named: Named) -> None:
    served(hosted, named, {"MX\t10 mail.example.nl.": "MX\t10 mx.elsewhere.example."})
    out = hosted("doctor", "--dns", "--nameserver", named.address, "-f", "json", code=1)
    rows = {r["check"]: r for r in json.loads(out.stdout)}
    assert rows["dns example.nl"]["status"] == "FAIL"
    assert "example.nl. MX DIFFERENT" in rows["dns example.nl"]["detail"]


def test_a_report_address_nobody_receives_is_a_row(hosted: Mailctl, named: Named) -> None:
    """The rua= addresses are judged like Postfix would route them: once the admin
    mailbox the report aliases lead to is gone, both are MISSING, with the fix."""
    served(hosted, named)
    hosted("user", "del", "admin@example.nl", "--yes")
    rows = check(hosted, named, 1)
    for address in ("dmarc-reports@example.nl", "tls-report@example.nl"):
        row = rows.pop((address, "mailto"))
        assert row["status"] == "MISSING" and row["level"] == "required"
        assert row["found"] == (
            "it leads to admin@example.nl: no receiving mailbox or alias has that address"
            " (fix: mailctl user add admin@example.nl)"
        )
    assert rows == {}
