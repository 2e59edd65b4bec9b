"""The package tier's helpers: running system programs as an administrator would."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

# pip's cache for both the .deb's venv and pipx, whatever HOME a test runs with:
# the pinned wheels download once per machine, not once per run.
PIP_CACHE_DIR = Path("/var/cache/mailctl-test/pip")
# What the programs this tier runs see: Debian's tools first, never a venv's.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUILD_PROGRAMS = ("dpkg-buildpackage", "dh", "dh_virtualenv", "python3.11")


def system_env(**extra: str) -> dict[str, str]:
    """A root shell's environment as an administrator has it: no venv, no test HOME."""
    env = {
        "PATH": SYSTEM_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        "PIP_CACHE_DIR": str(PIP_CACHE_DIR),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    # The machine's pip settings (index, certificates, constraints) still apply.
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_") and k not in env})
    env.update(extra)
    return env


def run(
    cmd: list[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `cmd`; on a failure the assertion shows its output."""
    proc = subprocess.run(
        cmd,
        env=dict(env) if env is not None else system_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )
    if check:
        assert proc.returncode == 0, (
            f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
        )
    return proc
