"""Several mail hosts on one database: `[host]` roles, mailctl_hosts, `host list/del`,
maildirs only where the host serves mailboxes, and `doctor --cluster` naming a host
that stopped syncing. Each host is a config of its own with its own file tree, on
the same database."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from support.cli import Mailctl
from support.files import make_cert, snapshot

from mailctl import __version__
from mailctl.system.owners import as_root

PW = "a good long password\n"


def host(m: Mailctl, tmp_path: Path, name: str, **section: Any) -> Mailctl:
    """Another host on m's database: its own config and file tree."""
    root = tmp_path / name
    root.mkdir()
    return Mailctl.create(
        root / "config.toml", m.url, root, mail=m.mail, sections={"host": {"name": name, **section}}
    )


def listed(m: Mailctl) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in json.loads(m("host", "list", "-f", "json").stdout)}


def cluster_rows(m: Mailctl, code: int | None) -> dict[str, dict[str, str]]:
    out = m("doctor", "--cluster", "-f", "json", code=code)
    return {r["check"]: r for r in json.loads(out.stdout)}


def hosts_rows(m: Mailctl) -> list[tuple[Any, ...]]:
    return sorted(m.query("SELECT * FROM mailctl_hosts"))


def test_each_sync_records_its_host_once(mailctl: Mailctl, tmp_path: Path) -> None:
    """On each backend: a row per host, replaced (never doubled) by each sync, with
    roles, the database's time, mailctl's version and files in sync."""
    a = mailctl.reconfigure(host={"name": "mx1.example.nl"})
    b = host(a, tmp_path, "imap1.example.nl", roles=["imap"])
    a("domain", "add", "example.nl")
    assert listed(a) == {}  # commands other than sync record nothing
    a("sync")
    b("sync")
    first = listed(b)
    assert sorted(first) == ["imap1.example.nl", "mx1.example.nl"]
    mx = first["mx1.example.nl"]
    assert mx["roles"] == ["mx", "submission", "imap"]
    assert first["imap1.example.nl"]["roles"] == ["imap"]
    assert mx["version"] == __version__
    assert mx["files"] == "in sync" and mx["stale"] is False
    assert 0 <= mx["age_seconds"] < 60 and mx["ago"].endswith(" s")
    assert len(mx["digest"]) == 64
    # B renders no Postfix files: another digest than A's
    assert first["imap1.example.nl"]["digest"] != mx["digest"]
    (at,) = a.query("SELECT synced_at FROM mailctl_hosts WHERE name = 'mx1.example.nl'")[0]
    time.sleep(1.1)
    a("sync")
    again = listed(a)
    assert sorted(again) == sorted(first)
    assert a.query("SELECT COUNT(*) FROM mailctl_hosts") == [(2,)]
    (later,) = a.query("SELECT synced_at FROM mailctl_hosts WHERE name = 'mx1.example.nl'")[0]
    assert later > at
    # table and csv show the same hosts
    table = a("host", "list", "-f", "csv").stdout.splitlines()
    assert table[0] == "name,roles,last_sync,ago,stale,version,files,age_seconds,digest"
    assert [line.split(",")[0] for line in table[1:]] == ["imap1.example.nl", "mx1.example.nl"]
    plain = a("host", "list").stdout.splitlines()
    assert plain[1].split("\t")[:2] == ["mx1.example.nl", "mx,submission,imap"]


def test_sync_check_and_dry_run_record_nothing(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    lite("sync", "--check")
    lite("sync", "--dry-run")
    assert hosts_rows(lite) == []
    lite("sync")
    assert len(hosts_rows(lite)) == 1


def test_the_default_name_is_the_machines(lite: Mailctl) -> None:
    import socket

    lite("sync")
    assert list(listed(lite)) == [socket.gethostname().lower()]


def test_host_del_forgets_a_removed_host(maria: Mailctl, tmp_path: Path) -> None:
    a = maria.reconfigure(host={"name": "mx1.example.nl"})
    b = host(a, tmp_path, "mx2.example.nl")
    a("sync")
    b("sync")
    before = hosts_rows(a)
    out = a("host", "del", "MX2.example.nl", input="n\n", code=1)
    assert out.stderr.strip().splitlines()[-1] == "mailctl: error: aborted; nothing was changed"
    a("host", "del", "mx2.example.nl", "--dry-run")
    assert hosts_rows(a) == before
    out = a("host", "del", "mx2.example.nl", "--yes")
    assert "forgot host mx2.example.nl" in out.stderr
    assert list(listed(a)) == ["mx1.example.nl"]
    audit = (a.root / "audit.log").read_text().splitlines()
    assert "DELETE FROM mailctl_hosts: mx2.example.nl" in json.loads(audit[-1])["changes"]
    b("sync")  # a host that syncs again is back
    assert list(listed(a)) == ["mx1.example.nl", "mx2.example.nl"]


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (
            ["host", "del", "mx9.example.nl", "--yes"],
            1,
            "no host 'mx9.example.nl' in mailctl_hosts (known: mx1.example.nl)",
        ),
        (["host", "del", "mx 1", "--yes"], 1, "invalid host name: must be a host name"),
        (["host", "del", "", "--yes"], 1, "invalid host name: it is empty"),
        (["host", "del"], 2, "Missing argument 'NAME'"),
        (["host", "list", "-f", "xml"], 2, "'xml' is not one of"),
    ],
)
def test_bad_host_input_is_one_line_and_changes_nothing(
    lite: Mailctl, argv: list[str], code: int, says: str
) -> None:
    lite.reconfigure(host={"name": "mx1.example.nl"})
    lite("sync")
    before, files = hosts_rows(lite), snapshot(lite.root)
    out = lite(*argv, code=code)
    assert says in out.stderr
    if code == 1:
        assert len(out.stderr.strip().splitlines()) == 1
    assert hosts_rows(lite) == before and snapshot(lite.root) == files


