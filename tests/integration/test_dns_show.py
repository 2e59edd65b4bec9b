"""`mailctl dns ...` on SQLite (records do not depend on the backend), real key files and
real certificates; zones checked by the real named-checkzone, DKIM records by dkimpy,
TLSA by openssl."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import dkim as dkimpy
import sqlalchemy as sa
from support.cli import Mailctl
from support.env import program
from support.files import make_cert

from mailctl.dkim import keyfiles as dkim

MESSAGE = (
    b"From: Someone <someone@example.nl>\r\n"
    b"To: Other <other@example.org>\r\n"
    b"Subject: dns show\r\n"
    b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
    b"Message-ID: <dns-show@example.nl>\r\n"
    b"\r\n"
    b"Signed with the key whose record mailctl prints.\r\n"
)


def records(m: Mailctl, *domains: str) -> list[dict[str, Any]]:
    result = m("dns", "show", *domains, "--format", "json")
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def one(data: list[dict[str, Any]], name: str, rtype: str) -> dict[str, Any]:
    (found,) = [r for r in data if r["name"] == name and r["type"] == rtype]
    return found


def key_path(m: Mailctl, domain: str, selector: str = "mail") -> Path:
    return m.root / "keys" / domain / f"{selector}.private"


def checkzone(domain: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program("named-checkzone"), "-k", "fail", "-n", "fail", domain, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


# ------------------------------------------------------------------ zones


def test_zones_load_in_named_checkzone(lite: Mailctl, tmp_path: Path) -> None:
    lite("domain", "add", "example.nl", "example2.nl")
    for domain in ("example.nl", "example2.nl"):
        zone = lite("dns", "show", domain, "--format", "bind", "--zone").stdout
        assert f"$ORIGIN {domain}.\n" in zone
        path = tmp_path / f"{domain}.zone"
        path.write_text(zone)
        done = checkzone(domain, path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"zone {domain}/IN: loaded serial" in done.stdout
    # --zone alone means bind; every domain gets its own complete zone
    both = lite("dns", "show", "--zone").stdout
    assert both.count("$ORIGIN ") == 2 and both.count(" SOA ") == 2


def test_all_domains_list_the_server_records_once(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl", "example2.nl", "example3.nl")
    bind = lite("dns", "show", "--format", "bind").stdout
    lines = [line for line in bind.splitlines() if line and not line.startswith(";")]
    assert len(lines) == len(set(lines))
    assert [x for x in lines if x.startswith("mail.example.nl.\t")] == [
        "mail.example.nl.\t3600\tIN\tA\t203.0.113.10",
        "mail.example.nl.\t3600\tIN\tAAAA\t2001:db8::10",
    ]
    assert len([x for x in lines if "\tPTR\t" in x]) == 2
    data = records(lite)
    assert {r["domain"] for r in data} == {"example.nl", "example2.nl", "example3.nl"}
    assert len([r for r in data if r["type"] == "MX"]) == 3
    # a domain shown alone says where the server's own records are
    alone = lite("dns", "show", "example2.nl", "--format", "bind")
    assert "mail.example.nl.\t" not in alone.stdout
    assert "listed with example.nl: mailctl dns show example.nl" in alone.stderr


def test_table_has_relative_names_and_plain_values(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    out = lite("dns", "show", "example.nl", "--format", "table").stdout
    lines = out.splitlines()
    assert lines[0] == "zone example.nl"
    assert lines[1].split() == ["name", "type", "ttl", "value", "status", "why"]
    value = dkim.dns_value(dkim.load_existing_key(key_path(lite, "example.nl")))
    assert any(x.startswith("mail._domainkey ") and f" {value} " in x for x in lines)
    assert any(x.split()[:4] == ["@", "MX", "3600", "10"] for x in lines)
    assert any(x.split()[:2] == ["_dmarc", "TXT"] for x in lines)
    assert '"' not in out


# ------------------------------------------------------------------ DKIM


def test_dkim_record_is_the_key_files_and_verifies(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    path = key_path(lite, "example.nl")
    pem = dkim.load_existing_key(path)
    record = one(records(lite, "example.nl"), "mail._domainkey.example.nl.", "TXT")
    assert record["value"] == dkim.dns_value(pem)
    assert "".join(record["strings"]) == record["value"]
    assert all(len(s.encode()) <= 255 for s in record["strings"])
    assert record["status"] == "required" and record["domain"] == "example.nl"

    signature = dkimpy.sign(
        MESSAGE, b"mail", b"example.nl", pem, include_headers=[b"from", b"to", b"subject"]
    )
    signed = signature + MESSAGE
    looked_up: list[bytes] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        looked_up.append(name)
        published = json.loads(lite("dns", "show", "example.nl", "--format", "json").stdout)
        return "".join(
            one(published, name.decode(), "TXT")["strings"]
        ).encode()  # what a resolver returns: the strings joined

    assert dkimpy.verify(signed, dnsfunc=dnsfunc)
    assert looked_up == [b"mail._domainkey.example.nl."]
    # and a different key does not verify against that record
    other = dkim.generate_rsa_key(1024)
    forged = (
        dkimpy.sign(MESSAGE, b"mail", b"example.nl", other, include_headers=[b"from"]) + MESSAGE
    )
    assert not dkimpy.verify(forged, dnsfunc=dnsfunc)


def test_pending_and_retired_keys_are_listed(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    pending = dkim.generate_rsa_key(1024)
    retired = dkim.generate_ed25519_key()
    key_dir = lite.root / "keys"
    dkim.write_key_pair(key_dir, "example.nl", "20300101", pending, owner=None)
    dkim.write_key_pair(key_dir, "example.nl", "old", retired, owner=None)
    engine = sa.create_engine(lite.url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            domain_id = conn.execute(
                sa.text("SELECT id FROM virtual_domains WHERE name = 'example.nl'")
            ).scalar_one()
            for selector, state, algorithm, bits in (
                ("20300101", "pending", "rsa", 1024),
                ("old", "retired", "ed25519", 256),
                ("gone", "removed", "rsa", 1024),  # a state that is not in DNS any more
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO mailctl_dkim_keys"
                        " (domain_id, selector, algorithm, bits, state, created_at)"
                        " VALUES (:d, :s, :a, :b, :st, :c)"
                    ),
                    {
                        "d": domain_id,
                        "s": selector,
                        "a": algorithm,
                        "b": bits,
                        "st": state,
                        "c": datetime(2030, 1, 1),
                    },
                )
    finally:
        engine.dispose()
    data = records(lite, "example.nl")
    dkim_records = {r["name"]: r for r in data if "._domainkey." in r["name"]}
    assert set(dkim_records) == {
        "mail._domainkey.example.nl.",
        "20300101._domainkey.example.nl.",
        "old._domainkey.example.nl.",
    }
    assert dkim_records["20300101._domainkey.example.nl."]["value"] == dkim.dns_value(pending)
    assert dkim_records["old._domainkey.example.nl."]["value"] == dkim.dns_value(retired)
    assert dkim_records["old._domainkey.example.nl."]["value"].startswith(
        "v=DKIM1; h=sha256; k=ed25519; p="
    )


def test_the_record_comes_from_the_database_not_this_hosts_key_file(lite: Mailctl) -> None:
    """Every host shows the same record, synced or not: the key is the database's."""
    lite("domain", "add", "example.nl")
    path = key_path(lite, "example.nl")
    pem = path.read_bytes()
    path.unlink()

    def dkim_values() -> tuple[list[str], str]:
        result = lite("dns", "show", "example.nl", "--format", "json")
        records = json.loads(result.stdout)
        return [r["value"] for r in records if "._domainkey." in r["name"]], result.stderr

    assert dkim_values() == ([dkim.dns_value(pem)], "")
    # A key the database lacks (db upgrade ran where its file was not): this host's file.
    lite.execute("DELETE FROM mailctl_dkim_secrets")
    values, warned = dkim_values()
    assert values == []
    assert (
        "mail._domainkey.example.nl: the database holds no private key for it and this"
        f" host has no key file {path}; run 'mailctl db upgrade' on the host that has the"
        " file: no record for mail._domainkey.example.nl"
    ) in warned
    path.write_bytes(pem)
    path.chmod(0o600)
    assert dkim_values() == ([dkim.dns_value(pem)], "")


