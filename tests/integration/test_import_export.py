"""`mailctl export` / `mailctl import`: round trips across backends, idempotent
upserts, all-or-nothing imports that name the bad row, and the account policy
(quotas, suspension, services, domain limits, send-as grants) carried along and
its limits enforced."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import Mailctl, make_mailctl
from support.files import snapshot

from mailctl.transfer import fileformat
from mailctl.transfer.records import AliasRecord, Document, DomainRecord, UserRecord

PASSWORDS = {
    "joe@example.nl": ("SHA512-CRYPT", "correct horse battery"),
    "ann@example.nl": ("BLF-CRYPT", "pässwörd with umlauts"),
    "bob@xn--bcher-kva.example": ("ARGON2ID", "a third long password"),
}
# One valid SHA512-CRYPT hash ("a good long password"), reused for bulk rows.
HASH = (
    "{SHA512-CRYPT}$6$DWFBiWqTv8LJDAE0$QydmB/t9oeyGHmNMj/mkXmOrVt2layxEAV8Ldn"
    "8LhP26ADMG8qlOKwRiRq/kDtO9uqV2Zwb3aXQPVeMYPjuxj1"
)


def populate(m: Mailctl) -> None:
    m("domain", "add", "example.nl", "bücher.example")
    for email, (scheme, password) in PASSWORDS.items():
        m("user", "add", email, "--scheme", scheme, "--password-stdin", input=password + "\n")
    m("alias", "add", "info@example.nl", "joe@example.nl", "ann@example.nl")
    m("alias", "add", "joe@example.nl", "joe@example.nl", "joe@example.org")  # local copy
    m("alias", "add", "@xn--bcher-kva.example", "bob@xn--bcher-kva.example")  # catch-all
    m("domain", "add", "alias.example", "--no-postmaster")
    m("alias", "add", "@alias.example", "@example.nl")  # alias domain
    m("dkim", "rotate", "example.nl")  # a second (pending) key
    # Account policy: every field away from its default somewhere.
    m("domain", "set", "example.nl", "--default-quota", "1G", "--max-quota", "2G",
      "--max-users", "10", "--max-aliases", "20")
    m("domain", "suspend", "alias.example", "--no-receive", "--reason", "moved away")
    m("user", "set", "joe@example.nl", "--quota", "1536M", "--no-imap", "--no-pop3")
    m("user", "set", "bob@xn--bcher-kva.example", "--quota", "unlimited", "--no-smtp",
      "--no-receive")
    m("user", "suspend", "ann@example.nl", "--reason", "left, mail kept")
    m("sender", "allow", "joe@example.nl", "info@example.nl")
    m("sender", "allow", "joe@example.nl", "@alias.example")


# The policy `populate` gives, as an export writes it (sizes whole: 1536M, not 1.5G).
POLICY = {
    "alias.example": {"suspended": True, "suspend_reason": "moved away", "receive": False},
    "example.nl": {"default_quota": "1G", "max_quota": "2G", "max_users": 10,
                   "max_aliases": 20},
    "xn--bcher-kva.example": {},
    "ann@example.nl": {"suspended": True, "suspend_reason": "left, mail kept"},
    "bob@xn--bcher-kva.example": {"smtp": False, "receive": False, "quota": "unlimited"},
    "joe@example.nl": {"imap": False, "pop3": False, "quota": "1536M",
                       "send_as": ["@alias.example", "info@example.nl"]},
}


def policy_of(row: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in row.items() if k not in ("name", "dkim", "email", "password")}


def test_round_trip_mariadb_to_postgresql_and_sqlite(
    maria: Mailctl, postgres_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    populate(maria)
    exported = tmp_path / "export.json"
    maria("export", "--with-keys", "--output", str(exported))
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    first = exported.read_text()
    document = json.loads(first)
    assert document["version"] == 1
    assert [d["name"] for d in document["domains"]] == [
        "alias.example", "example.nl", "xn--bcher-kva.example"
    ]
    assert [len(d["dkim"]) for d in document["domains"]] == [1, 2, 1]
    assert all("PRIVATE KEY" in k["private_key"] for d in document["domains"] for k in d["dkim"])
    hashes = {u["email"]: u["password"] for u in document["users"]}
    assert set(hashes) == set(PASSWORDS)
    rows = document["domains"] + document["users"]
    assert {r.get("name") or r["email"]: policy_of(r) for r in rows} == POLICY

    assert maria.mail is not None
    doveadm = maria.mail.doveadm
    for name, url in (("postgres", postgres_url), ("sqlite", sqlite_url)):
        (tmp_path / name).mkdir()
        target = make_mailctl(url, tmp_path / name, maria.mail)
        result = target("import", str(exported))
        assert result.stdout.splitlines() == [
            "domains: 3 created, 0 updated, 0 unchanged",
            "users: 3 created, 0 updated, 0 unchanged",
            "aliases: 12 created, 0 updated, 0 unchanged",
        ]
        assert target("export", "--with-keys").stdout == first
        # The keys were written where this server's OpenDKIM reads them.
        key_table = (target.root / "KeyTable").read_text()
        assert str(target.root / "keys" / "example.nl" / "mail.private") in key_table
        assert (target.root / "vmail" / "example.nl" / "joe" / "cur").is_dir()
        for email, stored in target.query("SELECT email, password FROM virtual_users"):
            assert stored == hashes[email]
            password = PASSWORDS[email][1]
            checked = subprocess.run(
                [*doveadm, "pw", "-t", stored, "-p", password],
                capture_output=True, text=True, timeout=30, check=False,
            )
            assert checked.returncode == 0 and "(verified)" in checked.stdout, checked.stderr


def test_csv_and_jsonl_round_trip(maria: Mailctl, sqlite_url: str, tmp_path: Path) -> None:
    populate(maria)
    for fmt in ("csv", "jsonl"):
        exported = maria("export", "--format", fmt, "--with-keys").stdout
        path = tmp_path / f"export.{fmt}"
        path.write_text(exported)
        (tmp_path / fmt).mkdir()
        target = make_mailctl(
            sqlite_url.replace(".sqlite3", f"-{fmt}.sqlite3"), tmp_path / fmt, maria.mail
        )
        target("import", str(path))
        assert target("export", "--format", fmt, "--with-keys").stdout == exported
        assert target.dump(policy=True)["mailctl_sender_grants"] != []
    rows = list(csv.DictReader(io.StringIO(maria("export", "-f", "csv").stdout)))
    assert {r["kind"] for r in rows} == {"domain", "dkim", "user", "alias"}
    info = next(r for r in rows if r["source"] == "info@example.nl")
    assert info["destinations"] == "joe@example.nl,ann@example.nl"
    # The policy columns in use follow the fixed ones; flags are true/false.
    joe = next(r for r in rows if r["email"] == "joe@example.nl")
    assert (joe["imap"], joe["quota"], joe["send_as"]) == (
        "false", "1536M", "@alias.example,info@example.nl"
    )
    assert next(r for r in rows if r["domain"] == "example.nl")["max_users"] == "10"


def test_without_keys_imported_domains_get_new_keys(maria: Mailctl, sqlite_url: str,
                                                    tmp_path: Path) -> None:
    populate(maria)
    exported = maria("export").stdout
    assert "PRIVATE KEY" not in exported
    path = tmp_path / "export.json"
    path.write_text(exported)
    (tmp_path / "t").mkdir()
    target = make_mailctl(sqlite_url, tmp_path / "t", maria.mail)
    target("import", str(path))
    again = json.loads(target("export").stdout)
    before = json.loads(exported)
    assert again["users"] == before["users"]
    assert again["aliases"] == before["aliases"]
    # As `domain add` does: one new active key per domain, files and KeyTable entries.
    assert [[k["state"] for k in d["dkim"]] for d in again["domains"]] == [["active"]] * 3
    for domain in ("example.nl", "xn--bcher-kva.example", "alias.example"):
        assert (target.root / "keys" / domain / "mail.private").is_file()
        assert f"mail._domainkey.{domain}" in (target.root / "KeyTable").read_text()


def test_export_with_keys_refuses_a_terminal(maria: Mailctl, tmp_path: Path) -> None:
    maria("domain", "add", "example.nl")
    primary, secondary = pty.openpty()
    mailctl = Path(sys.executable).parent / "mailctl"
    with subprocess.Popen(
        [str(mailctl), "--config", str(maria.config), "export", "--with-keys"],
        stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, cwd=tmp_path,
    ) as proc:
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=30) == 2
    os.close(primary)
    assert b"--with-keys puts private keys in the output" in output
    assert b"PRIVATE KEY" not in output


def test_import_is_idempotent_and_merges(maria: Mailctl, tmp_path: Path) -> None:
    populate(maria)
    path = tmp_path / "export.json"
    maria("export", "-o", str(path))
    before = maria.dump(policy=True)
    result = maria("import", str(path))
    assert result.stdout.splitlines() == [
        "domains: 0 created, 0 updated, 3 unchanged",
        "users: 0 created, 0 updated, 3 unchanged",
        "aliases: 0 created, 0 updated, 12 unchanged",
    ]
    assert maria.dump(policy=True) == before

    document = json.loads(path.read_text())
    document["users"][0]["password"] = HASH  # a changed hash: updated
    document["users"].append({"email": "new@example.nl", "password": HASH})
    document["aliases"] = [{"source": "info@example.nl", "destinations": ["new@example.nl"]}]
    path.write_text(json.dumps(document))
    dry = maria("import", str(path), "--dry-run")
    assert dry.stdout.splitlines()[-3:] == [
        "domains: 0 to create, 0 to update, 3 unchanged",
        "users: 1 to create, 1 to update, 2 unchanged",
        "aliases: 0 to create, 1 to update, 0 unchanged",
    ]
    assert maria.dump(policy=True) == before
    maria("import", str(path))
    assert maria.query("SELECT password FROM virtual_users WHERE email = :e",
                       e=document["users"][0]["email"]) == [(HASH,)]
    assert maria.query("SELECT destination FROM virtual_aliases WHERE source = :s",
                       s="info@example.nl") == [("joe@example.nl,ann@example.nl,new@example.nl",)]


def test_plaintext_passwords_are_hashed_on_all_cores(mailctl: Mailctl, tmp_path: Path) -> None:
    mailctl("domain", "add", "example.nl")
    # Over bulkhash.PARALLEL_MIN, so the process pool does the hashing.
    rows = ["kind,email,plaintext"]
    rows += [f"user,u{i}@example.nl,password number {i}" for i in range(210)]
    path = tmp_path / "users.csv"
    path.write_text("\n".join(rows) + "\n")
    dry = mailctl("import", str(path), "-n")
    assert "users: 210 to create, 0 to update, 0 unchanged" in dry.stdout
    assert mailctl.query("SELECT count(*) FROM virtual_users") == [(0,)]
    assert mailctl("import", str(path)).stdout.splitlines()[1] == (
        "users: 210 created, 0 updated, 0 unchanged"
    )
    stored = dict(mailctl.query("SELECT email, password FROM virtual_users"))
    assert len(set(stored.values())) == 210 and all(
        h.startswith("{SHA512-CRYPT}$6$") for h in stored.values()
    )
    mailctl("user", "verify", "u7@example.nl", "--password-stdin", input="password number 7\n")
    # The same plaintext again still verifies: nothing to do. A new one: updated.
    rows[8] = "user,u7@example.nl,another password here"
    path.write_text("\n".join(rows) + "\n")
    assert mailctl("import", str(path)).stdout.splitlines()[1] == (
        "users: 0 created, 1 updated, 209 unchanged"
    )
    mailctl("user", "verify", "u7@example.nl", "--password-stdin",
            input="another password here\n")
    assert dict(mailctl.query("SELECT email, password FROM virtual_users"))["u8@example.nl"] == (
        stored["u8@example.nl"]
    )


# --- one bad row among 1,000 good ones ------------------------------------------------


def _thousand_users() -> list[dict[str, str]]:
    return [{"email": f"user{i:04d}@example.nl", "password": HASH} for i in range(1000)]


def _as_json(users: list[dict[str, str]]) -> str:
    return json.dumps({"version": 1, "domains": [{"name": "example.nl"}], "users": users})


def _as_csv(users: list[dict[str, str]]) -> str:
    lines = ["kind,domain,email,password", "domain,example.nl,,"]
    lines += [f"user,,{u['email']},{u['password']}" for u in users]
    return "\n".join(lines) + "\n"


def _as_jsonl(users: list[dict[str, str]]) -> str:
    lines = [json.dumps({"kind": "domain", "name": "example.nl"})]
    lines += [json.dumps({"kind": "user", **u}) for u in users]
    return "\n".join(lines) + "\n"


BAD_ROWS = [
    # (id, format, index of the bad user, its row, where, message part)
    ("bad-address", "json", 500, {"email": "user0500@@example.nl", "password": HASH},
     "users[500]", "invalid address: 'user0500@@example.nl'"),
    ("unhosted-domain", "csv", 700, {"email": "user0700@example.org", "password": HASH},
     "line 703", "domain example.org is not hosted here"),
    ("duplicate", "jsonl", 999, {"email": "USER0003@example.nl", "password": HASH},
     "line 1001", "duplicate: user user0003@example.nl is also at line 5"),
    ("malformed-hash", "json", 17, {"email": "user0017@example.nl",
                                    "password": HASH[:-3]},
     "users[17]", "malformed SHA512-CRYPT hash"),
]


@pytest.mark.parametrize(
    ("fmt", "index", "row", "where", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_ROWS],
)
def test_one_bad_row_among_a_thousand_writes_nothing(
    maria: Mailctl, tmp_path: Path, fmt: str, index: int, row: dict[str, str], where: str,
    message: str
) -> None:
    maria("domain", "add", "example.nl")
    users = _thousand_users()
    users[index] = row
    render = {"json": _as_json, "csv": _as_csv, "jsonl": _as_jsonl}[fmt]
    path = tmp_path / f"users.{fmt}"
    path.write_text(render(users))
    before, files = maria.dump(), snapshot(maria.root)
    result = maria("import", str(path), code=1)
    assert "1 error(s) in the import file; nothing was imported" in result.stderr
    assert f"  {where}: " in result.stderr and message in result.stderr, result.stderr
    assert maria.dump() == before
    assert snapshot(maria.root) == files
    # Without the bad row the same file imports.
    del users[index]
    path.write_text(render(users))
    assert "users: 999 created" in maria("import", str(path)).stdout


def test_every_bad_row_is_listed(maria: Mailctl, tmp_path: Path) -> None:
    maria("domain", "add", "example.nl")
    maria("user", "add", "joe@example.nl", "--password-stdin", input="correct horse battery\n")
    path = tmp_path / "bad.csv"
    path.write_text(
        "kind,domain,email,password,plaintext,source,destinations\n"
        "user,,ann@example.nl,,a good long password,,\n"
        "user,,x@unhosted.example,,a good long password,,\n"
        "user,,bob@example.nl,,short,,\n"
        "user,,eve@example.nl,{PLAIN}secret,,,\n"
        'alias,,,,,joe@example.nl,"x@example.org"\n'
        "alias,,,,,sales@example.nl,\n"
        "domain,bad_domain.example,,,,,\n"
        "launch,,,,,,\n"
    )
    before = maria.dump()
    result = maria("import", str(path), code=1)
    assert result.stderr.splitlines() == [
        "mailctl: error: 7 error(s) in the import file; nothing was imported:",
        "  line 3: x@unhosted.example: domain unhosted.example is not hosted here"
        " (add it first: mailctl domain add unhosted.example, or give it a domain row in the"
        " file)",
        "  line 4: bob@example.nl: password is 5 characters; at least 12 required",
        "  line 5: eve@example.nl: unknown password scheme {PLAIN}; accepted: SHA512-CRYPT,"
        " BLF-CRYPT, ARGON2ID, SHA256-CRYPT, MD5-CRYPT, CRYPT, DES-CRYPT, ARGON2I",
        "  line 6: joe@example.nl is a mailbox; an alias for it must keep joe@example.nl"
        " among its destinations (forward with a local copy)",
        "  line 7: 'destinations' is missing",
        "  line 8: invalid domain (labels use letters, digits and inner hyphens only):"
        " 'bad_domain.example'",
        "  line 9: kind 'launch'; expected domain, dkim, user or alias",
    ]
    assert maria.dump() == before


def test_keys_on_disk_are_reused_or_refused(maria: Mailctl, tmp_path: Path) -> None:
    maria("domain", "add", "example.nl", "example.org")
    path = tmp_path / "export.json"
    maria("export", "--with-keys", "-o", str(path))
    # `domain del` keeps the key files: importing the same key again reuses the file.
    maria("domain", "del", "example.nl", "--yes")
    key = maria.root / "keys" / "example.nl" / "mail.private"
    pem = key.read_bytes()
    result = maria("-v", "import", str(path))
    assert f"same key as existing file {key}" in result.stderr
    assert key.read_bytes() == pem
    # A different key in that place is never overwritten.
    maria("domain", "del", "example.nl", "--yes")
    other = json.loads(path.read_text())
    other["domains"][0]["dkim"][0]["private_key"] = other["domains"][1]["dkim"][0]["private_key"]
    path.write_text(json.dumps(other))
    before = maria.dump()
    refused = maria("import", str(path), code=1)
    assert f"domains[0].dkim[0]: {key} exists and holds another key" in refused.stderr
    assert maria.dump() == before and key.read_bytes() == pem


# --- account policy ---------------------------------------------------------------


def test_policy_in_the_file_updates_and_what_it_leaves_out_is_kept(
    maria: Mailctl, tmp_path: Path
) -> None:
    populate(maria)
    path = tmp_path / "export.json"
    maria("export", "-o", str(path))
    document = json.loads(path.read_text())
    users = {u["email"]: u for u in document["users"]}
    # joe: a new quota, IMAP back on, one more grant (the two he has are not listed).
    users["joe@example.nl"].update(quota="2G", imap=True, send_as=["ann@example.nl"])
    # ann: a row without any policy field, as an older mailctl wrote it: kept suspended.
    users["ann@example.nl"] = {"email": "ann@example.nl",
                               "password": users["ann@example.nl"]["password"]}
    domains = {d["name"]: d for d in document["domains"]}
    domains["example.nl"]["max_users"] = "none"  # lifted
    domains["alias.example"]["suspended"] = False  # resumed: the reason goes with it
    del domains["alias.example"]["suspend_reason"]
    path.write_text(json.dumps(document))
    dry = maria("import", str(path), "--dry-run")
    assert "  UPDATE mailctl_user_policy: joe@example.nl (imap on, quota 2G)" in dry.stdout
    assert "  INSERT INTO mailctl_sender_grants: joe@example.nl (may send as ann@example.nl)" in (
        dry.stdout
    )
    assert maria("import", str(path)).stdout.splitlines() == [
        "domains: 0 created, 2 updated, 1 unchanged",
        "users: 0 created, 1 updated, 2 unchanged",
        "aliases: 0 created, 0 updated, 12 unchanged",
    ]
    after = json.loads(maria("export").stdout)
    policy = {r.get("name") or r["email"]: policy_of(r) for r in after["domains"] + after["users"]}
    assert policy == {
        **POLICY,
        "alias.example": {"receive": False},
        "example.nl": {"default_quota": "1G", "max_quota": "2G", "max_aliases": 20},
        "joe@example.nl": {"pop3": False, "quota": "2G",
                           "send_as": ["@alias.example", "ann@example.nl", "info@example.nl"]},
    }


def test_a_file_without_policy_leaves_the_policy_alone(maria: Mailctl, tmp_path: Path) -> None:
    populate(maria)
    document = json.loads(maria("export").stdout)
    for row in document["domains"] + document["users"]:
        for key in policy_of(row):
            del row[key]
    for fmt in ("json", "csv"):
        records, errors = fileformat.parse(json.dumps(document), "json")
        assert errors == []
        path = tmp_path / f"old.{fmt}"
        path.write_text(fileformat.render(records, fmt))
        before = maria.dump(policy=True)
        assert maria("import", str(path)).stdout.splitlines() == [
            "domains: 0 created, 0 updated, 3 unchanged",
            "users: 0 created, 0 updated, 3 unchanged",
            "aliases: 0 created, 0 updated, 12 unchanged",
        ]
        assert maria.dump(policy=True) == before


def _limited(m: Mailctl) -> None:
    """example.nl (postmaster@, abuse@ and its two report addresses: 4 aliases) with joe@
    and every limit."""
    m("domain", "add", "example.nl")
    m("user", "add", "joe@example.nl", "--password-stdin", input="correct horse battery\n")
    m("domain", "set", "example.nl", "--max-users", "3", "--max-aliases", "6",
      "--max-quota", "1G", "--default-quota", "100M")


def _users(domain: str, count: int, quota: str | None = None) -> list[UserRecord]:
    return [UserRecord(f"u{i}@{domain}", HASH, quota=quota) for i in range(count)]


LIMITS = [
    # (id, the file, the one line that refuses it)
    ("max-users", Document(users=_users("example.nl", 3)),
     "example.nl has 1 of its max-users 3: the import would add 3; nothing was imported"
     " (raise it: mailctl domain set example.nl --max-users N, or max_users in the file's"
     " row for example.nl)"),
    ("max-users-the-file-sets", Document(
        domains=[DomainRecord("new.example", max_users="1")], users=_users("new.example", 2)),
     "new.example has 0 of its max-users 1: the import would add 2; nothing was imported"),
    ("max-users-the-file-lowers", Document(
        domains=[DomainRecord("example.nl", max_users="1")], users=_users("example.nl", 1)),
     "example.nl has 1 of its max-users 1: the import would add 1"),
    ("max-aliases", Document(aliases=[
        AliasRecord(f"a{i}@example.nl", ("joe@example.nl",)) for i in range(3)]),
     "example.nl has 4 of its max-aliases 6: the import would add 3; nothing was imported"),
    ("max-quota", Document(users=_users("example.nl", 1, quota="2G")),
     "u0@example.nl: quota 2G exceeds the domain's max-quota 1G (example.nl);"
     " nothing was imported"),
    ("max-quota-unlimited", Document(users=_users("example.nl", 1, quota="unlimited")),
     "u0@example.nl: quota unlimited exceeds the domain's max-quota 1G (example.nl)"),
    ("max-quota-the-file-lowers", Document(
        domains=[DomainRecord("example.nl", max_quota="50M", default_quota="none")],
        users=_users("example.nl", 1)),
     "u0@example.nl: quota the domain's default exceeds the domain's max-quota 50M (example.nl)"),
    ("quota-of-an-existing-user", Document(users=[UserRecord("joe@example.nl", HASH,
                                                             quota="3G")]),
     "joe@example.nl: quota 3G exceeds the domain's max-quota 1G (example.nl)"),
]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
@pytest.mark.parametrize(
    ("document", "says"), [pytest.param(*case[1:], id=case[0]) for case in LIMITS]
)
def test_an_import_past_a_domain_limit_is_refused_whole(
    maria: Mailctl, tmp_path: Path, fmt: str, document: Document, says: str
) -> None:
    _limited(maria)
    path = tmp_path / f"import.{fmt}"
    path.write_text(fileformat.render(document, fmt))
    before, files = maria.dump(policy=True), snapshot(maria.root)
    for dry in ((), ("--dry-run",)):
        result = maria("import", str(path), *dry, code=1)
        [line] = result.stderr.splitlines()
        assert line.startswith("mailctl: error: ") and says in line, result.stderr
        assert result.stdout == ""
        assert maria.dump(policy=True) == before
        assert snapshot(maria.root) == files


def test_limits_count_the_whole_file_and_its_own_limits(maria: Mailctl, tmp_path: Path) -> None:
    _limited(maria)
    path = tmp_path / "import.csv"
    # Two more mailboxes fit max-users 3; a quota at max-quota fits; a row that
    # lifts the limit lets any number in.
    fits = Document(users=[*_users("example.nl", 1), UserRecord("big@example.nl", HASH,
                                                                 quota="1G")])
    path.write_text(fileformat.render(fits, "csv"))
    assert maria("import", str(path)).stdout.splitlines()[1] == (
        "users: 2 created, 0 updated, 0 unchanged"
    )
    lifted = Document(domains=[DomainRecord("example.nl", max_users="none")],
                      users=_users("example.nl", 5))
    path.write_text(fileformat.render(lifted, "csv"))
    assert maria("import", str(path)).stdout.splitlines()[:2] == [
        "domains: 0 created, 1 updated, 0 unchanged",
        "users: 4 created, 0 updated, 1 unchanged",
    ]
    # Over a limit set below what the domain has: a file that adds nothing still imports.
    maria("domain", "set", "example.nl", "--max-users", "2")
    path.write_text(fileformat.render(Document(users=_users("example.nl", 5)), "csv"))
    assert maria("import", str(path)).stdout.splitlines()[1] == (
        "users: 0 created, 0 updated, 5 unchanged"
    )


def test_a_new_domain_from_a_file_gets_its_report_addresses(lite: Mailctl, tmp_path: Path) -> None:
    """As with `domain add`: the file's own aliases first; a report address they leave
    unreceived gets an alias to server.admin_email."""
    path = tmp_path / "new.json"
    document = Document(
        domains=[DomainRecord("new.example")],
        aliases=[AliasRecord("dmarc-reports@new.example", ("dmarc@example.org",))],
    )
    path.write_text(fileformat.render(document, "json"))
    lite("import", str(path))
    rows = dict(lite.query("SELECT source, destination FROM virtual_aliases"))
    assert rows == {
        "dmarc-reports@new.example": "dmarc@example.org",  # the file's, kept
        "tls-report@new.example": "admin@example.nl",  # the one it lacked
    }
