"""How the suite runs: strict mode, the installed wheel, and finding programs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS_DIR.parent

# Strict mode (scripts/test --strict, CI): a test that cannot run is a failure,
# so a CI machine lacking MariaDB or doveadm can't go green by skipping.
STRICT = os.environ.get("MAILCTL_TEST_STRICT") == "1"
# Set by scripts/test: the package under test is the installed wheel.
INSTALLED = os.environ.get("MAILCTL_TEST_INSTALLED") == "1"

# Where Debian puts admin programs (postmap, doveadm, named, opendkim) that a
# non-root PATH usually lacks.
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"


def unavailable(why: str) -> NoReturn:
    # Hidden frames: pytest then reports the skip at the calling test's line.
    __tracebackhide__ = True
    if STRICT:
        pytest.fail(f"strict mode: {why}", pytrace=False)
    pytest.skip(why)


def need(condition: bool, why: str) -> None:
    """Skip the test unless `condition` holds; fail instead in strict mode."""
    __tracebackhide__ = True
    if not condition:
        unavailable(why)


def program(name: str) -> str:
    """Absolute path of program `name` (PATH, then sbin dirs), or need()-fail."""
    __tracebackhide__ = True
    found = shutil.which(name) or shutil.which(name, path=SBIN_PATH)
    if found is None:
        unavailable(f"program {name!r} not found (see DEB_PACKAGES in scripts/test)")
    return found
