"""A private network for a test: a new network namespace with only its loopback.

The web proofs need what a real server has: nginx on port 443 and a DNS server
on port 53, which an independent client (checkdmarc) reaches by the names the
zone gives. On the machine's own loopback those ports may be taken, and
`listen [::]:443` would bind every address. Inside a network namespace of its
own the test thread has 127.0.0.1 and ::1 to itself; every process it starts
(named, nginx, checkdmarc) inherits that network, and leaving it puts the thread
back where it was (the namespace goes with its last process). Needs root.

`with_resolver()` runs a program that also sees a private /etc/resolv.conf (a
mount namespace of its own, bind-mounted; the real file is not touched), so
its getaddrinfo() asks the test's DNS server.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.env import program

CLONE_NEWNET = 0x40000000  # <sched.h>
_LIBC = ctypes.CDLL(None, use_errno=True)

# Run inside `unshare --mount`: bind the given file over /etc/resolv.conf, then
# become the program (argv after the file).
_WITH_RESOLVER = (
    "import os, subprocess, sys\n"
    "subprocess.run(['mount', '--bind', sys.argv[1], '/etc/resolv.conf'], check=True)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


@contextmanager
def private_network() -> Iterator[None]:
    """The calling thread in a new network namespace, its loopback up, for the block."""
    ip = program("ip")
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_LIBC.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        try:
            subprocess.run([ip, "link", "set", "lo", "up"], check=True)
            yield
        finally:
            _check(_LIBC.setns(home, CLONE_NEWNET), "setns back to the host's network")
    finally:
        os.close(home)


def with_resolver(resolv_conf: Path, argv: list[str]) -> list[str]:
    """`argv` run with `resolv_conf` as its /etc/resolv.conf (nothing else changed)."""
    return [
        program("unshare"),
        "--mount",
        "--propagation",
        "private",
        "--",
        sys.executable,
        "-c",
        _WITH_RESOLVER,
        str(resolv_conf),
        *argv,
    ]