# ------------------------------------------------------------------ DANE


def openssl_spki_sha256(cert: Path) -> str:
    openssl = program("openssl")
    pubkey = subprocess.run(
        [openssl, "x509", "-in", str(cert), "-noout", "-pubkey"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    der = subprocess.run(
        [openssl, "pkey", "-pubin", "-outform", "DER"],
        input=pubkey,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    digest = subprocess.run(
        [program("sha256sum")], input=der, capture_output=True, check=True, timeout=30
    ).stdout
    return digest.split()[0].decode()


def test_tlsa_is_the_certificates_spki_hash(lite: Mailctl) -> None:
    lite.reconfigure(dns={"dane": True})
    lite("domain", "add", "example.nl")
    cert, _key = make_cert(lite.root / "certs" / "mail.example.nl", ["mail.example.nl"])
    tlsa = one(records(lite, "example.nl"), "_25._tcp.mail.example.nl.", "TLSA")
    assert tlsa["value"] == f"3 1 1 {openssl_spki_sha256(cert)}"


def test_dane_without_certificate_warns(lite: Mailctl) -> None:
    lite.reconfigure(dns={"dane": True})
    lite("domain", "add", "example.nl")
    result = lite("dns", "show", "--format", "json")
    assert "dns.dane is on but mail.example.nl has no usable certificate" in result.stderr
    assert not [r for r in json.loads(result.stdout) if r["type"] == "TLSA"]


def test_no_tlsa_without_dane(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    make_cert(lite.root / "certs" / "mail.example.nl", ["mail.example.nl"])
    assert not [r for r in records(lite) if r["type"] == "TLSA"]


# ------------------------------------------------------------------ config in the records


def test_config_reaches_the_records(lite: Mailctl) -> None:
    lite.reconfigure(
        server={
            "hostname": "mx.example.org",
            "primary_domain": "example.org",
            "ipv4": "198.51.100.7",
            "ipv6": "",
        },
        dns={
            "ttl": 300,
            "smtps": False,
            "dmarc": "v=DMARC1; p=quarantine; rua=mailto:dmarc@reports.example.com",
        },
    )
    lite("domain", "add", "example.nl")
    data = records(lite, "example.nl")
    assert {r["ttl"] for r in data} == {300}
    assert one(data, "example.nl.", "MX")["value"] == "10 mx.example.org."
    assert one(data, "_submissions._tcp.example.nl.", "SRV")["value"] == "0 0 0 ."
    assert one(data, "example.nl._report._dmarc.reports.example.com.", "TXT")["value"] == (
        "v=DMARC1"
    )
    # the hostname lies in no hosted domain: the first hosted domain carries its records
    assert one(data, "mx.example.org.", "A")["value"] == "198.51.100.7"
    assert one(data, "7.100.51.198.in-addr.arpa.", "PTR")["value"] == "mx.example.org."
    assert not [r for r in data if r["type"] == "AAAA"]
    table = lite("dns", "show", "example.nl", "--format", "table").stdout
    assert "\nmx.example.org.  " in table  # outside the zone: stays absolute


# ------------------------------------------------------------------ errors


def test_unknown_domain_is_one_line_exit_1(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    for args in (
        ("dns", "show", "example.nl", "nope.example"),
        ("dns", "mta-sts-policy", "nope.example"),
        ("dns", "autoconfig", "nope.example"),
        ("dns", "autodiscover", "nope.example"),
    ):
        result = lite(*args, code=1)
        assert result.stdout == ""
        assert result.stderr == (
            "mailctl: error: domain nope.example is not hosted here (see: mailctl domain list)\n"
        )


def test_zone_needs_bind_format(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    result = lite("dns", "show", "--zone", "--format", "json", code=2)
    assert result.stderr.strip().splitlines()[-1] == (
        "mailctl: error: --zone needs --format bind, not --format json"
    )


def test_no_domains(lite: Mailctl) -> None:
    assert lite("dns", "show", "--format", "json").stdout == "[]\n"
    result = lite("dns", "show")
    assert result.stdout == "" and "no domains hosted" in result.stderr


# ------------------------------------------------------------------ served files


def test_mta_sts_policy_matches_the_txt_id(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    result = lite("dns", "mta-sts-policy", "example.nl")
    # stdout_bytes: CliRunner's .stdout turns CRLF into LF
    assert result.stdout_bytes == (
        b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.nl\r\nmax_age: 604800\r\n"
    )
    txt = one(records(lite, "example.nl"), "_mta-sts.example.nl.", "TXT")["value"]
    assert txt.startswith("v=STSv1; id=")
    assert txt in result.stderr
    assert "https://mta-sts.example.nl/.well-known/mta-sts.txt" in result.stderr


def test_autoconfig_is_well_formed_xml(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    result = lite("dns", "autoconfig", "example.nl")
    root = ET.fromstring(result.stdout)  # noqa: S314 - our own output
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    incoming = [
        (s.get("type"), s.findtext("hostname"), s.findtext("port"), s.findtext("socketType"))
        for s in root.iter("incomingServer")
    ]
    outgoing = [
        (s.get("type"), s.findtext("hostname"), s.findtext("port"), s.findtext("socketType"))
        for s in root.iter("outgoingServer")
    ]
    assert incoming == [("imap", "imap.example.nl", "993", "SSL")]
    assert outgoing == [
        ("smtp", "smtp.example.nl", "587", "STARTTLS"),
        ("smtp", "smtp.example.nl", "465", "SSL"),
    ]
    assert "https://autoconfig.example.nl/mail/config-v1.1.xml" in result.stderr


def test_autodiscover_is_well_formed_xml(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    result = lite("dns", "autodiscover", "example.nl")
    root = ET.fromstring(result.stdout)  # noqa: S314 - our own output
    ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
    servers = [
        (
            p.findtext("a:Type", namespaces=ns),
            p.findtext("a:Server", namespaces=ns),
            p.findtext("a:Port", namespaces=ns),
        )
        for p in root.iterfind("a:Response/a:Account/a:Protocol", ns)
    ]
    assert servers == [("IMAP", "imap.example.nl", "993"), ("SMTP", "smtp.example.nl", "465")]
