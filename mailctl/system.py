"""The only module that starts programs: argv lists, never a shell, a timeout,
and one clear error line when a program fails or is missing."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from mailctl.errors import MailctlError

SBIN = "/usr/local/sbin:/usr/sbin:/sbin"


class CommandFailed(MailctlError):
    """An external program exited non-zero, timed out or is missing."""


@dataclass(frozen=True)
class Ran:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def describe(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def find_program(name: str) -> str | None:
    """PATH first, then the sbin directories a non-root PATH often lacks."""
    return shutil.which(name) or shutil.which(name, path=SBIN)


def run(argv: Sequence[str], *, timeout: float = 120, what: str = "") -> Ran:
    """Run argv; raise CommandFailed with the program's first error line on failure."""
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
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        first = detail[0] if detail else "no output"
        raise CommandFailed(f"{label}{describe(argv)} failed (exit {done.returncode}): {first}")
    return ran
