"""pipx, the install for everyone not on the .deb: Debian's own pipx and
/usr/bin/python3 (PEP 668 refuses `pip install` there), the wheel of this
checkout, then `mailctl --version` and the README's quick start. PIPX_HOME and
PIPX_BIN_DIR point into the test's directory; the documented system install
(/opt/pipx, /usr/local/bin) is the same with other paths."""

from __future__ import annotations

import re
from pathlib import Path

from pkgtools import run, system_env
from support.env import REPO_ROOT, program

import mailctl


def test_pipx_install_on_debian_python(wheel: Path, tmp_path: Path) -> None:
    pipx = program("pipx")
    assert pipx == "/usr/bin/pipx", "Debian's pipx (apt install pipx)"
    home, bin_dir = tmp_path / "pipx", tmp_path / "bin"
    env = system_env(PIPX_HOME=str(home), PIPX_BIN_DIR=str(bin_dir))
    run([pipx, "install", "--python", "/usr/bin/python3", str(wheel)], env=env, timeout=600)
    venv = home / "venvs" / "mailctl"
    cfg = (venv / "pyvenv.cfg").read_text()
    assert re.search(r"^home = /usr/bin$", cfg, re.M), cfg

    mailctl_bin = str(bin_dir / "mailctl")
    version = run([mailctl_bin, "--version"], env=env).stdout.strip()
    assert version == f"mailctl, version {mailctl.__version__}"
    # The man page comes with the wheel, where the docs say to link it from.
    assert (venv / "share" / "man" / "man1" / "mailctl.1").read_text() == (
        REPO_ROOT / "man" / "mailctl.1"
    ).read_text()
    bash = run([mailctl_bin, "completion", "bash"], env=env).stdout
    assert bash == (REPO_ROOT / "completions" / "mailctl.bash").read_text()

    # The README's quick start, as a user with a HOME of their own.
    user = tmp_path / "user"
    user.mkdir()
    env = system_env(HOME=str(user))
    added = run([mailctl_bin, "domain", "add", "example.nl"], env=env)
    assert "added domain example.nl" in added.stderr  # messages go to stderr
    listed = run([mailctl_bin, "domain", "list"], env=env).stdout
    assert re.search(r"^example\.nl\texample\.nl\t0\t\d+\tmail\tpending$", listed, re.M), listed
