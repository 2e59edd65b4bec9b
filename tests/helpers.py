"""Helpers shared by test modules (`from helpers import need, program`).

tests/conftest.py puts this directory on sys.path, so this works from
tests/unit and tests/integration alike without making tests/ a package
(which would put the repo root, and so the source tree, on sys.path).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

# Strict mode (scripts/test --strict, CI): a test that cannot run is a failure,
# so a CI machine lacking MariaDB or doveadm can't go green by skipping.
STRICT = os.environ.get("MAILCTL_TEST_STRICT") == "1"
# Set by scripts/test: the package under test is the installed wheel.
INSTALLED = os.environ.get("MAILCTL_TEST_INSTALLED") == "1"

# Where Debian puts admin programs (postmap, doveadm, named, opendkim) that a
# non-root PATH usually lacks.
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"


def _unavailable(why: str) -> NoReturn:
    # Hidden frames: pytest then reports the skip at the calling test's line.
    __tracebackhide__ = True
    if STRICT:
        pytest.fail(f"strict mode: {why}", pytrace=False)
    pytest.skip(why)


def need(condition: bool, why: str) -> None:
    """Skip the test unless `condition` holds; fail instead in strict mode."""
    __tracebackhide__ = True
    if not condition:
        _unavailable(why)


def program(name: str) -> str:
    """Absolute path of program `name` (PATH, then sbin dirs), or need()-fail."""
    __tracebackhide__ = True
    found = shutil.which(name) or shutil.which(name, path=SBIN_PATH)
    if found is None:
        _unavailable(f"program {name!r} not found (see DEB_PACKAGES in scripts/test)")
    return found


def make_cert(directory: Path, names: list[str], *, days: int = 90) -> tuple[Path, Path]:
    """A self-signed certificate for `names` as fullchain.pem + privkey.pem (EC P-256)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    fullchain = directory / "fullchain.pem"
    privkey = directory / "privkey.pem"
    fullchain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    privkey.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    privkey.chmod(0o600)
    return fullchain, privkey


def snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under root with its mode and content (the audit log excepted:
    recording failed attempts is its job; indexed .db maps compared by lookup)."""
    out: dict[str, tuple[int, bytes | None]] = {}
    for path in sorted(root.rglob("*")):
        if path.name in ("audit.log", "mailctl.lock"):
            continue
        rel = str(path.relative_to(root))
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        if path.suffix == ".db":  # Berkeley DB bytes differ between equal builds
            content = None
        out[rel] = (path.lstat().st_mode, content)
    return out
