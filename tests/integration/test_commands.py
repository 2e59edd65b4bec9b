"""Every domain, user and alias command through the real CLI on each backend."""

from __future__ import annotations

import json

from support.cli import Mailctl

PW = "correct horse battery\n"


def test_domain_add_list_show_del(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "Example.NL", "bücher.example")
    out = json.loads(mailctl("domain", "list", "--format", "json").stdout)
    assert out == [
        {"domain": "example.nl", "unicode": "example.nl", "users": 0, "aliases": 4,
         "dkim": "mail", "tls": "pending"},
        {"domain": "xn--bcher-kva.example", "unicode": "bücher.example", "users": 0,
         "aliases": 4, "dkim": "mail", "tls": "pending"},
    ]
    shown = json.loads(mailctl("domain", "show", "BÜCHER.example", "-f", "json").stdout)
    assert shown["domain"] == "xn--bcher-kva.example"
    mailctl("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    # Without --yes and with "n" on stdin nothing is deleted.
    declined = mailctl("domain", "del", "example.nl", input="n\n", code=1)
    assert "1 user(s) and 4 alias(es)" in declined.stderr
    assert "aborted" in declined.stderr
    assert mailctl.query("SELECT name FROM virtual_domains WHERE name='example.nl'")
    mailctl("domain", "del", "example.nl", "--yes")
    assert mailctl.query("SELECT * FROM virtual_users") == []
    sources = {r[0] for r in mailctl.query("SELECT source FROM virtual_aliases")}
    assert sources == {
        f"{role}@xn--bcher-kva.example"
        for role in ("postmaster", "abuse", "dmarc-reports", "tls-report")
    }


def test_domain_add_creates_role_aliases_to_admin(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example2.nl")
    rows = mailctl.query("SELECT source, destination FROM virtual_aliases ORDER BY source")
    assert rows == [  # the role aliases, and the DMARC and TLS-RPT report addresses
        ("abuse@example2.nl", "admin@example.nl"),
        ("dmarc-reports@example2.nl", "admin@example.nl"),
        ("postmaster@example2.nl", "admin@example.nl"),
        ("tls-report@example2.nl", "admin@example.nl"),
    ]
    mailctl("domain", "add", "example3.nl", "--no-postmaster")
    assert len(mailctl.query("SELECT * FROM virtual_aliases")) == 4


def test_global_flags_work_before_and_after(mailctl: Mailctl) -> None:
    before = mailctl.dump()
    out = mailctl("--dry-run", "domain", "add", "example.nl")
    assert "INSERT INTO virtual_domains: example.nl" in out.stdout
    out = mailctl("domain", "add", "example.nl", "--dry-run")
    assert "INSERT INTO virtual_aliases: postmaster@example.nl" in out.stdout
    assert mailctl.dump() == before
    mailctl("domain", "add", "example.nl")
    mailctl("--yes", "domain", "del", "example.nl")
    mailctl("domain", "add", "example.nl")
    mailctl("domain", "del", "example.nl", "-y")
    assert mailctl.dump() == before


def test_user_lifecycle(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl")
    mailctl("user", "add", "Joe@Example.nl", "--password-stdin", input=PW)
    mailctl("user", "add", "ann@example.nl", "--password-stdin", "--scheme", "BLF-CRYPT",
            input=PW)
    users = json.loads(mailctl("user", "list", "-f", "json").stdout)
    fresh = {"status": "active", "quota": "unlimited", "used": "", "used_pct": "",
             "last_login": "never"}
    assert users == [
        {"email": "ann@example.nl", "domain": "example.nl", "scheme": "BLF-CRYPT", **fresh},
        {"email": "joe@example.nl", "domain": "example.nl", "scheme": "SHA512-CRYPT", **fresh},
    ]
    stored = mailctl.query("SELECT password FROM virtual_users WHERE email='joe@example.nl'")
    assert stored[0][0].startswith("{SHA512-CRYPT}$6$")
    assert "rounds=" not in stored[0][0]
    mailctl("user", "verify", "joe@example.nl", "--password-stdin", input=PW)
    wrong = mailctl("user", "verify", "joe@example.nl", "--password-stdin", input="nope\n",
                    code=1)
    assert "does not match" in wrong.stderr
    # passwd rehashes to the configured scheme: ann moves from BLF-CRYPT to SHA512-CRYPT.
    mailctl("user", "passwd", "ann@example.nl", "--password-stdin", input="another password 2\n")
    shown = json.loads(mailctl("user", "show", "ann@example.nl", "-f", "json").stdout)
    assert shown["scheme"] == "SHA512-CRYPT"
    mailctl("user", "verify", "ann@example.nl", "--password-stdin", input="another password 2\n")
    mailctl("user", "verify", "ann@example.nl", "--password-stdin", input=PW, code=1)
    mailctl("user", "del", "ann@example.nl", "--yes")
    assert [u["email"] for u in json.loads(mailctl("user", "list", "-f", "json").stdout)] == [
        "joe@example.nl"
    ]


def test_password_prompt_asks_twice(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl")
    mismatch = mailctl("user", "add", "a@example.nl", input="first password 1\nsecond pw 22\n",
                       code=1)
    assert mailctl.query("SELECT * FROM virtual_users") == []
    assert "aborted" in mismatch.stderr or "match" in mismatch.stderr
    mailctl("user", "add", "a@example.nl", input="first password 1\nfirst password 1\n")
    mailctl("user", "verify", "a@example.nl", input="first password 1\n")


def test_generated_password_is_printed_once_and_works(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl")
    out = mailctl("user", "add", "gen@example.nl", "--generate").stdout
    line = [ln for ln in out.splitlines() if ln.startswith("password for gen@example.nl: ")]
    assert len(line) == 1
    password = line[0].rpartition(": ")[2]
    assert len(password) >= 20
    mailctl("user", "verify", "gen@example.nl", "--password-stdin", input=password + "\n")


def test_user_list_of_one_domain_and_formats(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "a.example", "b.example", "--no-postmaster")
    mailctl("user", "add", "x@a.example", "--password-stdin", input=PW)
    mailctl("user", "add", "y@b.example", "--password-stdin", input=PW)
    assert mailctl("user", "list", "b.example", "-f", "plain").stdout == (
        "y@b.example\tb.example\tSHA512-CRYPT\tactive\tunlimited\t\t\tnever\n"
    )
    assert mailctl("user", "list", "a.example", "-f", "csv").stdout == (
        "email,domain,scheme,status,quota,used,used_pct,last_login\n"
        "x@a.example,a.example,SHA512-CRYPT,active,unlimited,,,never\n"
    )
    table = mailctl("user", "list", "-f", "table").stdout
    assert table.splitlines()[0].split() == [
        "email", "domain", "scheme", "status", "quota", "used", "used_pct", "last_login"
    ]


def test_alias_merge_and_partial_delete(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl", "--no-postmaster")
    mailctl("alias", "add", "info@example.nl", "a@example.org", "b@example.org")
    mailctl("alias", "add", "info@example.nl", "B@example.org", "c@example.org")
    rows = mailctl.query("SELECT source, destination FROM virtual_aliases")
    assert rows == [("info@example.nl", "a@example.org,b@example.org,c@example.org")]
    before = mailctl.dump()
    again = mailctl("alias", "add", "info@example.nl", "a@example.org", code=1)
    assert "info@example.nl already delivers to a@example.org" in again.stderr
    assert mailctl.dump() == before
    mailctl("alias", "del", "info@example.nl", "b@example.org")
    listed = json.loads(mailctl("alias", "list", "-f", "json").stdout)
    assert listed == [{"source": "info@example.nl",
                       "destinations": ["a@example.org", "c@example.org"]}]
    mailctl("alias", "del", "info@example.nl")
    assert mailctl.query("SELECT * FROM virtual_aliases") == []


def test_catchall_warns_about_shadowing(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl", "--no-postmaster")
    mailctl("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    out = mailctl("alias", "add", "@example.nl", "joe@example.nl")
    assert "catch-all @example.nl" in out.stderr
    assert "1 existing mailbox" in out.stderr
    later = mailctl("user", "add", "ann@example.nl", "--password-stdin", input=PW)
    assert "has a catch-all" in later.stderr


def test_alias_domain(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl", "example.net", "--no-postmaster")
    mailctl("alias", "add", "@example.net", "@example.nl")
    assert mailctl.query("SELECT source, destination FROM virtual_aliases") == [
        ("@example.net", "@example.nl")
    ]
    bad = mailctl("alias", "add", "@example.net", "x@example.org", code=1)
    assert "exactly one" in bad.stderr


def test_mailbox_alias_conflict_rule(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl", "--no-postmaster")
    mailctl("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    before = mailctl.dump()
    refused = mailctl("alias", "add", "joe@example.nl", "x@example.org", code=1)
    assert "joe@example.nl is a mailbox" in refused.stderr
    assert mailctl.dump() == before
    # Forward with a local copy is fine.
    mailctl("alias", "add", "joe@example.nl", "joe@example.nl", "x@example.org")
    # And --force overrides.
    mailctl("user", "add", "ann@example.nl", "--password-stdin", input=PW)
    mailctl("alias", "add", "ann@example.nl", "y@example.org", "--force")
    # A mailbox cannot be created where an alias without it is.
    mailctl("alias", "add", "sales@example.nl", "x@example.org")
    before = mailctl.dump()
    refused = mailctl("user", "add", "sales@example.nl", "--password-stdin", input=PW, code=1)
    assert "sales@example.nl is an alias" in refused.stderr
    assert mailctl.dump() == before


def test_user_del_warns_about_aliases_pointing_to_it(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl", "--no-postmaster")
    mailctl("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    mailctl("alias", "add", "info@example.nl", "joe@example.nl")
    out = mailctl("user", "del", "joe@example.nl", "--yes")
    assert "1 alias(es) still point to joe@example.nl: info@example.nl" in out.stderr


def test_db_status(mailctl: Mailctl) -> None:
    status = json.loads(mailctl("db", "status", "-f", "json").stdout)
    assert status["revision"] == status["head"]
    assert status["pending"] is False
    assert status["backend"] in ("mysql", "mariadb", "postgresql", "sqlite")


def test_user_del_drops_the_local_copy_from_its_forward(mailctl: Mailctl) -> None:
    mailctl("domain", "add", "example.nl", "--no-postmaster")
    mailctl("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    mailctl("alias", "add", "joe@example.nl", "joe@example.nl", "joe@example.org")
    mailctl("user", "del", "joe@example.nl", "--yes")
    assert mailctl.query("SELECT source, destination FROM virtual_aliases") == [
        ("joe@example.nl", "joe@example.org")
    ]


def test_trailing_flags_on_init_and_db_upgrade(mailctl: Mailctl, tmp_path: object) -> None:
    out = mailctl("db", "upgrade", "--dry-run")
    assert "already at" in out.stderr
    mailctl("db", "upgrade", "--yes")


def test_warnings_an_administrator_should_see(lite: Mailctl) -> None:
    """Allowed, but said: a look-alike IDN, an alias loop, a kept maildir re-used."""
    out = lite("domain", "add", "pаypal.com")  # Cyrillic а
    assert "mixes CYRILLIC and LATIN letters in one label" in out.stderr
    assert "homoglyph" not in lite("domain", "add", "bücher.example").stderr
    lite("domain", "add", "example.nl")
    lite("alias", "add", "a@example.nl", "b@example.nl")
    out = lite("alias", "add", "b@example.nl", "a@example.nl")
    assert "alias loop: b@example.nl -> a@example.nl -> b@example.nl" in out.stderr
    lite("domain", "add", "example.org")
    lite("alias", "add", "@example.nl", "@example.org")
    out = lite("alias", "add", "@example.org", "@example.nl")
    assert "alias loop: @example.org -> @example.nl -> @example.org" in out.stderr
    lite("user", "add", "joe@example.org", "--password-stdin", input="a good long password\n")
    lite("user", "del", "joe@example.org", "--yes")  # the maildir is kept
    out = lite("user", "add", "joe@example.org", "--password-stdin",
               input="another long password\n")
    assert "exists already (kept from a deleted mailbox?)" in out.stderr