# ------------------------------------------------------------------ roles


def test_maildirs_are_made_and_removed_only_on_imap_hosts(lite: Mailctl, tmp_path: Path) -> None:
    """An mx host makes no maildir and refuses to delete one; the imap host's next sync
    makes every missing maildir, owned by vmail as `user add` makes it, and no more."""
    imap = lite.reconfigure(host={"name": "imap1.example.nl", "roles": ["imap"]})
    mx = host(lite, tmp_path, "mx1.example.nl", roles=["mx", "submission"])
    imap("domain", "add", "example.nl")
    out = mx("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    assert "no maildir is made on this host (host.roles has no imap)" in out.stderr
    joe_on_mx = mx.root / "vmail" / "example.nl" / "joe"
    joe = imap.root / "vmail" / "example.nl" / "joe"
    assert not joe_on_mx.exists() and not joe.exists()
    mx("sync")
    assert not (mx.root / "vmail").exists()  # sync on an mx host makes none either
    assert "would create maildir for joe@example.nl" in imap("sync", "--dry-run").stdout
    assert not joe.exists()
    out = imap("sync")
    assert f"created maildir {joe}" in out.stderr
    for sub in ("", "cur", "new", "tmp"):
        info = (joe / sub).stat()
        assert stat.S_IMODE(info.st_mode) == 0o700
        if as_root():
            assert (info.st_uid, info.st_gid) == (5000, 5000)  # vmail.uid, vmail.gid
    assert "created maildir" not in imap("sync").stderr  # made once
    # Deleting mail where there is none: refused, nothing changed.
    before = mx.dump()
    for argv in (
        ["user", "del", "joe@example.nl", "--purge-maildir", "--yes"],
        ["domain", "del", "example.nl", "--purge-maildirs", "--yes"],
    ):
        out = mx(*argv, code=1)
        errors = [ln for ln in out.stderr.splitlines() if ln.startswith("mailctl: error:")]
        assert (
            len(errors) == 1 and "this host keeps no maildirs (host.roles has no imap)" in errors[0]
        )
    assert mx.dump() == before and joe.is_dir()
    mx("user", "del", "joe@example.nl", "--yes")  # without the purge: fine anywhere
    imap("user", "add", "ann@example.nl", "--password-stdin", input=PW)
    assert (imap.root / "vmail" / "example.nl" / "ann" / "cur").is_dir()
    imap("user", "del", "ann@example.nl", "--purge-maildir", "--yes")
    assert not (imap.root / "vmail" / "example.nl" / "ann").exists()


def test_each_host_writes_the_files_its_daemons_read(lite: Mailctl, tmp_path: Path) -> None:
    imap = lite.reconfigure(host={"name": "imap1.example.nl", "roles": ["imap"]})
    mx = host(lite, tmp_path, "mx1.example.nl", roles=["mx"])
    imap("domain", "add", "example.nl")
    for m in (imap, mx):
        make_cert(
            m.root / "certs" / "example.nl", ["example.nl", "smtp.example.nl", "imap.example.nl"]
        )
        m("sync")
    assert "imap.example.nl" in (imap.root / "11-ssl-sni.conf").read_text()
    assert not (imap.root / "vmail_ssl.map").exists()
    assert not (imap.root / "helo_checks.pcre").exists()
    assert "smtp.example.nl" in (mx.root / "vmail_ssl.map").read_text()
    assert "example" in (mx.root / "helo_checks.pcre").read_text()
    assert not (mx.root / "11-ssl-sni.conf").exists()
    for m in (imap, mx):  # OpenDKIM's tables and keys on both
        assert "example.nl" in (m.root / "KeyTable").read_text()
        assert (m.root / "keys" / "example.nl" / "mail.private").is_file()
    # doctor on each host judges the files it writes, and all are in sync
    for m in (imap, mx):
        found = json.loads(m("doctor", "-f", "json", code=None).stdout)
        files = {r["check"]: r["status"] for r in found if r["check"].startswith("file ")}
        expected = {"file KeyTable", "file SigningTable"} | (
            {"file Dovecot SNI"} if m is imap else {"file SNI map", "file HELO checks"}
        )
        assert files == dict.fromkeys(expected, "OK")


def test_bad_roles_are_named_with_their_key() -> None:
    from mailctl.core.config import build_settings
    from mailctl.errors import ConfigError

    for roles, says in (
        (["pop3"], "'pop3' is no role: use mx, submission, imap"),
        (["imap", "imap"], "names a role twice: ['imap', 'imap']"),
    ):
        with pytest.raises(ConfigError) as caught:
            build_settings({"host": {"roles": roles}})
        assert str(caught.value) == f"At 'host.roles': {says}"
    assert build_settings({"host": {"roles": []}}).host.roles == []  # serves no mail


# ------------------------------------------------------------------ doctor --cluster


@pytest.fixture
def healthy(lite: Mailctl) -> Mailctl:
    m = lite.reconfigure(host={"name": "mx1.example.nl", "sync_stale_after": 2})
    m("domain", "add", "example.nl")
    make_cert(m.root / "certs" / "example.nl", ["example.nl", "smtp.example.nl", "imap.example.nl"])
    m("user", "add", "admin@example.nl", "--password-stdin", input=PW)
    m("sync")
    return m


def test_doctor_cluster_names_a_host_that_stopped_syncing(healthy: Mailctl) -> None:
    """host.sync_stale_after = 2 s: green right after a sync, red once 2 s have
    passed without one, green again after the next sync. SQLite: no cluster, said so."""
    found = cluster_rows(healthy, 0)
    assert found["galera"] == {
        "check": "galera",
        "status": "OK",
        "detail": "the database is no Galera cluster (SQLite): no cluster state to check",
    }
    assert found["host mx1.example.nl"]["status"] == "OK"
    assert "files in sync" in found["host mx1.example.nl"]["detail"]
    time.sleep(3.2)
    found = cluster_rows(healthy, 1)
    row = found["host mx1.example.nl"]
    assert row["status"] == "FAIL"
    assert "more than host.sync_stale_after (2 s)" in row["detail"]
    assert "journalctl -u mailctl-sync.service" in row["detail"]
    assert listed(healthy)["mx1.example.nl"]["stale"] is True
    healthy("doctor")  # without --cluster: not asked
    healthy("sync")
    assert cluster_rows(healthy, 0)["host mx1.example.nl"]["status"] == "OK"


def test_doctor_cluster_names_a_host_whose_files_differed(healthy: Mailctl, tmp_path: Path) -> None:
    """What a host's sync recorded of its files, and versions that differ between hosts."""
    other = host(healthy, tmp_path, "mx2.example.nl")
    other("sync")
    healthy.execute(
        "UPDATE mailctl_hosts SET files = '1 file(s) differ: /etc/postfix/vmail_ssl.map',"
        " version = '0.0.9' WHERE name = 'mx2.example.nl'"
    )
    found = cluster_rows(healthy, 1)
    assert found["host mx2.example.nl"]["status"] == "FAIL"
    assert (
        "its files differ: 1 file(s) differ: /etc/postfix/vmail_ssl.map"
        in (found["host mx2.example.nl"]["detail"])
    )
    assert found["mailctl versions"]["status"] == "WARN"
    assert (
        f"0.0.9 on mx2.example.nl; {__version__} on mx1.example.nl"
        in (found["mailctl versions"]["detail"])
    )
    other("sync")
    assert cluster_rows(healthy, 0)["host mx2.example.nl"]["status"] == "OK"


def test_doctor_cluster_on_a_single_mariadb(maria: Mailctl) -> None:
    """No Galera: one OK row saying so; with database.failover set, a WARN. A host
    that never synced is named."""
    maria.reconfigure(host={"name": "mx1.example.nl"})
    found = cluster_rows(maria, None)
    assert found["galera"]["status"] == "OK"
    assert "no Galera cluster (wsrep off)" in found["galera"]["detail"]
    assert found["host mx1.example.nl"]["status"] == "WARN"
    assert "has not synced yet" in found["host mx1.example.nl"]["detail"]
    maria.reconfigure(database={"failover": ["127.0.0.1:3306"]})
    assert cluster_rows(maria, None)["galera"]["status"] == "WARN"
