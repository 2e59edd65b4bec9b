"""Managed files through the real CLI: keys, tables, SNI map (read back with the
real postmap), Dovecot SNI (validated by the real doveconf), faults, dry run,
idempotency, maildirs, audit log and concurrency."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import Mailctl, add_admin_mailbox
from support.env import program
from support.files import make_cert, snapshot

PW = "a good long password\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def block(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    start = lines.index("# BEGIN mailctl managed block")
    end = lines.index("# END mailctl managed block")
    return lines[start + 1 : end]


def certify(m: Mailctl, domain: str) -> None:
    names = [domain, f"smtp.{domain}", f"imap.{domain}"]
    make_cert(m.root / "certs" / domain, names)


def reconfigure(m: Mailctl, **commands: list[str]) -> Mailctl:
    return m.reconfigure(commands=commands)


def test_domain_add_writes_key_and_tables(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl", "example2.nl")
    key = lite.root / "keys" / "example.nl" / "mail.private"
    assert mode(key) == 0o600
    assert mode(key.parent) == 0o750
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert (key.parent / "mail.txt").read_text().startswith("mail._domainkey\tIN\tTXT\t(")
    assert block(lite.root / "KeyTable") == [
        f"mail._domainkey.example.nl example.nl:mail:{key}",
        f"mail._domainkey.example2.nl example2.nl:mail:{lite.root}/keys/example2.nl/mail.private",
    ]
    assert block(lite.root / "SigningTable") == [
        "*@example.nl mail._domainkey.example.nl",
        "*@example2.nl mail._domainkey.example2.nl",
    ]
    assert r"/^example2\.nl$/ 554 5.7.1 Spoofed HELO (you are not me)" in block(
        lite.root / "helo_checks.pcre"
    )
    # No certificate yet: no SNI entries, and the domain says so.
    assert block(lite.root / "vmail_ssl.map") == []
    shown = json.loads(lite("domain", "show", "example.nl", "-f", "json").stdout)
    assert shown["tls"] == "pending"
    assert shown["tls_detail"].startswith("TLS pending: certificate")
    assert shown["dkim_keys"] == ["mail rsa-1024 active"]
    rows = lite.query("SELECT selector, state, bits FROM mailctl_dkim_keys ORDER BY id")
    assert rows == [("mail", "active", 1024), ("mail", "active", 1024)]


def test_tls_entries_appear_once_the_certificate_exists(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    certify(lite, "example.nl")
    out = lite("sync")
    assert "updated" in out.stderr
    certs = lite.root / "certs" / "example.nl"
    assert block(lite.root / "vmail_ssl.map") == [
        f"example.nl {certs}/privkey.pem {certs}/fullchain.pem",
        f"smtp.example.nl {certs}/privkey.pem {certs}/fullchain.pem",
    ]
    # The real postmap built the indexed map: the lookup returns key + chain, inlined.
    assert lite.mail is not None
    looked_up = lite.mail.postmap_query(
        "smtp.example.nl", f"hash:{lite.root / 'vmail_ssl.map'}", "-F"
    ) or ""
    # postmap -q -F prints the inlined files back: private key first, then the chain.
    assert looked_up.index("BEGIN PRIVATE KEY") < looked_up.index("BEGIN CERTIFICATE")
    chain = (lite.root / "certs" / "example.nl" / "fullchain.pem").read_text()
    assert chain.strip() in looked_up
    assert mode(Path(f"{lite.root / 'vmail_ssl.map'}.db")) & 0o077 == 0
    dovecot = (lite.root / "11-ssl-sni.conf").read_text()
    assert "local_name imap.example.nl {" in dovecot
    assert json.loads(lite("domain", "show", "example.nl", "-f", "json").stdout)["tls"] == "ok"


def test_sync_twice_writes_nothing_the_second_time(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    certify(lite, "example.nl")
    lite("sync")
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in lite.root.rglob("*")
              if p.is_file() and p.name != "audit.log"}
    again = lite("sync")
    assert "all managed files are in sync" in again.stderr
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in lite.root.rglob("*")
             if p.is_file() and p.name != "audit.log"}
    assert after == before
    lite("sync", "--check")


def test_sync_check_and_diff_report_drift(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    keytable = lite.root / "KeyTable"
    keytable.write_text(keytable.read_text().replace("example.nl:mail", "example.nl:old"))
    drifted = keytable.read_text()
    check = lite("sync", "--check", "--diff", code=1)
    assert "out of sync" in check.stderr
    assert "-mail._domainkey.example.nl example.nl:old" in check.stdout
    assert keytable.read_text() == drifted  # --check changes nothing
    lite("sync")
    assert "example.nl:mail:" in keytable.read_text()


def test_admin_lines_are_kept_and_duplicates_adopted(lite: Mailctl) -> None:
    signing = lite.root / "SigningTable"
    signing.write_text("# my own\n*@legacy.example mail._domainkey.legacy.example\n"
                       "*@example.nl mail._domainkey.example.nl\n")
    out = lite("domain", "add", "example.nl")
    assert "outside the managed block duplicates" in out.stderr
    text = signing.read_text()
    assert text.startswith("# my own\n*@legacy.example mail._domainkey.legacy.example\n")
    assert text.count("*@example.nl mail._domainkey.example.nl") == 2
    lite("sync", "--adopt")
    text = signing.read_text()
    assert text.count("*@example.nl mail._domainkey.example.nl") == 1
    assert "*@legacy.example" in text and "# my own" in text


def test_existing_key_file_is_reused_and_unsafe_one_refused(lite: Mailctl) -> None:
    from mailctl.dkim.keyfiles import generate_rsa_key

    key = lite.root / "keys" / "example.nl" / "mail.private"
    key.parent.mkdir(parents=True)
    pem = generate_rsa_key(1024)
    key.write_bytes(pem)
    key.chmod(0o600)
    lite("domain", "add", "example.nl")
    assert key.read_bytes() == pem
    # A key readable by others is refused: nothing changes.
    other = lite.root / "keys" / "example2.nl" / "mail.private"
    other.parent.mkdir(parents=True)
    other.write_bytes(pem)
    other.chmod(0o644)
    before, files = lite.dump(), snapshot(lite.root)
    out = lite("domain", "add", "example2.nl", code=1)
    assert f"chmod 600 {other}" in out.stderr
    assert lite.dump() == before and snapshot(lite.root) == files


def test_failing_postmap_restores_the_previous_files(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    certify(lite, "example2.nl")
    broken = reconfigure(lite, postmap=["false"])
    before, files = broken.dump(), snapshot(broken.root)
    out = broken("domain", "add", "example2.nl", code=1)
    assert "false -F" in out.stderr and "failed" in out.stderr
    assert broken.dump() == before
    assert snapshot(broken.root) == files  # tables restored, new key removed


def test_failing_validation_restores_the_previous_files(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    certify(lite, "example2.nl")
    broken = reconfigure(lite, check_dovecot=["false"])
    before, files = broken.dump(), snapshot(broken.root)
    out = broken("domain", "add", "example2.nl", code=1)
    assert "Dovecot rejected the new configuration" in out.stderr
    assert broken.dump() == before and snapshot(broken.root) == files
    # postmap ran on the new map before the check failed; the restored .db no longer
    # knows example2.nl.
    assert broken.mail is not None
    lookup = broken.mail.postmap_query("smtp.example2.nl", f"hash:{broken.root / 'vmail_ssl.map'}",
                                       "-F")
    assert lookup is None


def test_unwritable_directory_mid_change_rolls_everything_back(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    # The Dovecot SNI file is written last; make its directory impossible to create.
    (lite.root / "blocker").write_text("a file where a directory should be\n")
    lite.reconfigure(dovecot={"sni_conf": str(lite.root / "blocker" / "11-ssl-sni.conf")})
    before, files = lite.dump(), snapshot(lite.root)
    out = lite("domain", "add", "example2.nl", code=1)
    assert "cannot write" in out.stderr
    assert lite.dump() == before and snapshot(lite.root) == files


def test_dovecot_accepts_the_generated_file(lite: Mailctl, tmp_path: Path) -> None:
    doveconf = program("doveconf")  # on its own private dovecot.conf, below
    default = make_cert(tmp_path / "default", ["mail.example.nl"])
    conf = tmp_path / "dovecot.conf"
    conf.write_text(
        f"base_dir = {tmp_path}/run\nstate_dir = {tmp_path}/state\n"
        f"ssl = yes\nssl_cert = <{default[0]}\nssl_key = <{default[1]}\n"
        f"!include {lite.root / '11-ssl-sni.conf'}\n"
    )
    checked = reconfigure(lite, check_dovecot=[doveconf, "-n", "-c", str(conf)])
    checked("domain", "add", "example.nl")
    certify(checked, "example.nl")
    checked("sync")
    out = subprocess.run([doveconf, "-n", "-c", str(conf)], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert "local_name imap.example.nl {" in out


def test_dry_run_shows_diffs_and_writes_nothing(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    before, files = lite.dump(), snapshot(lite.root)
    out = lite("domain", "add", "example2.nl", "--dry-run")
    assert "+mail._domainkey.example2.nl example2.nl:mail:" in out.stdout
    assert "would create DKIM key" in out.stdout
    assert "INSERT INTO virtual_domains: example2.nl" in out.stdout
    assert lite.dump() == before and snapshot(lite.root) == files
    certify(lite, "example.nl")
    out = lite("sync", "--dry-run")
    assert lite.mail is not None
    assert f"would run: {shlex.join(lite.mail.postmap)} -F hash:" in out.stdout
    assert snapshot(lite.root) != files  # only the certificate we just made


def test_domain_del_removes_entries_keeps_keys_unless_purged(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl", "example2.nl")
    lite("domain", "del", "example.nl", "--yes")
    assert all("example.nl:" not in line for line in block(lite.root / "KeyTable"))
    assert (lite.root / "keys" / "example.nl" / "mail.private").exists()
    lite("domain", "del", "example2.nl", "--yes", "--purge-keys")
    assert not (lite.root / "keys" / "example2.nl").exists()
    assert block(lite.root / "KeyTable") == []
    # Re-adding example.nl reuses its kept key.
    pem = (lite.root / "keys" / "example.nl" / "mail.private").read_bytes()
    lite("domain", "add", "example.nl")
    assert (lite.root / "keys" / "example.nl" / "mail.private").read_bytes() == pem


def test_maildirs_created_and_purged_safely(lite: Mailctl, tmp_path: Path) -> None:
    lite("domain", "add", "example.nl")
    lite("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    maildir = lite.root / "vmail" / "example.nl" / "joe"
    assert mode(maildir) == 0o700 and (maildir / "new").is_dir()
    (maildir / "new" / "1.msg").write_text("mail")
    lite("user", "del", "joe@example.nl", "--yes")
    assert maildir.exists()  # kept unless asked
    lite("user", "add", "ann@example.nl", "--password-stdin", input=PW)
    victim = tmp_path / "outside"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    ann = lite.root / "vmail" / "example.nl" / "ann"
    for child in ann.iterdir():
        child.rmdir()
    ann.rmdir()
    ann.symlink_to(victim)
    before = lite.dump()
    out = lite("user", "del", "ann@example.nl", "--yes", "--purge-maildir", code=1)
    assert "symlink" in out.stderr
    assert (victim / "precious").read_text() == "keep me"
    assert lite.dump() == before  # refused before the commit: ann is still there
    lite("user", "add", "bob@example.nl", "--password-stdin", input=PW)
    lite("user", "del", "bob@example.nl", "--yes", "--purge-maildir")
    assert not (lite.root / "vmail" / "example.nl" / "bob").exists()


def test_audit_log_records_who_what_and_result(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    lite("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    lite("domain", "add", "example.nl", code=1)
    log = lite.root / "audit.log"
    assert mode(log) == 0o600
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries[-3]["result"] == "ok"
    assert "INSERT INTO virtual_domains: example.nl" in entries[-3]["changes"]
    assert entries[-2]["changes"][0].startswith("INSERT INTO virtual_users: joe@example.nl")
    assert entries[-1]["result"].startswith("error: domain example.nl exists already")
    assert all({"time", "user", "sudo_user", "command"} <= e.keys() for e in entries)
    assert "good long password" not in log.read_text()
    assert "$6$" not in log.read_text()


def test_concurrent_domain_adds_lose_nothing(lite: Mailctl) -> None:
    names = [f"d{i}.example" for i in range(8)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCTL_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mailctl", "--config", str(lite.config), "domain", "add",
             name],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for name in names
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert sorted(r[0] for r in lite.query("SELECT name FROM virtual_domains")) == names
    keytable = block(lite.root / "KeyTable")
    assert len(keytable) == 8 and len(set(keytable)) == 8
    assert [line.split()[0] for line in block(lite.root / "SigningTable")] == [
        f"*@{n}" for n in names
    ]
    lite("sync", "--check")


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden.nl", "x" * 64 + ".nl"])
def test_bad_names_touch_no_file(lite: Mailctl, bad: str) -> None:
    lite("domain", "add", "example.nl")
    before, files = lite.dump(), snapshot(lite.root)
    lite("domain", "add", bad, code=1)
    assert lite.dump() == before and snapshot(lite.root) == files


def test_unreadable_certificate_stays_pending(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    directory = lite.root / "certs" / "example.nl"
    directory.mkdir(parents=True)
    (directory / "fullchain.pem").write_text("not a certificate\n")
    (directory / "privkey.pem").write_text("not a key\n")
    files = snapshot(lite.root)
    out = lite("sync")
    assert "is not a PEM certificate" in out.stderr
    assert snapshot(lite.root) == files
    assert block(lite.root / "vmail_ssl.map") == []


def test_mutating_commands_wait_for_the_lock(lite: Mailctl) -> None:
    import fcntl

    lite.reconfigure(lock={"timeout": 1})
    lock = lite.root / "mailctl.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        before = lite.dump()
        out = lite("domain", "add", "example.nl", code=1)
        assert f"another mailctl holds the lock {lock}" in out.stderr
        assert lite.dump() == before
        lite("domain", "list")  # reading needs no lock
    finally:
        os.close(fd)
    lite("domain", "add", "example.nl")


def test_key_files_belong_to_opendkim_when_root(lite: Mailctl) -> None:
    import grp
    import pwd

    if os.geteuid() != 0:
        pytest.skip("ownership is only changed as root")
    try:
        uid, gid = pwd.getpwnam("opendkim").pw_uid, grp.getgrnam("opendkim").gr_gid
    except KeyError:
        pytest.fail("the opendkim package (and its account) is not installed")
    lite("domain", "add", "example.nl")
    key = lite.root / "keys" / "example.nl" / "mail.private"
    assert (key.stat().st_uid, key.stat().st_gid) == (uid, gid)
    assert key.parent.stat().st_gid == gid
    # key_dir itself did not exist: created 0750 and enterable by OpenDKIM.
    assert (key.parent.parent.stat().st_uid, key.parent.parent.stat().st_gid) == (uid, gid)
    assert mode(key.parent.parent) == 0o750
    table = lite.root / "KeyTable"
    assert (table.stat().st_uid, table.stat().st_gid) == (uid, gid)
    assert mode(table) == 0o640


def test_domain_del_purges_maildirs_after_confirmation(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    lite("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    tree = lite.root / "vmail" / "example.nl"
    assert tree.is_dir()
    # Confirm the domain but decline the purge: nothing happens at all.
    lite("domain", "del", "example.nl", "--purge-maildirs", input="y\nn\n", code=1)
    assert tree.is_dir() and lite.query("SELECT name FROM virtual_domains")
    lite("domain", "del", "example.nl", "--purge-maildirs", input="y\ny\n")
    assert not tree.exists()


def test_a_renewed_certificate_is_rebuilt_into_the_index_and_reloaded(
    lite: Mailctl, tmp_path: Path
) -> None:
    """certbot renew replaces fullchain.pem/privkey.pem; the map's text stays the same,
    but postmap -F copied the old files into the .db and the servers hold the old ones."""
    marker = tmp_path / "reloads"
    lite.reconfigure(commands={
        "reload_postfix": ["sh", "-c", f"echo postfix >> {marker}"],
        "reload_dovecot": ["sh", "-c", f"echo dovecot >> {marker}"],
    })
    assert lite.mail is not None
    index = f"hash:{lite.root / 'vmail_ssl.map'}"
    lite("domain", "add", "example.nl")
    add_admin_mailbox(lite)
    certify(lite, "example.nl")
    lite("sync")
    first = lite.mail.postmap_query("smtp.example.nl", index, "-F") or ""
    assert "all managed files are in sync" in lite("sync").stderr
    lite("sync", "--check")
    marker.unlink()

    certify(lite, "example.nl")  # the renewal: a new key and certificate, same paths
    out = lite("sync", "--check", code=1)
    assert "2 managed file(s) out of sync" in out.stderr  # the map and Dovecot's file
    assert f"{lite.root / 'vmail_ssl.map'}" in out.stderr
    assert f"{lite.root / '11-ssl-sni.conf'}" in out.stderr
    rows = {r["check"]: r for r in json.loads(lite("doctor", "-f", "json", code=1).stdout)}
    assert rows["file SNI map"]["status"] == "FAIL"
    assert "renewed?" in rows["file SNI map"]["detail"]
    assert rows["file Dovecot SNI"]["status"] == "FAIL"
    dry = lite("sync", "--dry-run").stdout
    assert f"would rebuild {lite.root / 'vmail_ssl.map'}" in dry
    assert f"would run: {shlex.join(lite.mail.postmap)} -F {index}" in dry

    out = lite("sync")
    assert f"rebuilt {lite.root / 'vmail_ssl.map'}" in out.stderr
    renewed = lite.mail.postmap_query("smtp.example.nl", index, "-F") or ""
    chain = (lite.root / "certs" / "example.nl" / "fullchain.pem").read_text()
    assert renewed != first and chain.strip() in renewed
    assert sorted(marker.read_text().split()) == ["dovecot", "postfix"]
    lite("doctor")
    assert "all managed files are in sync" in lite("sync").stderr

    # A deleted index is noticed and rebuilt, too.
    Path(f"{lite.root / 'vmail_ssl.map'}.db").unlink()
    assert "is missing" in lite("sync", "--check", code=1).stdout
    lite("sync")
    assert lite.mail.postmap_query("smtp.example.nl", index, "-F") == renewed


def test_a_key_file_already_there_is_made_whole(lite: Mailctl) -> None:
    """A hand-placed key, or one left by a `domain add` killed before its .txt: reused,
    its .txt written, and the temporary file an interrupted write left removed."""
    from mailctl.dkim import keyfiles

    folder = lite.root / "keys" / "example.nl"
    folder.mkdir(parents=True, mode=0o750)
    pem = keyfiles.generate_rsa_key(1024)
    (folder / "mail.private").write_bytes(pem)
    (folder / "mail.private").chmod(0o600)
    leftover = folder / ".mail.private.mailctl-0123456789ab"
    leftover.write_bytes(pem)
    lite("domain", "add", "example.nl")
    add_admin_mailbox(lite)
    assert (folder / "mail.private").read_bytes() == pem  # never replaced
    txt = (folder / "mail.txt").read_text()
    assert keyfiles.dns_value_matches(keyfiles.txt_value(txt), pem)
    assert not leftover.exists()
    rows = {r["check"]: r for r in json.loads(lite("doctor", "-f", "json").stdout)}
    assert rows["dkim mail._domainkey.example.nl"]["status"] == "OK"


def test_sync_writes_a_missing_key_record_file(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    add_admin_mailbox(lite)
    txt = lite.root / "keys" / "example.nl" / "mail.txt"
    good = txt.read_text()
    txt.unlink()
    rows = {r["check"]: r for r in json.loads(lite("doctor", "-f", "json", code=1).stdout)}
    assert rows["dkim mail._domainkey.example.nl"]["status"] == "FAIL"
    out = lite("sync")
    assert f"wrote {txt}" in out.stderr
    assert txt.read_text() == good
    lite("doctor")
