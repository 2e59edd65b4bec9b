"""Two hosts, one database: a host renders its DKIM keys and managed files from
the database alone (issue 13).

Host A and host B are two mailctl configs, each with its own file tree, on a
database URL each: here both name the machine's one MariaDB database (the
galera tier's tests/galera/test_dkim_hosts_galera.py puts them on two nodes of
a cluster). Host B never runs `domain add`; all it has is its config and the
database. The trees lie under different roots, so the tables that name files are
compared with the root cut out; key files are compared byte for byte
(support.hostfiles).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import opendkim as odk
from support.cli import Mailctl, add_admin_mailbox
from support.config import merge
from support.hostfiles import certify as certify_roots
from support.hostfiles import key_files, rendered_tables
from support.mailconfig import MailConfig
from support.named import Named, served
from support.opendkim import Tree, safe_tree

from mailctl.dkim import keyfiles
from mailctl.store.schema import HEAD
from mailctl.system.owners import resolve_owner

# Appends the signer's name to a log: a reload that can be counted.
LOG_RELOAD = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')"


@dataclass
class Host:
    """One host: mailctl on its config and tree, and the log its OpenDKIM reloads write."""

    m: Mailctl
    reloads: Path

    @property
    def root(self) -> Path:
        return self.m.root

    @property
    def keys(self) -> Path:
        return self.m.root / "keys"

    def __call__(self, *args: str, code: int | None = 0) -> Any:
        return self.m(*args, code=code)

    def reloaded(self) -> list[str]:
        return self.reloads.read_text().splitlines() if self.reloads.exists() else []

    def tables(self) -> dict[str, str | None]:
        """The managed files, with this host's root cut out of the paths they name."""
        return rendered_tables(self.root)

    def key_files(self) -> dict[str, tuple[int, bytes]]:
        """Every key file outside the archive: its mode and bytes."""
        return key_files(self.keys)


@dataclass
class Hosts:
    a: Host
    b: Host


