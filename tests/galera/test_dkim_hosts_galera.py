"""Host B on the real cluster: a mail host converges from the database alone.

Host A writes through node 1, host B reads through node 2 (each with the other
nodes as failover, so its reads wait for what the cluster committed). Host B never
adds a domain or makes a key: all it has is its config and the cluster. The tier's
hosts share the cluster with the other galera tests, so both sync before they are
compared: whatever the others added, B must come out exactly as A.
"""

from __future__ import annotations

import json
from pathlib import Path

from support import opendkim as odk
from support.galera import Cluster, MailHost, mail_host
from support.hostfiles import certify, key_files, rendered_tables

DATABASE = "mailserver"  # conftest's


def assert_same(a: MailHost, b: MailHost) -> None:
    assert rendered_tables(b.root) == rendered_tables(a.root)
    assert key_files(b.root / "keys") == key_files(a.root / "keys")


def selectors(host: MailHost, domain: str, state: str) -> list[str]:
    shown = json.loads(host("dkim", "show", domain, "-f", "json").stdout)
    return [k["selector"] for k in shown if k["state"] == state]


def test_host_b_on_node_2_syncs_byte_identical_files(hosts: dict[str, MailHost]) -> None:
    a, b = hosts["A"], hosts["B"]
    certify(a.root, b.root, domain="keys.example")
    a("domain", "add", "keys.example", "keys2.example")
    a("sync")
    b("sync")
    assert_same(a, b)
    tables = rendered_tables(b.root)
    assert "keys.example:mail:ROOT/keys/keys.example/mail.private" in str(tables["KeyTable"])
    assert "*@keys2.example mail._domainkey.keys2.example" in str(tables["SigningTable"])
    assert "smtp.keys.example ROOT/certs/keys.example/privkey.pem" in str(tables["vmail_ssl.map"])
    assert "local_name imap.keys.example" in str(tables["11-ssl-sni.conf"])
    key = b.root / "keys" / "keys.example" / "mail.private"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "all managed files are in sync" in b("sync").stderr


def test_a_rotation_through_node_1_reaches_host_b_at_its_next_sync(
    hosts: dict[str, MailHost],
) -> None:
    a, b = hosts["A"], hosts["B"]
    a("domain", "add", "rotate.example")
    b("sync")
    a("dkim", "rotate", "rotate.example")
    (pending,) = selectors(a, "rotate.example", "pending")
    new_key = b.root / "keys" / "rotate.example" / f"{pending}.private"
    assert not new_key.exists()
    b("sync")  # at once, through node 2: its causal read sees node 1's commit
    assert new_key.read_bytes() == (a.root / "keys" / "rotate.example" / new_key.name).read_bytes()
    a("dkim", "activate", "rotate.example", "--force")
    b("sync")
    signing = str(rendered_tables(b.root)["SigningTable"])
    assert f"*@rotate.example {pending}._domainkey.rotate.example" in signing
    a("sync")
    assert_same(a, b)


def test_opendkim_on_host_b_signs_with_the_key_it_got_through_the_database(
    cluster: Cluster, hosts: dict[str, MailHost]
) -> None:
    """A host on node 2 in a tree OpenDKIM's RequireSafeKeys accepts: its OpenDKIM
    signs with the key it wrote from the database, and dkimpy verifies the signature
    against its own `dns show --format json`, printed before it had any key file."""
    a = hosts["A"]
    password = Path(a.mailctl.sections["database"]["password_file"])
    with odk.safe_tree("mailctl-test-galera-") as tree:
        # Test mode runs OpenDKIM as root, and RequireSafeKeys refuses a key another
        # user owns: the keys are root's here (test_opendkim covers opendkim's).
        b = mail_host(
            cluster,
            "B-signer",  # a host of its own (its name is its row in mailctl_hosts)
            cluster.nodes[1],
            tree.root,
            DATABASE,
            password_file=password,
            sections={"dkim": {"owner": "root", "group": "root"}},
        )
        a("domain", "add", odk.DOMAIN)
        records = json.loads(b("dns", "show", odk.DOMAIN, "--format", "json").stdout)
        assert not (b.root / "keys").exists()
        name = f"{odk.SELECTOR}._domainkey.{odk.DOMAIN}."
        (value,) = [r["value"] for r in records if r["name"] == name and r["type"] == "TXT"]
        b("sync")
        signed = odk.sign_with_tables(b.root, safe=tree.safe)
        assert odk.dkimpy_verifies(signed, value.encode("ascii"))
        tampered = signed.replace(b"Hello from", b"Hello frum")
        assert not odk.dkimpy_verifies(tampered, value.encode("ascii"))
