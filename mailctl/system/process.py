"""The only module that starts programs: argv lists, never a shell, a timeout,
and one clear error line when a program fails or is missing."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from mailctl.errors import MailctlError

SBIN = "/usr/local/sbin:/usr/sbin:/sbin"


class CommandFailed(MailctlError):
    """An external program exited non-zero, timed out or is missing."""


@dataclass(frozen=True)
class Ran:
    """A finished program: its exit code and output."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def describe(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def find_program(name: str) -> str | None:
    """PATH first, then the sbin directories a non-root PATH often lacks."""
    return shutil.which(name) or shutil.which(name, path=SBIN)


# Postfix programs read main.cf from `-c DIR`, else $MAIL_CONFIG, else this.
POSTFIX_CONFIG_DIR = "/etc/postfix"
POSTFIX_PROGRAMS = frozenset({"postmap", "postconf", "postfix", "postalias", "postsuper"})


def postfix_config_dir(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str | None:
    """The configuration directory the Postfix program in argv reads; None for
    any other program."""
    if not argv or os.path.basename(argv[0]) not in POSTFIX_PROGRAMS:
        return None
    args = list(argv[1:])
    if "-c" in args and args.index("-c") + 1 < len(args):
        return args[args.index("-c") + 1]
    env = os.environ if env is None else env
    return env.get("MAIL_CONFIG") or POSTFIX_CONFIG_DIR


def unconfigured_postfix(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str | None:
    """Why the Postfix program in argv cannot run: an installed Postfix without a
    main.cf ("No configuration" in Debian's installer). None if it can, or if
    argv is no Postfix program."""
    directory = postfix_config_dir(argv, env)
    if directory is None:
        return None
    main_cf = os.path.join(directory, "main.cf")
    if os.path.isfile(main_cf):
        return None
    return f"Postfix is not configured: {main_cf} does not exist"


def run(
    argv: Sequence[str], *, timeout: float = 120, what: str = "", ok: Collection[int] = (0,)
) -> Ran:
    """Run argv; raise CommandFailed with the program's first error line when it exits
    with a code not in `ok` (some programs say "nothing to do" with a code of their own)."""
    if not argv:
        raise CommandFailed(f"{what or 'command'}: empty command")
    program = find_program(argv[0]) if "/" not in argv[0] else argv[0]
    label = f"{what}: " if what else ""
    if program is None:
        raise CommandFailed(f"{label}program {argv[0]!r} not found")
    try:
        done = subprocess.run(  # noqa: S603 - argv list from the config, no shell
            [program, *argv[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"{label}{describe(argv)} timed out after {timeout:g}s") from None
    except OSError as exc:
        raise CommandFailed(f"{label}cannot run {describe(argv)}: {exc.strerror}") from None
    ran = Ran(tuple(argv), done.returncode, done.stdout, done.stderr)
    if done.returncode not in ok:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        first = detail[0] if detail else "no output"
        raise CommandFailed(f"{label}{describe(argv)} failed (exit {done.returncode}): {first}")
    return ran
