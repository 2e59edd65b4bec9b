"""DKIM key lifecycle through the CLI: rotate -> activate (checked against a real
BIND) -> retire, and what the tables and files look like at each step."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import Mailctl, add_admin_mailbox
from support.named import Named, served

from mailctl.dkim import keyfiles as dkim


def keys(m: Mailctl) -> dict[str, str]:
    out = json.loads(m("dkim", "show", "example.nl", "-f", "json").stdout)
    return {k["selector"]: k["state"] for k in out}


def table(m: Mailctl, name: str) -> list[str]:
    lines = (m.root / name).read_text().splitlines()
    return lines[lines.index("# BEGIN mailctl managed block") + 1 :
                 lines.index("# END mailctl managed block")]


def zone_with(records: dict[str, str]) -> str:
    """A minimal hand-made zone, for records `dns show` would never print."""
    lines = [
        "$ORIGIN example.nl.", "$TTL 300",
        "@ IN SOA ns1.example.nl. hostmaster.example.nl. 1 3600 600 86400 300",
        "@ IN NS ns1.example.nl.", "ns1 IN A 127.0.0.1",
    ]
    for name, value in records.items():
        chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
        lines.append(f"{name} IN TXT ( " + " ".join(f'"{c}"' for c in chunks) + " )")
    return "\n".join(lines) + "\n"


def value_of(m: Mailctl, selector: str) -> str:
    return dkim.dns_value(dkim.load_existing_key(m.root / "keys" / "example.nl"
                                                 / f"{selector}.private"))


def test_rotation_end_to_end_against_bind(lite: Mailctl, named: Named) -> None:
    lite("domain", "add", "example.nl")
    add_admin_mailbox(lite)
    served(lite, named)  # the zone as `dns show --zone` prints it before the rotation
    out = lite("dkim", "rotate", "example.nl")
    (new,) = [s for s, state in keys(lite).items() if state == "pending"]
    assert new.startswith("mail2") and f"{new}._domainkey.example.nl. TXT" in out.stdout
    # dns show now lists the pending record next to the active one.
    listed = json.loads(lite("dns", "show", "example.nl", "-f", "json").stdout)
    assert {r["name"] for r in listed if "_domainkey" in r["name"]} == {
        "mail._domainkey.example.nl.", f"{new}._domainkey.example.nl."}
    # Pending keys are loaded (KeyTable) but do not sign (SigningTable).
    assert any(f"example.nl:{new}:" in line for line in table(lite, "KeyTable"))
    assert table(lite, "SigningTable") == ["*@example.nl mail._domainkey.example.nl"]
    # Not published yet: refused, nothing changes.
    before = lite.dump()
    refused = lite("dkim", "activate", "example.nl", "--nameserver", named.address, code=1)
    assert f"no TXT record at {new}._domainkey.example.nl" in refused.stderr
    assert lite.dump() == before and keys(lite)[new] == "pending"
    # Published with another key: still refused.
    wrong = zone_with({f"{new}._domainkey": value_of(lite, "mail")})
    named.serve({"example.nl": wrong})
    refused = lite("dkim", "activate", "example.nl", "--nameserver", named.address, code=1)
    assert "a record with another key" in refused.stderr
    # Published as `dns show --zone` prints it now: activation switches the SigningTable.
    served(lite, named)
    lite("dkim", "activate", "example.nl", "--nameserver", named.address)
    assert keys(lite) == {"mail": "retired", new: "active"}
    assert table(lite, "SigningTable") == [f"*@example.nl {new}._domainkey.example.nl"]
    assert len(table(lite, "KeyTable")) == 2  # the retired key still verifies in flight
    lite("dns", "check", "example.nl", "--nameserver", named.address)
    lite("dkim", "retire", "example.nl")
    assert keys(lite) == {"mail": "archived", new: "active"}
    assert len(table(lite, "KeyTable")) == 1
    listed = json.loads(lite("dns", "show", "example.nl", "-f", "json").stdout)
    assert {r["name"] for r in listed if "_domainkey" in r["name"]} == {
        f"{new}._domainkey.example.nl."}
    archive = lite.root / "keys" / "example.nl" / "archive"
    assert [p.name.split(".")[0:2] for p in archive.glob("mail.private.*")] == [["mail", "private"]]
    assert not (lite.root / "keys" / "example.nl" / "mail.private").exists()
    assert (archive.stat().st_mode & 0o777) == 0o700


def test_unreachable_nameserver_is_one_line(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    lite("dkim", "rotate", "example.nl")
    out = lite("dkim", "activate", "example.nl", "--nameserver", "127.0.0.1:9", code=1)
    assert out.stderr.count("mailctl: error:") == 1 and "timed out" in out.stderr


def test_malformed_nameserver_is_a_usage_error(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    lite("dkim", "rotate", "example.nl")
    out = lite("dkim", "activate", "example.nl", "--nameserver", "ns1.example:53", code=2)
    assert "invalid --nameserver 'ns1.example:53'" in out.stderr


def test_force_and_state_errors(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    out = lite("dkim", "activate", "example.nl", "--force", code=1)
    assert "no pending DKIM key" in out.stderr
    lite("dkim", "rotate", "example.nl")
    again = lite("dkim", "rotate", "example.nl", code=1)
    assert "already has a pending rsa key" in again.stderr
    lite("dkim", "activate", "example.nl", "--force")
    out = lite("dkim", "retire", "example.nl", "nosuch", code=1)
    assert "no DKIM key with selector nosuch" in out.stderr
    lite("dkim", "retire", "example.nl", "mail")


def test_ed25519_keys_get_their_own_tables(lite: Mailctl) -> None:
    lite.reconfigure(dkim={"ed25519": True})
    lite("domain", "add", "example.nl")
    assert keys(lite) == {"mail": "active", "ed": "active"}
    assert table(lite, "SigningTable") == ["*@example.nl mail._domainkey.example.nl"]
    assert table(lite, "SigningTable.ed25519") == ["*@example.nl ed._domainkey.example.nl"]
    pem = (lite.root / "keys" / "example.nl" / "ed.private").read_bytes()
    assert dkim.key_algorithm(pem) == "ed25519"
    assert dkim.dns_value(pem).startswith("v=DKIM1; h=sha256; k=ed25519; p=")
    lite("dkim", "rotate", "example.nl", "--algorithm", "ed25519")
    (new,) = [s for s, state in keys(lite).items() if state == "pending"]
    assert new.startswith("ed2")


def test_ed25519_signature_verifies_against_dns_show_json(lite: Mailctl) -> None:
    import base64

    import dkim as dkimpy
    from cryptography.hazmat.primitives import serialization

    lite.reconfigure(dkim={"ed25519": True})
    lite("domain", "add", "example.nl")
    records = json.loads(lite("dns", "show", "example.nl", "-f", "json").stdout)
    published = {r["name"]: r["value"].encode() for r in records if "_domainkey" in r["name"]}
    assert published["ed._domainkey.example.nl."].startswith(b"v=DKIM1; h=sha256; k=ed25519; p=")
    pem = (lite.root / "keys" / "example.nl" / "ed.private").read_bytes()
    key = serialization.load_pem_private_key(pem, None)
    raw = key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    message = (b"From: joe@example.nl\r\nTo: someone@example.org\r\nSubject: ed25519\r\n"
               b"\r\nHello.\r\n")
    signature = dkimpy.sign(message, b"ed", b"example.nl", base64.b64encode(raw),
                            signature_algorithm=b"ed25519-sha256",
                            include_headers=[b"from", b"to", b"subject"])

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return published[name.decode()]

    assert dkimpy.verify(signature + message, dnsfunc=dnsfunc)
    assert not dkimpy.verify(signature + message.replace(b"Hello", b"Jello"), dnsfunc=dnsfunc)


def test_retire_never_archives_through_a_symlinked_archive(lite: Mailctl, tmp_path: Path) -> None:
    lite("domain", "add", "example.nl")
    lite("dkim", "rotate", "example.nl")
    lite("dkim", "activate", "example.nl", "--force")
    elsewhere = tmp_path / "world-writable"
    elsewhere.mkdir(mode=0o777)
    (lite.root / "keys" / "example.nl" / "archive").symlink_to(elsewhere)
    before = lite.dump()
    out = lite("dkim", "retire", "example.nl", code=1)
    assert "archive is not a folder (a symlink?); nothing was changed" in out.stderr
    assert list(elsewhere.iterdir()) == []
    assert (lite.root / "keys" / "example.nl" / "mail.private").exists()
    assert lite.dump() == before and keys(lite)["mail"] == "retired"


def test_ed25519_keys_are_refused_while_no_signer_reads_them(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    before = lite.query("SELECT selector, state FROM mailctl_dkim_keys ORDER BY id")
    out = lite("dkim", "rotate", "example.nl", "--algorithm", "ed25519", code=1)
    assert "Ed25519 keys are off (dkim.ed25519 = false)" in out.stderr
    assert lite.query("SELECT selector, state FROM mailctl_dkim_keys ORDER BY id") == before
    # made while the signer was on, then switched off: activation is refused too
    lite.reconfigure(dkim={"ed25519": True})
    lite("dkim", "rotate", "example.nl", "--algorithm", "ed25519")
    lite.reconfigure(dkim={"ed25519": None})
    out = lite("dkim", "activate", "example.nl", "--force", code=1)
    assert "Ed25519 keys are off" in out.stderr
