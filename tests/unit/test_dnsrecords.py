"""DNS records: golden strings of every rendering, and the rules behind the record set."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from support.env import program

from mailctl.dns.check import CHECKS
from mailctl.dns.clientconfig import autoconfig_xml, autodiscover_xml, mta_sts_id, mta_sts_policy
from mailctl.dns.names import relative_name
from mailctl.dns.records import (
    DkimPublication,
    DnsContext,
    Record,
    RecordKind,
    dmarc_report_domains,
    host_zone,
    records_for,
)
from mailctl.dns.render import (
    quote_txt,
    record_objects,
    render_bind,
    render_table,
    render_zone,
    txt_strings,
    zone_value,
)
from mailctl.errors import InvalidInput

# RFC 8463's example Ed25519 key: short enough for literal golden strings.
ED25519 = "v=DKIM1; h=sha256; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
GUIDE_DMARC = (
    "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc-reports@{domain}; adkim=s; aspf=s;"
    " pct=100; fo=0;"
)
CTX = DnsContext(
    hostname="mail.example.nl",
    ipv4="203.0.113.10",
    ipv6="",
    dmarc="v=DMARC1; p=reject; rua=mailto:dmarc@{domain}",
    tlsrpt_rua="mailto:tls-report@{domain}",
    dkim=(DkimPublication("mail", "active", ED25519),),
    host_zone="example.nl",
)


def ctx(**changes: object) -> DnsContext:
    return dataclasses.replace(CTX, **changes)  # type: ignore[arg-type]


def find(records: list[Record], name: str, rtype: str) -> list[str]:
    return [r.value for r in records if r.name == name and r.type == rtype]


# ------------------------------------------------------------------ golden strings


def test_bind_golden() -> None:
    assert render_bind(records_for("example.nl", CTX)) == (
        "mail.example.nl.\t3600\tIN\tA\t203.0.113.10\n"
        "imap.example.nl.\t3600\tIN\tA\t203.0.113.10\n"
        "smtp.example.nl.\t3600\tIN\tA\t203.0.113.10\n"
        "autoconfig.example.nl.\t3600\tIN\tCNAME\tmail.example.nl.\n"
        "autodiscover.example.nl.\t3600\tIN\tCNAME\tmail.example.nl.\n"
        "example.nl.\t3600\tIN\tMX\t10 mail.example.nl.\n"
        'example.nl.\t3600\tIN\tTXT\t"v=spf1 mx -all"\n'
        "mail._domainkey.example.nl.\t3600\tIN\tTXT\t"
        '"v=DKIM1; h=sha256; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="\n'
        '_dmarc.example.nl.\t3600\tIN\tTXT\t"v=DMARC1; p=reject; rua=mailto:dmarc@example.nl"\n'
        "_imaps._tcp.example.nl.\t3600\tIN\tSRV\t0 1 993 imap.example.nl.\n"
        "_submission._tcp.example.nl.\t3600\tIN\tSRV\t0 1 587 smtp.example.nl.\n"
        "_submissions._tcp.example.nl.\t3600\tIN\tSRV\t0 1 465 smtp.example.nl.\n"
        "_imap._tcp.example.nl.\t3600\tIN\tSRV\t0 0 0 .\n"
        "_pop3._tcp.example.nl.\t3600\tIN\tSRV\t0 0 0 .\n"
        "_pop3s._tcp.example.nl.\t3600\tIN\tSRV\t0 0 0 .\n"
        "mta-sts.example.nl.\t3600\tIN\tA\t203.0.113.10\n"
        '_mta-sts.example.nl.\t3600\tIN\tTXT\t"v=STSv1; id=1dfdb407950db2d8921d"\n'
        '_smtp._tls.example.nl.\t3600\tIN\tTXT\t"v=TLSRPTv1; rua=mailto:tls-report@example.nl"\n'
        "10.113.0.203.in-addr.arpa.\t3600\tIN\tPTR\tmail.example.nl.\n"
    )


def test_table_golden() -> None:
    rows = render_table(records_for("example.nl", CTX), "example.nl")
    assert all(list(row) == ["name", "type", "ttl", "value", "status", "why"] for row in rows)
    text = "".join(
        "\t".join(str(row[c]) for c in ("name", "type", "ttl", "value", "status")) + "\n"
        for row in rows
    )
    assert text == (
        "mail\tA\t3600\t203.0.113.10\trequired\n"
        "imap\tA\t3600\t203.0.113.10\trequired\n"
        "smtp\tA\t3600\t203.0.113.10\trequired\n"
        "autoconfig\tCNAME\t3600\tmail.example.nl.\trecommended\n"
        "autodiscover\tCNAME\t3600\tmail.example.nl.\trecommended\n"
        "@\tMX\t3600\t10 mail.example.nl.\trequired\n"
        "@\tTXT\t3600\tv=spf1 mx -all\trequired\n"
        "mail._domainkey\tTXT\t3600\t"
        "v=DKIM1; h=sha256; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\trequired\n"
        "_dmarc\tTXT\t3600\tv=DMARC1; p=reject; rua=mailto:dmarc@example.nl\trequired\n"
        "_imaps._tcp\tSRV\t3600\t0 1 993 imap.example.nl.\trecommended\n"
        "_submission._tcp\tSRV\t3600\t0 1 587 smtp.example.nl.\trecommended\n"
        "_submissions._tcp\tSRV\t3600\t0 1 465 smtp.example.nl.\trecommended\n"
        "_imap._tcp\tSRV\t3600\t0 0 0 .\toptional\n"
        "_pop3._tcp\tSRV\t3600\t0 0 0 .\toptional\n"
        "_pop3s._tcp\tSRV\t3600\t0 0 0 .\toptional\n"
        "mta-sts\tA\t3600\t203.0.113.10\trecommended\n"
        "_mta-sts\tTXT\t3600\tv=STSv1; id=1dfdb407950db2d8921d\trecommended\n"
        "_smtp._tls\tTXT\t3600\tv=TLSRPTv1; rua=mailto:tls-report@example.nl\trecommended\n"
        "10.113.0.203.in-addr.arpa.\tPTR\t3600\tmail.example.nl.\trequired\n"
    )
    assert rows[-1]["why"] == "set by the hosting provider (reverse DNS of the server)"


def test_table_values_are_unquoted_and_unsplit() -> None:
    long_key = "v=DKIM1; k=rsa; p=" + "A" * 400 + '"\\'
    rows = render_table(
        records_for("example.nl", ctx(dkim=(DkimPublication("mail", "active", long_key),))),
        "example.nl",
    )
    assert [r["value"] for r in rows if r["name"] == "mail._domainkey"] == [long_key]


JSON_GOLDEN = """\
[
  {
    "domain": "example.nl",
    "name": "mail.example.nl.",
    "type": "A",
    "ttl": 3600,
    "value": "203.0.113.10",
    "status": "required",
    "why": "the server (MX target); must match its PTR"
  },
  {
    "domain": "example.nl",
    "name": "imap.example.nl.",
    "type": "A",
    "ttl": 3600,
    "value": "203.0.113.10",
    "status": "required",
    "why": "IMAPS server name of the domain's mail clients"
  },
  {
    "domain": "example.nl",
    "name": "smtp.example.nl.",
    "type": "A",
    "ttl": 3600,
    "value": "203.0.113.10",
    "status": "required",
    "why": "submission server name of the domain's mail clients"
  },
  {
    "domain": "example.nl",
    "name": "autoconfig.example.nl.",
    "type": "CNAME",
    "ttl": 3600,
    "value": "mail.example.nl.",
    "status": "recommended",
    "why": "Thunderbird autoconfiguration: serve 'mailctl dns autoconfig' here over HTTPS"
  },
  {
    "domain": "example.nl",
    "name": "autodiscover.example.nl.",
    "type": "CNAME",
    "ttl": 3600,
    "value": "mail.example.nl.",
    "status": "recommended",
    "why": "Outlook autodiscover: serve 'mailctl dns autodiscover' here over HTTPS"
  },
  {
    "domain": "example.nl",
    "name": "example.nl.",
    "type": "MX",
    "ttl": 3600,
    "value": "10 mail.example.nl.",
    "status": "required",
    "why": "mail for example.nl goes to mail.example.nl"
  },
  {
    "domain": "example.nl",
    "name": "example.nl.",
    "type": "TXT",
    "ttl": 3600,
    "value": "v=spf1 mx -all",
    "status": "required",
    "why": "SPF: who may send as example.nl",
    "strings": [
      "v=spf1 mx -all"
    ]
  },
  {
    "domain": "example.nl",
    "name": "mail._domainkey.example.nl.",
    "type": "TXT",
    "ttl": 3600,
    "value": "v=DKIM1; h=sha256; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    "status": "required",
    "why": "DKIM public key of the selector OpenDKIM signs with",
    "strings": [
      "v=DKIM1; h=sha256; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    ]
  },
  {
    "domain": "example.nl",
    "name": "_dmarc.example.nl.",
    "type": "TXT",
    "ttl": 3600,
    "value": "v=DMARC1; p=reject; rua=mailto:dmarc@example.nl",
    "status": "required",
    "why": "DMARC policy and report address",
    "strings": [
      "v=DMARC1; p=reject; rua=mailto:dmarc@example.nl"
    ]
  },
  {
    "domain": "example.nl",
    "name": "_imaps._tcp.example.nl.",
    "type": "SRV",
    "ttl": 3600,
    "value": "0 1 993 imap.example.nl.",
    "status": "recommended",
    "why": "IMAP over TLS, port 993"
  },
  {
    "domain": "example.nl",
    "name": "_submission._tcp.example.nl.",
    "type": "SRV",
    "ttl": 3600,
    "value": "0 1 587 smtp.example.nl.",
    "status": "recommended",
    "why": "mail submission with STARTTLS, port 587"
  },
  {
    "domain": "example.nl",
    "name": "_submissions._tcp.example.nl.",
    "type": "SRV",
    "ttl": 3600,
    "value": "0 1 465 smtp.example.nl.",
    "status": "recommended",
    "why": "mail submission over TLS, port 465 (RFC 8314)"
  },
  {
    "domain": "example.nl",
    "name": "_imap._tcp.example.nl.",
    "type": "SRV",
    "ttl": 3600,
    "value": "0 0 0 .",
    "status": "optional",
    "why": "plaintext IMAP is not offered"
  },
  {
    "domain": "example.nl",
    "name": "_pop3._tcp.example.nl.",
    "type": "SRV",
    "ttl": 3600,
    "value": "0 0 0 .",
    "status": "optional",
    "why": "POP3 is not offered"
  },
  {
    "domain": "example.nl",
    "name": "_pop3s._tcp.example.nl.",
    "type": "SRV",
    "ttl": 3600,
    "value": "0 0 0 .",
    "status": "optional",
    "why": "POP3 over TLS is not offered"
  },
  {
    "domain": "example.nl",
    "name": "mta-sts.example.nl.",
    "type": "A",
    "ttl": 3600,
    "value": "203.0.113.10",
    "status": "recommended",
    "why": "MTA-STS: serve 'mailctl dns mta-sts-policy' here over HTTPS"
  },
  {
    "domain": "example.nl",
    "name": "_mta-sts.example.nl.",
    "type": "TXT",
    "ttl": 3600,
    "value": "v=STSv1; id=1dfdb407950db2d8921d",
    "status": "recommended",
    "why": "MTA-STS: the id changes whenever the policy does",
    "strings": [
      "v=STSv1; id=1dfdb407950db2d8921d"
    ]
  },
  {
    "domain": "example.nl",
    "name": "_smtp._tls.example.nl.",
    "type": "TXT",
    "ttl": 3600,
    "value": "v=TLSRPTv1; rua=mailto:tls-report@example.nl",
    "status": "recommended",
    "why": "TLS-RPT: where senders report TLS failures (RFC 8460)",
    "strings": [
      "v=TLSRPTv1; rua=mailto:tls-report@example.nl"
    ]
  },
  {
    "domain": "example.nl",
    "name": "10.113.0.203.in-addr.arpa.",
    "type": "PTR",
    "ttl": 3600,
    "value": "mail.example.nl.",
    "status": "required",
    "why": "set by the hosting provider (reverse DNS of the server)"
  }
]
"""


def test_json_golden() -> None:
    objects = record_objects(records_for("example.nl", CTX), "example.nl")
    # as `dns show --format json` prints them
    assert json.dumps(objects, indent=2, ensure_ascii=False) + "\n" == JSON_GOLDEN


def test_json_schema_without_domain_and_txt_strings() -> None:
    long_value = "x" * 300
    record = Record("t.example.nl.", "TXT", 60, long_value, "optional", "test", RecordKind.TLSRPT)
    (obj,) = record_objects([record], None)
    assert list(obj) == ["name", "type", "ttl", "value", "status", "why", "strings"]
    assert obj["strings"] == ["x" * 255, "x" * 45]
    srv = Record("_imap._tcp.example.nl.", "SRV", 60, "0 0 0 .", "optional", "off", RecordKind.SRV)
    assert "strings" not in record_objects([srv], "example.nl")[0]


def test_zone_golden() -> None:
    assert render_zone("example.nl", records_for("example.nl", CTX), serial=2025010101) == (
        "; zone example.nl. by mailctl dns show --zone: replace the SOA and NS placeholders\n"
        "$ORIGIN example.nl.\n"
        "$TTL 3600\n"
        "@\tIN\tSOA\tns1.example.nl. hostmaster.example.nl. ( 2025010101 3600 900 1209600 300 )\n"
        "@\tIN\tNS\tns1.example.nl.\n"
        "ns1.example.nl.\tIN\tA\t192.0.2.53\t; placeholder address of the name server\n"
        + render_bind(records_for("example.nl", CTX)).replace(
            "10.113.0.203.in-addr.arpa.\t3600\tIN\tPTR\tmail.example.nl.\n", ""
        )
        + ";\n"
        "; outside this zone, to be published elsewhere:\n"
        "; 10.113.0.203.in-addr.arpa.\t3600\tIN\tPTR\tmail.example.nl.\t"
        "; set by the hosting provider (reverse DNS of the server)\n"
    )


def test_guide_records_appear_as_the_guide_writes_them() -> None:
    """Guide §15 lines (with its placeholders filled in) are all in the bind output."""
    guide = ctx(
        ipv6="2001:db8::10",
        dmarc=GUIDE_DMARC,
        dkim=(DkimPublication("mail", "active", "v=DKIM1; k=rsa; p=PASTE_PUBLIC_KEY_HERE"),),
    )
    lines = {
        tuple(line.split("\t")[i] for i in (0, 3, 4))
        for line in render_bind(records_for("example.nl", guide)).splitlines()
    }
    for name, rtype, value in [
        ("mail.example.nl.", "A", "203.0.113.10"),
        ("mail.example.nl.", "AAAA", "2001:db8::10"),
        ("imap.example.nl.", "A", "203.0.113.10"),
        ("imap.example.nl.", "AAAA", "2001:db8::10"),
        ("smtp.example.nl.", "A", "203.0.113.10"),
        ("smtp.example.nl.", "AAAA", "2001:db8::10"),
        ("example.nl.", "MX", "10 mail.example.nl."),
        ("example.nl.", "TXT", '"v=spf1 mx -all"'),
        ("mail._domainkey.example.nl.", "TXT", '"v=DKIM1; k=rsa; p=PASTE_PUBLIC_KEY_HERE"'),
        (
            "_dmarc.example.nl.",
            "TXT",
            '"v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc-reports@example.nl; adkim=s;'
            ' aspf=s; pct=100; fo=0;"',
        ),
        ("_imaps._tcp.example.nl.", "SRV", "0 1 993 imap.example.nl."),
        ("_submission._tcp.example.nl.", "SRV", "0 1 587 smtp.example.nl."),
        ("mta-sts.example.nl.", "A", "203.0.113.10"),
        ("mta-sts.example.nl.", "AAAA", "2001:db8::10"),
        ("_smtp._tls.example.nl.", "TXT", '"v=TLSRPTv1; rua=mailto:tls-report@example.nl"'),
        (
            "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            "PTR",
            "mail.example.nl.",
        ),
    ]:
        assert (name, rtype, value) in lines


def test_every_record_is_absolute_lowercase_with_status() -> None:
    for record in records_for(
        "Example.NL.",
        ctx(hostname="Mail.Example.NL.", dane=True, tlsa="AB" * 32, ipv6="2001:DB8::10"),
    ):
        assert record.name.endswith(".") and record.name == record.name.lower()
        assert record.status in ("required", "recommended", "optional")
        assert record.why and record.ttl == 3600
    values = find(records_for("example.nl", ctx(ipv6="2001:DB8:0::10")), "mail.example.nl.", "AAAA")
    assert values == ["2001:db8::10"]


def test_every_record_carries_its_kind() -> None:
    records = records_for(
        "example.nl",
        ctx(
            dane=True,
            tlsa="ab" * 32,
            ipv6="2001:db8::10",
            dmarc="v=DMARC1; p=reject; rua=mailto:d@example.nl,mailto:d@reports.example",
        ),
    )
    kinds = {(r.name, r.type): r.kind for r in records}
    assert len(kinds) == len(records)
    assert kinds == {
        ("mail.example.nl.", "A"): RecordKind.ADDRESS,
        ("mail.example.nl.", "AAAA"): RecordKind.ADDRESS,
        ("imap.example.nl.", "A"): RecordKind.ADDRESS,
        ("imap.example.nl.", "AAAA"): RecordKind.ADDRESS,
        ("smtp.example.nl.", "A"): RecordKind.ADDRESS,
        ("smtp.example.nl.", "AAAA"): RecordKind.ADDRESS,
        ("autoconfig.example.nl.", "CNAME"): RecordKind.DISCOVERY,
        ("autodiscover.example.nl.", "CNAME"): RecordKind.DISCOVERY,
        ("example.nl.", "MX"): RecordKind.MX,
        ("example.nl.", "TXT"): RecordKind.SPF,
        ("mail._domainkey.example.nl.", "TXT"): RecordKind.DKIM,
        ("_dmarc.example.nl.", "TXT"): RecordKind.DMARC,
        ("example.nl._report._dmarc.reports.example.", "TXT"): RecordKind.DMARC_REPORT,
        ("_imaps._tcp.example.nl.", "SRV"): RecordKind.SRV,
        ("_submission._tcp.example.nl.", "SRV"): RecordKind.SRV,
        ("_submissions._tcp.example.nl.", "SRV"): RecordKind.SRV,
        ("_imap._tcp.example.nl.", "SRV"): RecordKind.SRV,
        ("_pop3._tcp.example.nl.", "SRV"): RecordKind.SRV,
        ("_pop3s._tcp.example.nl.", "SRV"): RecordKind.SRV,
        ("_25._tcp.mail.example.nl.", "TLSA"): RecordKind.TLSA,
        ("mta-sts.example.nl.", "A"): RecordKind.ADDRESS,
        ("mta-sts.example.nl.", "AAAA"): RecordKind.ADDRESS,
        ("_mta-sts.example.nl.", "TXT"): RecordKind.MTA_STS,
        ("_smtp._tls.example.nl.", "TXT"): RecordKind.TLSRPT,
        ("10.113.0.203.in-addr.arpa.", "PTR"): RecordKind.PTR,
        (
            "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            "PTR",
        ): RecordKind.PTR,
    }


def test_dns_check_judges_every_kind() -> None:
    assert set(CHECKS) == set(RecordKind)


def test_invalid_server_address_is_refused() -> None:
    with pytest.raises(InvalidInput, match="server.ipv4 '2001:db8::1' is not an IPv4 address"):
        records_for("example.nl", ctx(ipv4="2001:db8::1"))
    with pytest.raises(InvalidInput, match="server.ipv6 'nope' is not an IPv6 address"):
        records_for("example.nl", ctx(ipv6="nope"))


def test_no_addresses_without_ipv4_and_ipv6() -> None:
    records = records_for("example.nl", ctx(ipv4="", ipv6=""))
    assert not [r for r in records if r.type in ("A", "AAAA", "PTR")]


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("name", "zone", "relative"),
    [
        ("example.nl.", "example.nl", "@"),
        ("mail._domainkey.example.nl.", "example.nl", "mail._domainkey"),
        ("_dmarc.example.nl.", "example.nl.", "_dmarc"),
        ("mail.example.nl.", "example2.nl", "mail.example.nl."),
        ("x.notexample.nl.", "example.nl", "x.notexample.nl."),
        ("10.113.0.203.in-addr.arpa.", "example.nl", "10.113.0.203.in-addr.arpa."),
    ],
)
def test_relative_name(name: str, zone: str, relative: str) -> None:
    assert relative_name(name, zone) == relative


def test_host_zone_rules() -> None:
    domains = ["example2.nl", "example.nl", "sub.example.nl"]
    assert host_zone("mail.example.nl", "example.nl", domains) == "example.nl"
    assert host_zone("mx.sub.example.nl", "example.nl", domains) == "sub.example.nl"
    assert host_zone("mail.example2.nl", "example.nl", domains) == "example2.nl"
    assert host_zone("mail.hoster.net", "example.nl", domains) == "example.nl"
    assert host_zone("mail.hoster.net", "elsewhere.nl", domains) == "example.nl"
    assert host_zone("mail.notexample.nl", "other.nl", ["example.nl"]) == "example.nl"
    assert host_zone("mail.example.nl", "example.nl", []) == ""


def test_no_duplicate_host_records_across_domains() -> None:
    domains = ["example.nl", "example2.nl", "xn--bcher-kva.example"]
    shared = ctx(
        ipv6="2001:db8::10",
        dane=True,
        tlsa="ab" * 32,
        host_zone=host_zone("mail.example.nl", "example.nl", domains),
    )
    everything = [(r.name, r.type, r.value) for d in domains for r in records_for(d, shared)]
    assert len(everything) == len(set(everything))
    assert [v for n, t, v in everything if n == "mail.example.nl." and t == "A"] == ["203.0.113.10"]
    assert len([1 for _n, t, _v in everything if t == "PTR"]) == 2
    assert len([1 for _n, t, _v in everything if t == "TLSA"]) == 1
    other = records_for("example2.nl", shared)
    assert not [r for r in other if r.type in ("PTR", "TLSA") or r.name == "mail.example.nl."]
    assert find(other, "example2.nl.", "MX") == ["10 mail.example.nl."]
    assert find(other, "autoconfig.example2.nl.", "CNAME") == ["mail.example.nl."]


def test_hostname_equal_to_a_service_name_is_listed_once() -> None:
    records = records_for("example.nl", ctx(hostname="smtp.example.nl"))
    assert find(records, "smtp.example.nl.", "A") == ["203.0.113.10"]


# ------------------------------------------------------------------ DKIM


def test_dkim_records_per_selector_and_state() -> None:
    keys = (
        DkimPublication("mail", "retired", "v=DKIM1; k=rsa; p=OLD"),
        DkimPublication("20250101", "active", "v=DKIM1; k=rsa; p=NOW"),
        DkimPublication("20260101", "pending", "v=DKIM1; k=rsa; p=NEXT"),
    )
    records = [r for r in records_for("example.nl", ctx(dkim=keys)) if "_domainkey" in r.name]
    assert [(r.name, r.value, r.status) for r in records] == [
        ("mail._domainkey.example.nl.", "v=DKIM1; k=rsa; p=OLD", "recommended"),
        ("20250101._domainkey.example.nl.", "v=DKIM1; k=rsa; p=NOW", "required"),
        ("20260101._domainkey.example.nl.", "v=DKIM1; k=rsa; p=NEXT", "required"),
    ]
    assert "retire" in records[0].why and "activate" in records[2].why


# ------------------------------------------------------------------ TXT strings


def test_txt_split_at_255_bytes() -> None:
    assert txt_strings("") == [""]
    assert txt_strings("a" * 255) == ["a" * 255]
    assert txt_strings("a" * 256) == ["a" * 255, "a"]
    assert txt_strings("a" * 600) == ["a" * 255, "a" * 255, "a" * 90]
    # bytes, not characters, and never inside a UTF-8 sequence
    assert txt_strings("a" * 254 + "é" + "b") == ["a" * 254, "éb"]
    assert all(len(s.encode()) <= 255 for s in txt_strings("é" * 300))


def test_quote_txt_escapes() -> None:
    assert quote_txt('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert quote_txt("tab\there é") == '"tab\\009here \\195\\169"'


def test_long_txt_is_one_record_of_several_strings() -> None:
    value = "v=DKIM1; k=rsa; p=" + 'A"\\' * 150  # 468 bytes with quotes and backslashes
    record = Record(
        "mail._domainkey.example.nl.", "TXT", 3600, value, "required", "dkim", RecordKind.DKIM
    )
    lines = render_bind([record]).splitlines()
    assert len(lines) == 1  # one record, never several
    rdata = lines[0].split("\t", 4)[4]
    parsed = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, rdata)
    strings = parsed.strings  # type: ignore[attr-defined]
    assert len(strings) == 2
    assert all(len(s) <= 255 for s in strings)
    assert len(strings[0]) == 255
    assert b"".join(strings).decode() == value
    assert rdata == zone_value(record)
    assert rdata.startswith('"v=DKIM1; k=rsa; p=A\\"\\\\A\\"')


def test_real_dkim_key_splits_like_the_json_strings() -> None:
    from mailctl.dkim import keyfiles as dkim

    value = dkim.dns_value(dkim.generate_rsa_key(2048))
    records = records_for("example.nl", ctx(dkim=(DkimPublication("mail", "active", value),)))
    (obj,) = [o for o in record_objects(records, "example.nl") if o["name"].startswith("mail._")]
    assert "".join(obj["strings"]) == value and len(obj["strings"]) == 2
    (line,) = [x for x in render_bind(records).splitlines() if x.startswith("mail._domainkey")]
    assert line.endswith(" ".join(f'"{s}"' for s in obj["strings"]))


# ------------------------------------------------------------------ DMARC


def test_dmarc_report_domains() -> None:
    value = (
        "v=DMARC1; p=none; rua=mailto:a@Reports.Example.COM!10m, mailto:b@example.nl,"
        " https://x.example/; ruf=mailto:f@forensic.example"
    )
    assert dmarc_report_domains(value) == ["reports.example.com", "example.nl", "forensic.example"]
    assert dmarc_report_domains("v=DMARC1; p=reject") == []


def test_dmarc_external_rua_needs_authorisation_record() -> None:
    external = ctx(dmarc="v=DMARC1; p=reject; rua=mailto:dmarc@reports.example.com")
    records = records_for("example.nl", external)
    auth = [r for r in records if "._report._dmarc." in r.name]
    assert [(r.name, r.type, r.value) for r in auth] == [
        ("example.nl._report._dmarc.reports.example.com.", "TXT", "v=DMARC1")
    ]
    assert "reports.example.com" in auth[0].why
    assert relative_name(auth[0].name, "example.nl") == auth[0].name  # another zone
    zone = render_zone("example.nl", records)
    assert '\n; example.nl._report._dmarc.reports.example.com.\t3600\tIN\tTXT\t"v=DMARC1"' in zone


@pytest.mark.parametrize(
    ("domain", "rua"),
    [
        ("example.nl", "mailto:d@example.nl"),
        ("example.nl", "mailto:d@reports.example.nl"),
        ("example.nl", "mailto:d@{domain}"),
        ("sub.example.nl", "mailto:d@example.nl"),  # parent domain: same organisation
    ],
)
def test_dmarc_own_rua_needs_no_authorisation(domain: str, rua: str) -> None:
    records = records_for(domain, ctx(dmarc=f"v=DMARC1; p=reject; rua={rua}"))
    assert not [r for r in records if "._report._dmarc." in r.name]


def test_dmarc_sibling_rua_gets_a_harmless_extra_record() -> None:
    """Without the Public Suffix List siblings count as external (documented)."""
    records = records_for("a.example.nl", ctx(dmarc="v=DMARC1; p=none; rua=mailto:d@b.example.nl"))
    assert [r.name for r in records if "._report._dmarc." in r.name] == [
        "a.example.nl._report._dmarc.b.example.nl."
    ]


def test_dmarc_domain_placeholder_is_filled_in() -> None:
    records = records_for("example2.nl", ctx(dmarc=GUIDE_DMARC))
    assert find(records, "_dmarc.example2.nl.", "TXT") == [
        GUIDE_DMARC.replace("{domain}", "example2.nl")
    ]


# ------------------------------------------------------------------ SRV


def srv(records: list[Record]) -> dict[str, str]:
    return {r.name: r.value for r in records if r.type == "SRV"}


def test_srv_with_smtps() -> None:
    assert srv(records_for("example.nl", ctx(smtps=True))) == {
        "_imaps._tcp.example.nl.": "0 1 993 imap.example.nl.",
        "_submission._tcp.example.nl.": "0 1 587 smtp.example.nl.",
        "_submissions._tcp.example.nl.": "0 1 465 smtp.example.nl.",
        "_imap._tcp.example.nl.": "0 0 0 .",
        "_pop3._tcp.example.nl.": "0 0 0 .",
        "_pop3s._tcp.example.nl.": "0 0 0 .",
    }


def test_srv_without_smtps() -> None:
    assert srv(records_for("example.nl", ctx(smtps=False))) == {
        "_imaps._tcp.example.nl.": "0 1 993 imap.example.nl.",
        "_submission._tcp.example.nl.": "0 1 587 smtp.example.nl.",
        "_imap._tcp.example.nl.": "0 0 0 .",
        "_pop3._tcp.example.nl.": "0 0 0 .",
        "_pop3s._tcp.example.nl.": "0 0 0 .",
        "_submissions._tcp.example.nl.": "0 0 0 .",
    }


# ------------------------------------------------------------------ DANE


def test_tlsa_only_with_dane_and_a_hash() -> None:
    def tlsa(**changes: object) -> list[str]:
        return find(records_for("example.nl", ctx(**changes)), "_25._tcp.mail.example.nl.", "TLSA")

    assert tlsa(dane=True, tlsa="AB" * 32) == ["3 1 1 " + "ab" * 32]
    assert tlsa(dane=False, tlsa="ab" * 32) == []
    assert tlsa(dane=True, tlsa=None) == []
    assert tlsa(dane=True, tlsa="ab" * 32, host_zone="example2.nl") == []


# ------------------------------------------------------------------ MTA-STS


def test_mta_sts_policy_golden() -> None:
    assert mta_sts_policy(CTX) == (
        "version: STSv1\r\nmode: enforce\r\nmx: mail.example.nl\r\nmax_age: 604800\r\n"
    )
    assert mta_sts_policy(ctx(hostname="MX.Example.NL.", mta_sts_mode="testing")) == (
        "version: STSv1\r\nmode: testing\r\nmx: mx.example.nl\r\nmax_age: 604800\r\n"
    )


def test_mta_sts_id_changes_exactly_when_the_policy_changes() -> None:
    def txt(c: DnsContext) -> str:
        (value,) = find(records_for("example.nl", c), "_mta-sts.example.nl.", "TXT")
        return value

    base = txt(CTX)
    assert re.fullmatch(r"v=STSv1; id=[A-Za-z0-9]{1,32}", base)
    assert base == f"v=STSv1; id={mta_sts_id(mta_sts_policy(CTX))}"
    same_policy = [
        ctx(spf="v=spf1 a -all"),
        ctx(dmarc=GUIDE_DMARC),
        ctx(dkim=()),
        ctx(ttl=300),
        ctx(smtps=False),
        ctx(ipv4="198.51.100.1"),
        ctx(dane=True, tlsa="ab" * 32),
    ]
    for other in same_policy:
        assert mta_sts_policy(other) == mta_sts_policy(CTX)
        assert txt(other) == base
    changed_policy = [
        ctx(mta_sts_mode="testing"),
        ctx(mta_sts_mode="none"),
        ctx(mta_sts_max_age=86400),
        ctx(hostname="mx.example.nl"),
    ]
    ids = {base} | {txt(other) for other in changed_policy}
    for other in changed_policy:
        assert mta_sts_policy(other) != mta_sts_policy(CTX)
    assert len(ids) == 1 + len(changed_policy)
    # the same for every hosted domain: the policy names the same MX
    assert txt(CTX) == find(records_for("example2.nl", CTX), "_mta-sts.example2.nl.", "TXT")[0]


# ------------------------------------------------------------------ client configuration


def test_autoconfig_golden() -> None:
    assert autoconfig_xml("example.nl", ctx(smtps=False)) == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<clientConfig version="1.1">\n'
        '  <emailProvider id="example.nl">\n'
        "    <domain>example.nl</domain>\n"
        "    <displayName>example.nl Mail</displayName>\n"
        "    <displayShortName>example.nl</displayShortName>\n"
        '    <incomingServer type="imap">\n'
        "      <hostname>imap.example.nl</hostname>\n"
        "      <port>993</port>\n"
        "      <socketType>SSL</socketType>\n"
        "      <authentication>password-cleartext</authentication>\n"
        "      <username>%EMAILADDRESS%</username>\n"
        "    </incomingServer>\n"
        '    <outgoingServer type="smtp">\n'
        "      <hostname>smtp.example.nl</hostname>\n"
        "      <port>587</port>\n"
        "      <socketType>STARTTLS</socketType>\n"
        "      <authentication>password-cleartext</authentication>\n"
        "      <username>%EMAILADDRESS%</username>\n"
        "    </outgoingServer>\n"
        "  </emailProvider>\n"
        "</clientConfig>\n"
    )


def test_autoconfig_with_smtps_adds_465() -> None:
    root = ET.fromstring(autoconfig_xml("example2.nl", ctx(smtps=True)))  # noqa: S314
    servers = [
        (s.findtext("hostname"), s.findtext("port"), s.findtext("socketType"))
        for s in root.iter("outgoingServer")
    ]
    assert servers == [("smtp.example2.nl", "587", "STARTTLS"), ("smtp.example2.nl", "465", "SSL")]
    assert root.find("emailProvider").get("id") == "example2.nl"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("smtps", "port", "encryption"), [(True, "465", "SSL"), (False, "587", "TLS")]
)
def test_autodiscover(smtps: bool, port: str, encryption: str) -> None:
    ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
    root = ET.fromstring(autodiscover_xml("example.nl", ctx(smtps=smtps)))  # noqa: S314
    assert (
        root.tag
        == "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}Autodiscover"
    )
    protocols = {
        p.findtext("a:Type", namespaces=ns): (
            p.findtext("a:Server", namespaces=ns),
            p.findtext("a:Port", namespaces=ns),
            p.findtext("a:Encryption", namespaces=ns),
        )
        for p in root.iterfind("a:Response/a:Account/a:Protocol", ns)
    }
    assert protocols == {
        "IMAP": ("imap.example.nl", "993", "SSL"),
        "SMTP": ("smtp.example.nl", port, encryption),
    }


# ------------------------------------------------------------------ real zone loader


def test_named_checkzone_accepts_awkward_zone(tmp_path: Path) -> None:
    checkzone = program("named-checkzone")
    awkward = ctx(
        ipv6="2001:db8::10",
        dane=True,
        tlsa="ab" * 32,
        spf='v=spf1 mx "quoted" \\ -all',
        dmarc="v=DMARC1; p=reject; rua=mailto:d@reports.example.com; ruf=mailto:f@example.nl",
        dkim=(DkimPublication("mail", "active", "v=DKIM1; k=rsa; p=" + "Q" * 700),),
    )
    for domain, owner in (("example.nl", "example.nl"), ("example2.nl", "example.nl")):
        path = tmp_path / f"{domain}.zone"
        path.write_text(render_zone(domain, records_for(domain, ctx_with(awkward, owner))))
        done = subprocess.run(
            [checkzone, "-k", "fail", "-n", "fail", domain, str(path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "loaded serial 1" in done.stdout


def ctx_with(base: DnsContext, owner: str) -> DnsContext:
    return dataclasses.replace(base, host_zone=owner)


def test_rfc_7489_and_rfc_9989_spellings_of_one_policy_compare_equal() -> None:
    from mailctl.dns.records import dmarc_effective

    guide = ("v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc-reports@example.nl; adkim=s;"
             " aspf=s; pct=100; fo=0;")
    current = ("v=DMARC1; p=reject; sp=reject; np=reject; adkim=s; aspf=s; fo=0;"
               " rua=mailto:dmarc-reports@example.nl;")
    assert dmarc_effective(guide) == dmarc_effective(current)
    assert dmarc_effective("v=DMARC1; p=reject") == dmarc_effective(
        "v=DMARC1; p=reject; sp=reject; np=reject; adkim=r; aspf=r; ri=86400; rf=afrf"
    )
    for different in (
        guide.replace("pct=100", "pct=50"),  # still honoured by RFC 7489 readers
        guide.replace("sp=reject", "sp=none"),  # np follows sp when absent
        current.replace("np=reject", "np=none"),
        current.replace("adkim=s", "adkim=r"),
        current.replace("dmarc-reports@", "other@"),
    ):
        assert dmarc_effective(different) != dmarc_effective(current), different


def test_report_addresses_of_both_records() -> None:
    from mailctl.dns.records import report_addresses

    assert report_addresses(
        "example.nl",
        "v=DMARC1; p=none; rua=mailto:DMARC@{domain}!10m,mailto:x@agency.example;"
        " ruf=mailto:dmarc@{domain}",
        "mailto:tls@{domain},https://tlsrpt.example.org/v1",
    ) == ["dmarc@example.nl", "x@agency.example", "tls@example.nl"]


def test_the_default_dmarc_record_has_no_pct() -> None:
    from mailctl.core.settings import DnsSettings

    assert "pct=" not in DnsSettings().dmarc and "np=reject" in DnsSettings().dmarc
