"""The package tier: the Debian package and the pipx install, proved on this machine.

Builds the .deb from the checkout once per session (scripts/build-deb), installs it
with apt-get, removes and purges it; installs the wheel with Debian's own pipx and
/usr/bin/python3. Needs root and the DEB_PACKAGES of scripts/test. Run it alone
with `scripts/test tests/package`.

The install is the machine's own: every test that installs purges again, on failure
too, and /usr/bin/mailctl never shadows the venv's mailctl the other tiers run (the
suite puts the venv's bin first on PATH; tests use that path explicitly).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from pkgtools import BUILD_PROGRAMS, PIP_CACHE_DIR, SYSTEM_PATH, run, system_env
from support.env import REPO_ROOT, need, program


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mailctl_<version>_<arch>.deb, built from this checkout by scripts/build-deb."""
    need(os.geteuid() == 0, "the package tier installs a Debian package (root)")
    for name in BUILD_PROGRAMS:
        program(name)
    PIP_CACHE_DIR.mkdir(parents=True, exist_ok=True)
    out = tmp_path_factory.mktemp("deb")
    started = time.monotonic()
    run([str(REPO_ROOT / "scripts" / "build-deb"), "-o", str(out)], timeout=900)
    print(f"scripts/build-deb: {time.monotonic() - started:.1f} s")
    debs = sorted(out.glob("mailctl_*.deb"))
    assert len(debs) == 1, f"expected one .deb in {out}, found {debs}"
    return debs[0]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, as `pip wheel` builds it."""
    out = tmp_path_factory.mktemp("wheel")
    run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO_ROOT)],
        env=system_env(PATH=f"{Path(sys.executable).parent}:{SYSTEM_PATH}"),
    )
    wheels = sorted(out.glob("mailctl-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {out}, found {wheels}"
    return wheels[0]
