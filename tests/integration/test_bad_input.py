"""Bad input: one clear line on stderr naming the value, exit 1 (2 for usage),
and the three tables exactly as before."""

from __future__ import annotations

import json

import pytest
from support.cli import Mailctl
from support.files import snapshot

PW = "a good long password\n"


@pytest.fixture
def populated(maria: Mailctl) -> Mailctl:
    maria("domain", "add", "example.nl")
    maria("user", "add", "joe@example.nl", "--password-stdin", input=PW)
    maria("alias", "add", "info@example.nl", "joe@example.nl")
    return maria


CASES = [
    # (id, argv, stdin, exit code, text the one-line message must contain)
    ("bad-syntax", ["domain", "add", "exa mple.nl"], None, 1, "'exa mple.nl'"),
    ("dotdot", ["domain", "add", "../x"], None, 1, "'../x'"),
    ("slash", ["domain", "add", "a/b"], None, 1, "'a/b'"),
    ("long-label", ["domain", "add", "x" * 64 + ".nl"], None, 1, "label of 64 characters"),
    ("long-name", ["domain", "add", ".".join(["a" * 60] * 5)], None, 1, "304 characters"),
    ("one-bad-of-two", ["domain", "add", "good.nl", "bad_one.nl"], None, 1, "'bad_one.nl'"),
    ("dup-domain", ["domain", "add", "Example.NL"], None, 1, "example.nl exists already"),
    ("dup-user", ["user", "add", "joe@example.nl", "--password-stdin"], PW, 1,
     "joe@example.nl exists already"),
    ("dup-alias", ["alias", "add", "info@example.nl", "joe@example.nl"], None, 1,
     "info@example.nl already delivers to joe@example.nl"),
    ("unhosted-user", ["user", "add", "x@example.org", "--password-stdin"], PW, 1,
     "domain example.org is not hosted"),
    ("unhosted-alias", ["alias", "add", "x@example.org", "joe@example.nl"], None, 1,
     "domain example.org is not hosted"),
    ("unknown-user-del", ["user", "del", "nobody@example.nl", "--yes"], None, 1,
     "nobody@example.nl does not exist"),
    ("unknown-user-passwd", ["user", "passwd", "nobody@example.nl", "--password-stdin"], PW, 1,
     "nobody@example.nl does not exist"),
    ("unknown-alias", ["alias", "del", "sales@example.nl"], None, 1,
     "sales@example.nl does not exist"),
    ("unknown-alias-dest", ["alias", "del", "info@example.nl", "ann@example.nl"], None, 1,
     "no destination ann@example.nl"),
    ("unknown-domain-del", ["domain", "del", "example.org", "--yes"], None, 1,
     "example.org is not hosted"),
    ("empty-password", ["user", "add", "ann@example.nl", "--password-stdin"], "\n", 1,
     "empty password"),
    ("short-password", ["user", "add", "ann@example.nl", "--password-stdin"], "short\n", 1,
     "at least 12 required"),
    ("bcrypt-72", ["user", "add", "ann@example.nl", "--password-stdin", "--scheme",
                   "BLF-CRYPT"], "é" * 40 + "\n", 1, "72 bytes"),
    ("conflict", ["alias", "add", "joe@example.nl", "x@example.org"], None, 1,
     "joe@example.nl is a mailbox"),
    ("bad-destination", ["alias", "add", "sales@example.nl", "not-an-address"], None, 1,
     "'not-an-address'"),
    ("bad-destination-2", ["alias", "add", "sales@example.nl", "x@exa mple.org"], None, 1,
     "'x@exa mple.org'"),
    ("bad-user-address", ["user", "add", "a/b@example.nl", "--password-stdin"], PW, 1,
     "'a/b@example.nl'"),
    ("both-sources", ["user", "add", "ann@example.nl", "--password-stdin", "--generate"], PW,
     2, "either --password-stdin or --generate"),
    ("bad-scheme", ["user", "add", "ann@example.nl", "--scheme", "MD5"], None, 2, "MD5"),
    ("no-args", ["alias", "add", "sales@example.nl"], None, 2, "DEST"),
    ("unknown-host-del", ["host", "del", "mx9.example.nl", "--yes"], None, 1,
     "no host 'mx9.example.nl' in mailctl_hosts"),
    ("bad-host-del", ["host", "del", "mx 9", "--yes"], None, 1, "invalid host name"),
    ("no-host-name", ["host", "del"], None, 2, "NAME"),
]


