"""The tests must exercise the package as installed from the wheel.

scripts/test builds a wheel and installs it into a venv; if the checkout's
mailctl/ shadowed it, packaging mistakes (files left out of the wheel,
migrations not shipped) would go unnoticed. Both tests also run, with the
weaker checks, under a plain `pytest` from a development checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from support.env import INSTALLED, REPO_ROOT


def _clean_env() -> dict[str, str]:
    # A PYTHONPATH pointing at the checkout would defeat the point.
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_package_is_the_installed_wheel() -> None:
    import mailctl

    assert mailctl.__version__
    if not INSTALLED:
        return
    pkg = Path(mailctl.__file__).resolve().parent
    # The venv itself may live inside the repo (.venv), so compare with the
    # source package directory, not with the repo root.
    assert not pkg.is_relative_to(REPO_ROOT / "mailctl"), f"imported from source tree: {pkg}"
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert pkg.is_relative_to(site), f"{pkg} is not in this interpreter's site-packages {site}"
    # pyproject force-includes the top-level migrations/ as mailctl/migrations.
    assert (pkg / "migrations" / "env.py").is_file(), "alembic migrations missing from the wheel"


def test_version_from_command_line(tmp_path: Path) -> None:
    import mailctl

    # cwd is an empty directory so `-m` cannot pick up a mailctl/ from cwd.
    commands = [[sys.executable, "-m", "mailctl", "--version"]]
    if INSTALLED:
        # The console-script entry point from [project.scripts], in the venv.
        commands.append([str(Path(sys.executable).parent / "mailctl"), "--version"])
    for cmd in commands:
        proc = subprocess.run(
            cmd, cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}{proc.stderr}"
        assert "mailctl" in proc.stdout
        assert mailctl.__version__ in proc.stdout
