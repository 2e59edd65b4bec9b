"""One version source, and scripts/release, run on a copy of the tree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from support.env import REPO_ROOT

import mailctl


def test_one_version_source() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "mailctl/__init__.py"
    init = (REPO_ROOT / "mailctl" / "__init__.py").read_text()
    assert f'__version__ = "{mailctl.__version__}"' in init
    # The man page's header, and no debian/changelog with a version of its own.
    assert f'"mailctl {mailctl.__version__}"' in (REPO_ROOT / "man" / "mailctl.1").read_text()
    assert not (REPO_ROOT / "debian" / "changelog").exists()


def _release(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(tree / "scripts" / "release"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "LANG": "C.UTF-8"},
    )


def test_release_script(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for name in ("mailctl", "scripts", "man"):
        shutil.copytree(REPO_ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "CHANGELOG.md", tree / "CHANGELOG.md")
    changelog = (tree / "CHANGELOG.md").read_text()
    old = mailctl.__version__
    major, minor, _patch = (int(n) for n in old.split("."))
    new = f"{major}.{minor + 1}.0"

    refused = _release(tree, old)
    assert refused.returncode != 0 and "not newer" in refused.stderr

    done = _release(tree, new)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f'__version__ = "{new}"' in (tree / "mailctl" / "__init__.py").read_text()
    released = (tree / "CHANGELOG.md").read_text()
    match = re.search(
        rf"^## \[Unreleased\]\n\n## \[{re.escape(new)}\] - \d{{4}}-\d\d-\d\d$", released, re.M
    )
    assert match, released[:400]
    # The entries moved under the new section, nothing else changed.
    assert released.replace(match.group(0), "## [Unreleased]") == changelog
    assert f'"mailctl {new}"' in (tree / "man" / "mailctl.1").read_text()

    # Nothing left under [Unreleased]: nothing to release.
    empty = _release(tree, f"{major}.{minor + 2}.0")
    assert empty.returncode != 0 and "nothing to release" in empty.stderr