def make_hosts(
    url_a: str,
    url_b: str,
    roots: tuple[Path, Path],
    *,
    mail: MailConfig | None = None,
    sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> Hosts:
    """Host A (schema upgraded through it) and host B (config only) on their URLs;
    each signer's reload appends to its host's reload log."""
    made = []
    for root, url in zip(roots, (url_a, url_b), strict=True):
        root.mkdir(exist_ok=True)
        log = root / "reloads.log"
        reloads = {
            "reload_opendkim": [sys.executable, "-c", LOG_RELOAD, str(log), "opendkim"],
            "reload_opendkim_ed25519": [sys.executable, "-c", LOG_RELOAD, str(log), "ed25519"],
        }
        config = merge({"dkim": {"ed25519": True}, "commands": reloads}, sections or {})
        made.append(
            Host(Mailctl.create(root / "config.toml", url, root, mail=mail, sections=config), log)
        )
    made[0].m("db", "upgrade")
    return Hosts(*made)


def certify(*hosts: Host, domain: str) -> None:
    """The same certificate on every host (support.hostfiles.certify)."""
    first, *others = hosts
    certify_roots(first.root, *(other.root for other in others), domain=domain)


def assert_same(hosts: Hosts) -> None:
    assert hosts.b.tables() == hosts.a.tables()
    assert hosts.b.key_files() == hosts.a.key_files()


@pytest.fixture
def hosts(mariadb_url: str, tmp_path: Path, mail_config: MailConfig) -> Hosts:
    return make_hosts(
        mariadb_url, mariadb_url, (tmp_path / "host-a", tmp_path / "host-b"), mail=mail_config
    )


# ------------------------------------------------------------------ B renders what A wrote


def test_host_b_syncs_byte_identical_files_from_the_database(hosts: Hosts) -> None:
    a, b = hosts.a, hosts.b
    certify(a, b, domain="example.nl")
    a("domain", "add", "example.nl", "example.org")
    assert not b.keys.exists()
    b("sync")
    assert_same(hosts)
    tables = b.tables()
    assert "example.org:mail:ROOT/keys/example.org/mail.private" in str(tables["KeyTable"])
    assert "example.nl:ed:ROOT/keys/example.nl/ed.private" in str(tables["KeyTable.ed25519"])
    assert "smtp.example.nl ROOT/certs/example.nl/privkey.pem" in str(tables["vmail_ssl.map"])
    assert "local_name imap.example.nl" in str(tables["11-ssl-sni.conf"])
    # Keys as `domain add` writes them: 0600, the dkim owner, in 0750 folders.
    owner, _ = resolve_owner("opendkim", "opendkim")
    for name in ("example.nl/mail.private", "example.nl/ed.private", "example.org/mail.private"):
        path = b.keys / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
        if owner is not None:
            assert (path.stat().st_uid, path.stat().st_gid) == owner
    assert sorted(b.reloaded()) == ["ed25519", "opendkim"]
    # Nothing differs now: nothing is written, nothing reloaded.
    inodes = {p: p.stat().st_ino for p in b.keys.rglob("*.private")}
    b("sync", "--check")
    assert "all managed files are in sync" in b("sync").stderr
    assert {p: p.stat().st_ino for p in b.keys.rglob("*.private")} == inodes
    assert sorted(b.reloaded()) == ["ed25519", "opendkim"]


def test_a_key_file_that_differs_is_written_again_from_the_database(hosts: Hosts) -> None:
    a, b = hosts.a, hosts.b
    a("domain", "add", "example.nl")
    b("sync")
    key = b.keys / "example.nl" / "mail.private"
    stored = key.read_bytes()
    txt = key.with_suffix(".txt").read_text()
    key.write_bytes(keyfiles.generate_rsa_key(1024))
    key.with_suffix(".txt").unlink()
    reloads = b.reloaded()
    # --check and --dry-run name it and change nothing.
    checked = b("sync", "--check", code=1)
    assert f"would write {key} (0600) from the database: another key" in checked.stdout
    assert f"out of sync: {key}" in checked.stderr
    before = key.read_bytes()
    b("sync", "--dry-run")
    assert key.read_bytes() == before and not key.with_suffix(".txt").exists()
    out = b("sync")
    assert f"wrote {key} from the database (another key)" in out.stderr
    assert key.read_bytes() == stored and key.with_suffix(".txt").read_text() == txt
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # Only the RSA signer reads that key: only it reloads (its KeyTable is unchanged).
    assert b.reloaded() == [*reloads, "opendkim"]
    # A key others may read is made private again; the bytes stay.
    key.chmod(0o644)
    assert "(mode 0644)" in b("sync").stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_bytes() == stored
    assert_same(hosts)


def test_a_rotation_through_host_a_reaches_host_b_at_its_next_sync(hosts: Hosts) -> None:
    a, b = hosts.a, hosts.b
    a("domain", "add", "example.nl")
    b("sync")
    a("dkim", "rotate", "example.nl")
    (pending,) = [
        k["selector"]
        for k in json.loads(a("dkim", "show", "example.nl", "-f", "json").stdout)
        if k["state"] == "pending"
    ]
    assert not (b.keys / "example.nl" / f"{pending}.private").exists()
    b("sync")
    assert (b.keys / "example.nl" / f"{pending}.private").exists()
    assert_same(hosts)
    a("dkim", "activate", "example.nl", "--force")
    b("sync")
    assert f"*@example.nl {pending}._domainkey.example.nl" in str(b.tables()["SigningTable"])
    assert_same(hosts)
    # Retired on A: B's copy of the old key goes to B's archive at its next sync.
    a("dkim", "retire", "example.nl")
    out = b("sync")
    assert "archived" in out.stderr
    assert not (b.keys / "example.nl" / "mail.private").exists()
    assert len(list((b.keys / "example.nl" / "archive").glob("mail.private.*"))) == 1
    assert_same(hosts)


def test_host_b_shows_checks_and_activates_a_key_before_its_first_sync(
    hosts: Hosts, named: Named
) -> None:
    """dns show, dns check and dkim activate's DNS check take each key from the
    database: host B, which has never synced, publishes and activates what A made."""
    a, b = hosts.a, hosts.b
    a("domain", "add", "example.nl")
    add_admin_mailbox(a.m)  # where the report addresses lead: dns check asks
    a("dkim", "rotate", "example.nl")
    assert not b.keys.exists()
    shown = b("dns", "show", "example.nl", "-f", "json")
    assert shown.stdout == a("dns", "show", "example.nl", "-f", "json").stdout
    assert "_domainkey" in shown.stdout and "no record" not in shown.stderr
    served(b.m, named)  # the zone as B prints it
    assert not b.keys.exists()  # showing writes no key
    b("dns", "check", "example.nl", "--nameserver", named.address)
    b("dkim", "activate", "example.nl", "--nameserver", named.address)
    states = {
        k["selector"]: k["state"]
        for k in json.loads(a("dkim", "show", "example.nl", "-f", "json").stdout)
    }
    assert "pending" not in states.values() and states["mail"] == "retired"


def test_any_command_on_host_b_writes_the_keys_it_renders(hosts: Hosts) -> None:
    """Not only sync: a KeyTable B writes never names a key file B lacks."""
    a, b = hosts.a, hosts.b
    a("domain", "add", "example.nl")
    b("domain", "add", "example.org")
    assert (b.keys / "example.nl" / "mail.private").read_bytes() == (
        a.keys / "example.nl" / "mail.private"
    ).read_bytes()
    # The audit line of B's domain add names the key files it wrote from the database.
    (entry,) = [json.loads(line) for line in (b.root / "audit.log").read_text().splitlines()]
    assert "INSERT INTO virtual_domains: example.org" in entry["changes"]
    for selector in ("mail", "ed"):
        path = b.keys / "example.nl" / f"{selector}.private"
        assert f"UPDATE dkim key: {path} (from the database: missing)" in entry["changes"]
    restored = [c for c in entry["changes"] if c.startswith("UPDATE dkim key:")]
    assert len(restored) == 2  # example.org's keys were made here, not written from the database
    a("sync")
    assert_same(hosts)


def test_host_b_says_which_key_the_database_lacks(hosts: Hosts) -> None:
    a, b = hosts.a, hosts.b
    a("domain", "add", "example.nl")
    a.m.execute("DELETE FROM mailctl_dkim_secrets")
    out = b("sync")
    assert "mail._domainkey.example.nl: the database holds no private key" in out.stderr
    assert not (b.keys / "example.nl" / "mail.private").exists()


def test_commands_that_touch_no_key_load_no_cryptography(lite: Mailctl) -> None:
    """Keys in the database must not make the everyday path heavier: comparing key
    files with the database reads bytes, and parses (cryptography) only what it writes."""
    lite("domain", "add", "example.nl")
    probe = (
        "import sys\n"
        "from mailctl.cli.root import cli\n"
        "try:\n    cli.main(prog_name='mailctl')\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(code, 'cryptography' in sys.modules, file=sys.stderr)\n"
    )

    def loads_cryptography(*argv: str) -> bool:
        ran = subprocess.run(
            [sys.executable, "-c", probe, "--config", str(lite.config), *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )
        code, loaded = ran.stderr.splitlines()[-1].split()
        assert code == "0", (argv, ran.stderr)
        return loaded == "True"

    for argv in (
        ["alias", "add", "info@example.nl", "someone@example.org"],
        ["alias", "list"],
        ["user", "list"],
        ["domain", "list"],
        ["dkim", "show", "example.nl"],
        ["sync", "--check"],
        ["sync"],
    ):
        assert not loads_cryptography(*argv), argv
    (lite.root / "keys" / "example.nl" / "mail.private").unlink()
    assert loads_cryptography("sync")  # a key to write: its .txt needs the public key


# ------------------------------------------------------------------ db upgrade takes the files in


def _as_before_0004(m: Mailctl) -> None:
    """The database as mailctl left it before the keys moved in: no secrets table."""
    m.execute("DROP TABLE mailctl_dkim_secrets")
    m.execute("UPDATE mailctl_schema_version SET version_num = '0003'")


def _stat(path: Path) -> tuple[int, int, int, int, bytes]:
    info = path.stat()
    return info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns, path.read_bytes()


def test_db_upgrade_takes_existing_key_files_in_once(db_url: str, tmp_path: Path) -> None:
    """On each backend: 0004 made for real from 0003, every key file taken in as
    it is, the files untouched, a missing file reported and never invented."""
    hosts = make_hosts(db_url, db_url, (tmp_path / "host-a", tmp_path / "host-b"))
    a, b = hosts.a, hosts.b
    a("domain", "add", "example.nl", "example.org")
    _as_before_0004(a.m)
    assert "run: mailctl db upgrade" in a("domain", "list", code=1).stderr
    keys = sorted(a.keys.rglob("*.private"))
    assert len(keys) == 4  # RSA and Ed25519 for each
    lost = a.keys / "example.org" / "mail.private"
    hidden = tmp_path / "kept-elsewhere.private"
    os.rename(lost, hidden)
    before = {p: _stat(p) for p in keys if p != lost}
    files = sorted(str(p) for p in a.keys.rglob("*"))
    out = a("db", "upgrade")
    assert f"upgraded schema from 0003 to {HEAD}" in out.stderr
    assert "took 3 DKIM private key(s) into the database" in out.stderr
    assert f"mail._domainkey.example.org (active): no key file {lost} on this host" in out.stderr
    assert {p: _stat(p) for p in before} == before  # bytes, mode, owner, mtime
    assert sorted(str(p) for p in a.keys.rglob("*")) == files  # nothing invented
    stored = {
        f"{selector}@{domain}": pem
        for selector, domain, pem in a.m.query(
            "SELECT k.selector, d.name, s.private_key FROM mailctl_dkim_secrets s"
            " JOIN mailctl_dkim_keys k ON k.id = s.key_id"
            " JOIN virtual_domains d ON d.id = k.domain_id"
        )
    }
    assert stored == {f"{p.stem}@{p.parent.name}": p.read_text() for p in before}
    # Host B gets the three; of the fourth it is told, and writes nothing.
    out = b("sync")
    assert "mail._domainkey.example.org: the database holds no private key" in out.stderr
    assert not (b.keys / "example.org" / "mail.private").exists()
    assert (b.keys / "example.nl" / "mail.private").read_bytes() == (
        a.keys / "example.nl" / "mail.private"
    ).read_bytes()
    # Once the file is back on a host, the next `db upgrade` there takes it in.
    os.rename(hidden, lost)
    out = a("db", "upgrade")
    assert f"schema already at {HEAD}" in out.stderr
    assert "took 1 DKIM private key(s)" in out.stderr
    b("sync")
    assert_same(hosts)
    assert "took" not in a("db", "upgrade").stderr  # all in: nothing more to take


def test_db_upgrade_reports_a_key_file_others_may_read(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    _as_before_0004(lite)
    key = lite.root / "keys" / "example.nl" / "mail.private"
    key.chmod(0o640)
    out = lite("db", "upgrade")
    assert f"chmod 600 {key}" in out.stderr and "not taken into the database" in out.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o640  # reported, not changed
    assert lite.query("SELECT COUNT(*) FROM mailctl_dkim_secrets") == [(0,)]


def test_import_stores_the_keys_it_brings(maria: Mailctl, tmp_path: Path) -> None:
    """An export with keys, imported into another database: the keys land in its
    mailctl_dkim_secrets, so its other hosts get them too."""
    maria("domain", "add", "example.nl")
    path = tmp_path / "export.json"
    maria("export", "--with-keys", "-o", str(path))
    maria("domain", "del", "example.nl", "--yes", "--purge-keys")
    maria("import", str(path))
    key = maria.root / "keys" / "example.nl" / "mail.private"
    assert maria.query("SELECT private_key FROM mailctl_dkim_secrets") == [(key.read_text(),)]


# ------------------------------------------------------------------ OpenDKIM on host B


@pytest.fixture
def safe_root() -> Iterator[Tree]:
    """A tree OpenDKIM's RequireSafeKeys accepts (support.opendkim)."""
    with safe_tree("mailctl-test-hostb-") as made:
        yield made


def test_opendkim_on_host_b_signs_with_the_key_from_the_database(
    mariadb_url: str, tmp_path: Path, safe_root: Tree
) -> None:
    """B's OpenDKIM signs with the key B got only through the database; dkimpy
    verifies the signature against `dns show --format json` (of either host)."""
    # Test mode runs OpenDKIM as root, and RequireSafeKeys refuses a key owned by
    # another user (test_opendkim.test_daemon_as_the_guide_runs_it covers opendkim's).
    hosts = make_hosts(
        mariadb_url,
        mariadb_url,
        (tmp_path / "host-a", safe_root.root / "host-b"),
        sections={"dkim": {"owner": "root", "group": "root", "ed25519": False}},
    )
    a, b = hosts.a, hosts.b
    a("domain", "add", odk.DOMAIN)
    assert not b.keys.exists()
    b("sync")
    signed = odk.sign_with_tables(b.root, safe=safe_root.safe)
    name = f"{odk.SELECTOR}._domainkey.{odk.DOMAIN}."
    for host in (a, b):
        records = json.loads(host("dns", "show", odk.DOMAIN, "--format", "json").stdout)
        (value,) = [r["value"] for r in records if r["name"] == name and r["type"] == "TXT"]
        assert odk.dkimpy_verifies(signed, value.encode("ascii"))
    tampered = signed.replace(b"Hello from", b"Hello frum")
    assert not odk.dkimpy_verifies(tampered, value.encode("ascii"))
