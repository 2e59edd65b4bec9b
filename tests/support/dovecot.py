"""A private Dovecot 2.3 master on loopback that reads what `setup render` wrote, and
the Dovecot 2.4 of a Debian trixie chroot (FACTS.md) for the 2.4 syntax.

`PrivateDovecot` lives in a 0755 directory under /run (its mail processes run as
an unprivileged uid that must walk the path), takes its own base_dir, state_dir,
log and instance name, and is stopped by PID, waiting until /proc says it is
gone (PID 1 here reaps slowly). Dovecot keeps the caller's stderr open, so it
starts with its output in a file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.env import need, program

# Where scripts/test builds the chroot: `debootstrap --variant=minbase
# --include=dovecot-core,... trixie DIR` (Dovecot 2.4.1).
DOVECOT24_ROOT = Path(os.environ.get("MAILCTL_DOVECOT24_ROOT", "/var/cache/mailctl-test/dovecot24"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def running(pid: int) -> bool:
    """Alive per /proc/PID/stat (a zombie or a vanished entry counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return fields[0] not in ("Z", "X")


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


@contextlib.contextmanager
def private_run_dir(prefix: str) -> Iterator[Path]:
    """A 0755 directory under /run, removed afterwards."""
    need(os.geteuid() == 0, "a private Dovecot runs as root (it switches to the mail uid)")
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/run"))
    os.chmod(root, 0o755)  # noqa: S103 - Dovecot's unprivileged processes walk it
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class PrivateDovecot:
    """`dovecot -c CONF` and `doveadm -c CONF` on a config under `root`."""

    root: Path
    conf: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "run" / "master.pid"

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    def start(self) -> None:
        out = self.root / "dovecot.out"
        with out.open("wb") as sink:
            started = subprocess.run(  # noqa: S603 - argv list
                [program("dovecot"), "-c", str(self.conf)],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                check=False, timeout=30,
            )
        assert started.returncode == 0, (
            f"dovecot exited {started.returncode}: {out.read_text(errors='replace')}"
        )
        wait_for(self.pid_file.exists, "dovecot's master.pid")
        wait_for(lambda: (self.root / "run" / "auth-userdb").exists(), "dovecot auth socket")

    def stop(self) -> None:
        if not self.pid_file.exists():
            return
        pid = int(self.pid_file.read_text().split()[0])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
        try:
            wait_for(lambda: not running(pid), f"dovecot master {pid} to stop", 15)
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            wait_for(lambda: not running(pid), f"dovecot master {pid} to die", 5)

    def doveadm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - argv list
            [program("doveadm"), "-c", str(self.conf), *args],
            capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL,
        )

    def auth_ok(self, user: str, password: str, service: str) -> bool:
        """`doveadm auth test -x service=SERVICE`: the passdb's answer for that service."""
        done = self.doveadm("auth", "test", "-x", f"service={service}", user, password)
        assert done.returncode in (0, 77), f"doveadm auth test: {done.returncode} {done.stderr}"
        return done.returncode == 0

    def user_fields(self, user: str) -> dict[str, str] | None:
        """`doveadm user USER`: the userdb's fields, None when there is no such user."""
        done = self.doveadm("user", user)
        if done.returncode == 67:  # EX_NOUSER
            return None
        assert done.returncode == 0, f"doveadm user {user}: {done.returncode} {done.stderr}"
        fields = {}
        for line in done.stdout.splitlines()[1:]:
            name, _, value = line.strip().partition("\t")
            fields[name.strip()] = value.strip()
        return fields