@pytest.mark.parametrize(("argv", "stdin", "code", "text"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_changes_nothing(
    populated: Mailctl, argv: list[str], stdin: str | None, code: int, text: str
) -> None:
    before = populated.dump()
    files_before = snapshot(populated.root)
    result = populated(*argv, input=stdin, code=code)
    assert text in result.stderr
    if code == 1:
        lines = [ln for ln in result.stderr.splitlines() if ln.startswith("mailctl: error:")]
        assert len(lines) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert populated.dump() == before
    assert snapshot(populated.root) == files_before


def test_unreachable_database_is_one_line(tmp_path: object) -> None:
    from click.testing import CliRunner

    from mailctl.cli.root import cli

    result = CliRunner().invoke(
        cli, ["--db", "mysql+pymysql://nobody:secret@127.0.0.1:1/none", "domain", "list"]
    )
    assert result.exit_code == 1
    assert result.stderr.count("mailctl: error:") == 1
    assert "secret" not in result.stderr
    assert "127.0.0.1" in result.stderr


def test_debug_shows_the_traceback(maria: Mailctl) -> None:
    result = maria("--debug", "domain", "add", "../x", code=1)
    assert isinstance(result.exception, Exception)
    assert "invalid domain" in str(result.exception)


def test_a_confirmation_at_end_of_input_is_one_error_line(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    before = lite.dump()
    out = lite("domain", "del", "example.nl", input="", code=1)
    assert out.stderr.strip().splitlines()[-1] == (
        "mailctl: error: no answer (end of input); nothing was changed"
    )
    assert "Aborted!" not in out.output and lite.dump() == before


def test_a_failure_after_the_commit_says_so_and_exits_3(lite: Mailctl) -> None:
    """A maildir that cannot be made once the row is committed: the user exists, its
    generated password is shown, and the exit code tells a script it is half done."""
    lite("domain", "add", "example.nl")
    (lite.root / "vmail").write_text("a file where the maildir root should be\n")
    out = lite("user", "add", "joe@example.nl", "--generate", code=3)
    assert out.stdout.startswith("password for joe@example.nl: ")
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("mailctl: error: changes are saved, but cannot create maildir")
    assert [r[0] for r in lite.query("SELECT email FROM virtual_users")] == ["joe@example.nl"]
    lite.reconfigure(commands={"reload_postfix": ["false"]})
    out = lite("domain", "add", "example2.nl", code=3)
    assert "changes are saved, but reload: false failed" in out.stderr
    assert ("example2.nl",) in lite.query("SELECT name FROM virtual_domains")


def test_a_domain_too_long_for_its_records_is_refused(lite: Mailctl) -> None:
    """253 characters is a valid name, but mail20261201._domainkey.<it> is not."""
    long = ("a" * 63 + ".") * 3 + "b" * 57 + ".nl"
    assert len(long) == 252
    before, files = lite.dump(), snapshot(lite.root)
    out = lite("domain", "add", long, code=1)
    assert "is too long for its DNS records" in out.stderr and "DNS allows 253" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert lite.dump() == before and snapshot(lite.root) == files
    shorter = ("a" * 60 + ".") * 2 + "b" * 60 + ".nl"  # 186: every derived name fits
    lite("domain", "add", shorter)


def test_a_managed_file_that_is_not_utf8_is_one_line_and_left_alone(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    table = lite.root / "KeyTable"
    table.write_bytes(table.read_bytes() + b"# caf\xe9 (latin-1 by hand)\n")
    before, files = lite.dump(), snapshot(lite.root)
    out = lite("domain", "add", "example2.nl", code=1)
    at = table.read_bytes().index(b"\xe9")
    assert out.stderr.strip() == (
        f"mailctl: error: {table} is not UTF-8 (byte {at});"
        " mailctl leaves it alone: fix or move it"
    )
    assert lite.dump() == before and snapshot(lite.root) == files


def test_one_bad_row_in_a_hand_made_database_stops_nothing_else(lite: Mailctl) -> None:
    """An adopted database may hold anything: 'bad domain.nl' is named, left out of the
    managed files, and removable by its exact stored name; other domains go on."""
    lite("domain", "add", "example.nl")
    lite.execute("INSERT INTO virtual_domains (name) VALUES ('bad domain.nl')")
    out = lite("sync")
    assert "virtual_domains holds 'bad domain.nl', which is no domain name" in out.stderr
    lite("domain", "add", "example2.nl")
    assert "example2.nl" in (lite.root / "KeyTable").read_text()
    rows = json.loads(lite("doctor", "-f", "json", code=1).stdout)
    assert [r["status"] for r in rows if r["check"] == "domain row"] == ["FAIL"]
    lite("domain", "del", "bad domain.nl", "--yes")
    assert lite.query("SELECT name FROM virtual_domains WHERE name = 'bad domain.nl'") == []
    lite("domain", "del", "example2.nl", "--yes")


def test_a_fifo_where_a_file_should_be_is_named_not_waited_on(lite: Mailctl) -> None:
    """Opening a FIFO blocks until a writer comes: mailctl refuses it instead (run in a
    subprocess with a timeout, so a regression fails instead of hanging the suite)."""
    import os
    import subprocess
    import sys

    lite("domain", "add", "example.nl")
    (lite.root / "KeyTable").unlink()
    os.mkfifo(lite.root / "KeyTable")
    certs = lite.root / "certs" / "example2.nl"
    certs.mkdir(parents=True)
    os.mkfifo(certs / "fullchain.pem")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCTL_")}
    done = subprocess.run(
        [sys.executable, "-m", "mailctl", "--config", str(lite.config), "domain", "add",
         "example2.nl"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"mailctl: error: {lite.root / 'KeyTable'} is not a regular file (a FIFO or device?)"
    )
    (lite.root / "KeyTable").unlink()
    status = json.loads(lite("domain", "show", "example.nl", "-f", "json").stdout)
    assert status["tls"] == "pending"
    lite("domain", "add", "example2.nl")
    shown = json.loads(lite("domain", "show", "example2.nl", "-f", "json").stdout)
    assert "is not a regular file" in shown["tls_detail"]
