"""Shell completion: the scripts in completions/, dynamic completion of domains
and addresses from the database, and a --help that loads no heavy library."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.shell_completion import BashComplete
from click.testing import CliRunner
from support.cli import Mailctl, make_mailctl
from support.env import REPO_ROOT
from support.galera import free_ports

from mailctl.cli.root import cli

SCRIPTS = {"bash": "mailctl.bash", "zsh": "_mailctl", "fish": "mailctl.fish"}
# idna: the config schema (names) loads it; a TAB press or --help must not.
HEAVY = ("sqlalchemy", "cryptography", "dns", "alembic", "passlib", "idna")


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_completion_scripts_in_the_repository_are_current(shell: str) -> None:
    printed = CliRunner().invoke(cli, ["completion", shell])
    assert printed.exit_code == 0, printed.output
    checked_in = (REPO_ROOT / "completions" / SCRIPTS[shell]).read_text()
    assert printed.stdout == checked_in, (
        f"completions/{SCRIPTS[shell]} is stale: mailctl completion {shell}"
        f" > completions/{SCRIPTS[shell]}"
    )


@pytest.fixture
def populated(mailctl: Mailctl) -> Mailctl:
    mailctl("domain", "add", "example.nl", "example.org")
    for email in ("joe@example.nl", "jane@example.org", "j_x@example.nl"):
        mailctl("user", "add", email, "--password-stdin", input="correct horse battery\n")
    mailctl("alias", "add", "info@example.nl", "joe@example.nl")
    return mailctl


def complete(m: Mailctl, args: list[str], incomplete: str) -> list[str]:
    completer = BashComplete(cli, {}, "mailctl", "_MAILCTL_COMPLETE")
    items = completer.get_completions(["--config", str(m.config), *args], incomplete)
    return [item.value for item in items]


def test_domains_and_addresses_complete_from_the_database(populated: Mailctl) -> None:
    assert complete(populated, ["domain", "show"], "exa") == ["example.nl", "example.org"]
    assert complete(populated, ["domain", "del"], "EXAMPLE.O") == ["example.org"]
    assert complete(populated, ["user", "list"], "example.n") == ["example.nl"]
    assert complete(populated, ["alias", "list"], "") == ["example.nl", "example.org"]
    # "_" and "%" are literal characters, not LIKE wildcards.
    assert complete(populated, ["user", "show"], "j_") == ["j_x@example.nl"]
    assert complete(populated, ["domain", "show"], "%") == []
    assert complete(populated, ["user", "passwd"], "j") == [
        "j_x@example.nl",
        "jane@example.org",
        "joe@example.nl",
    ]
    assert complete(populated, ["user", "del"], "joe@") == ["joe@example.nl"]
    assert complete(populated, ["alias", "del"], "") == [
        "abuse@example.nl",
        "abuse@example.org",
        "dmarc-reports@example.nl",
        "dmarc-reports@example.org",
        "info@example.nl",
        "postmaster@example.nl",
        "postmaster@example.org",
        "tls-report@example.nl",
        "tls-report@example.org",
    ]
    assert complete(populated, ["alias", "add", "info@example.nl"], "jo") == ["joe@example.nl"]
    assert complete(populated, ["alias", "add"], "i") == ["info@example.nl"]


def test_host_names_complete_from_the_hosts_that_synced(populated: Mailctl) -> None:
    assert complete(populated, ["host", "del"], "") == []  # nothing has synced yet
    populated.reconfigure(host={"name": "mx1.example.nl"})
    populated("sync")
    populated.reconfigure(host={"name": "imap1.example.nl"})
    populated("sync")
    assert complete(populated, ["host", "del"], "") == ["imap1.example.nl", "mx1.example.nl"]
    assert complete(populated, ["host", "del"], "mx") == ["mx1.example.nl"]


def test_completion_is_empty_not_an_error_without_a_database(tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    down = Mailctl.create(tmp_path / "down.toml", "mysql+pymysql://root@127.0.0.1:1/nothing", root)
    start = time.monotonic()
    assert complete(down, ["domain", "show"], "") == []
    missing = Mailctl.create(
        tmp_path / "missing.toml", f"sqlite:///{tmp_path / 'none.sqlite3'}", root
    )
    assert complete(missing, ["user", "del"], "") == []
    assert not (tmp_path / "none.sqlite3").exists()  # completion never creates a database
    assert complete(Mailctl(tmp_path / "no-such-config.toml"), ["domain", "show"], "") == []
    assert time.monotonic() - start < 5


@pytest.mark.mariadb
def test_completion_asks_the_failover_servers_in_order(maria: Mailctl, tmp_path: Path) -> None:
    """The URL's server down, the first failover host down too: the next one answers."""
    maria("domain", "add", "example.nl")
    first, second = free_ports(2)
    url = maria.url.replace("127.0.0.1:3306", f"127.0.0.1:{first}")
    failover = {"failover": [f"127.0.0.1:{second}", "127.0.0.1:3306"]}
    maria.reconfigure(database={"url": url, **failover})
    assert complete(maria, ["domain", "show"], "ex") == ["example.nl"]
    maria.reconfigure(database={"url": url, "failover": [f"127.0.0.1:{second}"]})
    start = time.monotonic()
    assert complete(maria, ["domain", "show"], "ex") == []  # none answers: nothing, quietly
    assert time.monotonic() - start < 5


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """mailctl in a fresh interpreter; prints which heavy libraries it loaded."""
    code = (
        "import sys\n"
        "from mailctl.cli.root import cli\n"
        "sys.argv = ['mailctl', *sys.argv[1:]]\n"
        "try:\n"
        "    cli.main(prog_name='mailctl')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    # cwd: not the checkout, so the package under test is the installed one.
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["domain", "--help"],
        ["user", "--help"],
        ["alias", "--help"],
        ["import", "--help"],
        ["export", "--help"],
        ["completion", "bash"],
    ],
    ids=" ".join,
)
def test_help_loads_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    result = _run(args, {}, tmp_path)
    assert result.stdout
    assert "HEAVY=\n" in result.stderr, result.stderr


