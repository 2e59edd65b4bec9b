"""Private configuration for every Postfix and Dovecot program a test runs.

A fresh Debian machine has no /etc/postfix/main.cf (postfix installs with "No
configuration"), and the suite must never read or write /etc/postfix,
/etc/dovecot or /etc/opendkim. So each Postfix program gets `-c DIR` with a
main.cf the tests wrote, and each Dovecot program `-c FILE`.
`system_config_problem()` is the guard that every test config and every
direct call goes through.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.env import program

SYSTEM_CONFIG_DIRS = ("/etc/postfix", "/etc/dovecot", "/etc/opendkim", "/etc/opendkim.conf")
# Programs that read a config directory (Postfix) or file (Dovecot) unless told
# otherwise with -c.
POSTFIX_PROGRAMS = frozenset({"postmap", "postconf", "postfix", "postalias", "postsuper"})
DOVECOT_PROGRAMS = frozenset({"doveadm", "doveconf", "dovecot"})


def system_config_problem(argv: Sequence[str]) -> str | None:
    """Why argv would read the system's mail configuration, or None if it is private."""
    if not argv:
        return None
    argv = [os.fsdecode(a) for a in argv]
    name = os.path.basename(argv[0])
    if argv[1:] == ["--version"]:
        return None  # `dovecot --version` reads no configuration
    for arg in argv[1:]:
        if any(arg == d or arg.startswith(d + "/") for d in SYSTEM_CONFIG_DIRS):
            return f"{' '.join(argv)}: names the system configuration {arg}"
    if name in POSTFIX_PROGRAMS | DOVECOT_PROGRAMS:
        args = list(argv[1:])
        if "-c" not in args or args.index("-c") + 1 >= len(args):
            default = "/etc/postfix" if name in POSTFIX_PROGRAMS else "/etc/dovecot"
            return f"{' '.join(argv)}: no -c, so {name} reads {default}"
    return None


@dataclass(frozen=True)
class MailConfig:
    """A private Postfix config directory and Dovecot config file, with the argv
    prefixes that use them."""

    postfix_dir: Path
    dovecot_conf: Path

    def postfix(self, name: str) -> list[str]:
        """`postmap -c DIR`, `postconf -c DIR`, ...: a Postfix program on the private main.cf."""
        assert name in POSTFIX_PROGRAMS, name
        return [program(name), "-c", str(self.postfix_dir)]

    def dovecot(self, name: str) -> list[str]:
        """`doveadm -c FILE`, `doveconf -c FILE`: a Dovecot program on the private config."""
        assert name in DOVECOT_PROGRAMS, name
        return [program(name), "-c", str(self.dovecot_conf)]

    def postmap_query(self, key: str, table: str, *flags: str) -> str | None:
        """`postmap [flags] -q KEY TABLE` on the private main.cf: the value, None if absent."""
        done = subprocess.run(  # noqa: S603 - argv list
            [*self.postmap, *flags, "-q", key, table],
            capture_output=True, text=True, timeout=30, check=False,
        )
        if done.returncode == 1 and not done.stdout:
            return None
        assert done.returncode == 0, f"postmap -q {key} {table}: {done.stderr}"
        return done.stdout.rstrip("\n")

    def password_verifies(self, stored: str, password: str) -> bool:
        """`doveadm pw -t STORED -p PASSWORD` on the private dovecot.conf."""
        done = subprocess.run(  # noqa: S603 - argv list
            [*self.doveadm, "pw", "-t", stored, "-p", password],
            capture_output=True, text=True, timeout=30, check=False,
        )
        return done.returncode == 0 and "(verified)" in done.stdout

    @property
    def postmap(self) -> list[str]:
        return self.postfix("postmap")

    @property
    def doveadm(self) -> list[str]:
        return self.dovecot("doveadm")


def private_mail_config(directory: Path) -> MailConfig:
    """Create (or reuse) the private configuration under `directory`."""
    postfix_dir = directory / "postfix-etc"
    postfix_dir.mkdir(parents=True, exist_ok=True)
    main_cf = postfix_dir / "main.cf"
    if not main_cf.exists():
        # postmap and postconf need only a readable main.cf; the defaults do the rest.
        main_cf.write_text(
            "# private main.cf of the mailctl test suite\ncompatibility_level = 3.6\n"
        )
    dovecot_dir = directory / "dovecot-etc"
    dovecot_dir.mkdir(parents=True, exist_ok=True)
    dovecot_conf = dovecot_dir / "dovecot.conf"
    if not dovecot_conf.exists():
        dovecot_conf.write_text(
            "# private dovecot.conf of the mailctl test suite (doveadm pw needs no more)\n"
            f"base_dir = {dovecot_dir / 'run'}\n"
        )
    return MailConfig(postfix_dir, dovecot_conf)


class GuardedPopen(subprocess.Popen):  # type: ignore[type-arg]
    """subprocess.Popen that refuses to start a Postfix or Dovecot program on the
    system's configuration: installed for the whole test session (tests/conftest.py),
    so it sees the tests' own calls and every program mailctl runs in process."""

    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        if isinstance(args, (list, tuple)):
            problem = system_config_problem(args)
            if problem is not None:
                raise AssertionError(f"the test suite must not use the system's config: {problem}")
        super().__init__(args, *rest, **kwargs)