def test_tab_completion_loads_no_heavy_library(maria: Mailctl, tmp_path: Path) -> None:
    maria("domain", "add", "example.nl", "example.org")
    env = {
        "_MAILCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": "mailctl domain show example.o",
        "COMP_CWORD": "3",
        "MAILCTL_CONFIG": str(maria.config),
    }
    result = _run([], env, tmp_path)
    assert result.stdout == "plain,example.org\n"
    assert "HEAVY=\n" in result.stderr, result.stderr


def test_bash_script_completes_addresses_across_the_at_sign(
    sqlite_url: str, tmp_path: Path
) -> None:
    m = make_mailctl(sqlite_url, tmp_path, None)
    m("domain", "add", "example.nl")
    m("user", "add", "joe@example.nl", "--password-stdin", input="correct horse battery\n")
    script = REPO_ROOT / "completions" / "mailctl.bash"

    def tab(line: str, words: list[str]) -> list[str]:
        # bash splits COMP_WORDS at COMP_WORDBREAKS (@ among them), as set here.
        program = (
            f"source {script}\n"
            f"COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n"
            f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
            "_mailctl_completion mailctl\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        env = {
            **os.environ,
            "MAILCTL_CONFIG": str(m.config),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        done = subprocess.run(
            ["bash", "--norc", "-c", program],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=True,
        )
        return done.stdout.split()

    # Readline replaces the text from the "@" on (bash's rl_special_prefixes).
    assert tab("mailctl user del jo", ["mailctl", "user", "del", "jo"]) == ["joe@example.nl"]
    assert tab("mailctl user del joe@", ["mailctl", "user", "del", "joe", "@"]) == ["@example.nl"]
    assert tab("mailctl user del joe@ex", ["mailctl", "user", "del", "joe", "@", "ex"]) == [
        "@example.nl"
    ]
    assert tab("mailctl domain show ", ["mailctl", "domain", "show", ""]) == ["example.nl"]


def test_tab_in_an_interactive_bash(sqlite_url: str, tmp_path: Path) -> None:
    """The real thing: readline, the script from completions/, and mailctl."""
    m = make_mailctl(sqlite_url, tmp_path, None)
    m("domain", "add", "example.nl")
    m("user", "add", "joe@example.nl", "--password-stdin", input="correct horse battery\n")
    env = {
        **os.environ,
        "MAILCTL_CONFIG": str(m.config),
        "TERM": "dumb",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    primary, secondary = pty.openpty()
    bash = subprocess.Popen(
        ["bash", "--norc", "--noprofile", "-i"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    os.close(secondary)
    seen = b""

    def until(marker: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while marker not in seen:
            assert time.monotonic() < deadline, f"no {marker!r} in {seen!r}"
            if select.select([primary], [], [], 1)[0]:
                seen += os.read(primary, 4096)

    try:
        script = REPO_ROOT / "completions" / "mailctl.bash"
        # RE""ADY: the terminal's echo of the typed line itself must not match.
        os.write(primary, f'source {script}; echo RE""ADY\n'.encode())
        until(b"READY\r\n")
        for n, (typed, expected) in enumerate(
            (
                ("mailctl user show joe@ex", "mailctl user show joe@example.nl"),
                ("mailctl user show joe@", "mailctl user show joe@example.nl"),
                ("mailctl domain show exa", "mailctl domain show example.nl"),
            )
        ):
            seen = b""
            os.write(primary, f"{typed}\t".encode())
            until(b"example.nl ")
            # Back to the start of the line: the completed command becomes an echo.
            os.write(primary, f"\x01echo DONE{n} \n".encode())
            until(f"\r\nDONE{n} {expected}\r\n".encode())
    finally:
        bash.kill()
        bash.wait(timeout=30)
        os.close(primary)
