"""OpenDKIM as the tests run it: a message to sign, a tree whose path OpenDKIM's
RequireSafeKeys accepts, OpenDKIM's test mode (`opendkim -t`) signing with the
KeyTable and SigningTable mailctl rendered, and dkimpy verifying the signature.

Key safety: OpenDKIM walks the key's whole path from `/` and calls a key "not
secure" if any directory on it is writable by others, so anything under /tmp
(pytest's tmp_path) is refused. `safe_tree()` builds a tree in a safe place (/run
as root, else $XDG_RUNTIME_DIR or the real home directory) so RequireSafeKeys stays
on, as in production; only where no such place exists does it say so (`safe` is
False) and the signer runs with `RequireSafeKeys false`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.env import program

DOMAIN = "example.nl"
SELECTOR = "mail"
FIXED_TIME = "1700000000"  # opendkim -F: fixed t= in test mode

MESSAGE_HEADERS = [
    ("From", "Joe <joe@example.nl>"),
    ("To", "someone@example.org"),
    ("Subject", "mailctl signing test"),
    ("Date", "Tue, 14 Nov 2023 22:13:20 +0000"),
    ("Message-ID", "<mailctl-test-1@example.nl>"),
]
MESSAGE_BODY = b"Hello from the private OpenDKIM.\r\n\r\n-- \r\nmailctl\r\n"


def message_bytes() -> bytes:
    head = b"".join(f"{n}: {v}\r\n".encode() for n, v in MESSAGE_HEADERS)
    return head + b"\r\n" + MESSAGE_BODY


# ------------------------------------------------------------------ safe tree


def chain_is_safe(path: Path) -> bool:
    """Would OpenDKIM's dkimf_securefile accept the directories from / down to `path`?"""
    me = os.geteuid()
    node = path.resolve()
    for directory in [*reversed(node.parents), node]:
        info = directory.stat()
        if info.st_mode & stat.S_IWOTH:
            return False
        if info.st_mode & stat.S_IWGRP and info.st_gid != 0:
            return False  # a shared group could replace the key
        if info.st_mode & stat.S_IWUSR and info.st_uid not in (0, me):
            return False
    return True


def safe_base() -> Path | None:
    candidates = []
    if os.geteuid() == 0:
        candidates.append(Path("/run"))
    if os.environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(os.environ["XDG_RUNTIME_DIR"]))
    candidates.append(Path(pwd.getpwuid(os.geteuid()).pw_dir))  # $HOME is the test's tmp
    for base in candidates:
        if base.is_dir() and os.access(base, os.W_OK | os.X_OK) and chain_is_safe(base):
            return base
    return None


@dataclass
class Tree:
    root: Path
    safe: bool  # False: RequireSafeKeys must be off for OpenDKIM to use the key


@contextmanager
def safe_tree(prefix: str = "mailctl-test-odk-") -> Iterator[Tree]:
    """A short private directory for keys, tables, config and socket; removed afterwards.

    Not tmp_path: its path chain is unsafe for OpenDKIM, and it can be too long
    for a UNIX socket (108 bytes); the fallback is the system temp directory.
    """
    base = safe_base()
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    # 0755, not mkdtemp's 0700: OpenDKIM stops checking at the first directory
    # nobody else can enter, so it must walk on into mailctl's own 0750 dirs
    # and judge the 0600 key file itself.
    os.chmod(root, 0o755)  # noqa: S103  (see above; holds no secret itself)
    try:
        yield Tree(root, safe=base is not None)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------ signing and verifying


def signature_from_test_mode(out: str) -> bytes:
    """The DKIM-Signature header field that test mode prints as `### INSHEADER: …`."""
    marker = "hname='DKIM-Signature' hvalue='"
    start = out.index(marker) + len(marker)
    value = out[start : out.index("'", start)]
    return b"DKIM-Signature: " + value.replace("\n", "\r\n").encode() + b"\r\n"


def sign_with_tables(root: Path, *, safe: bool) -> bytes:
    """The message signed by OpenDKIM's test mode with the RSA KeyTable and
    SigningTable mailctl wrote under `root` (support.config's flat layout): the
    signature header and the message, as a verifier receives them."""
    conf = root / "opendkim-sign.conf"
    conf.write_text(
        "Syslog no\nMode s\nCanonicalization relaxed/relaxed\nSignatureAlgorithm rsa-sha256\n"
        f"MinimumKeyBits 1024\nKeyTable refile:{root / 'KeyTable'}\n"
        f"SigningTable refile:{root / 'SigningTable'}\n"
        f"RequireSafeKeys {'true' if safe else 'false'}\n"
    )
    message = root / "message.eml"
    message.write_bytes(message_bytes())
    done = subprocess.run(  # noqa: S603 - the test's own argv
        [program("opendkim"), "-x", str(conf), "-F", FIXED_TIME, "-vv", "-t", str(message)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return signature_from_test_mode(done.stdout) + message_bytes()


def dkimpy_verifies(
    signed: bytes, record: bytes, *, selector: str = SELECTOR, domain: str = DOMAIN
) -> bool:
    """dkimpy's verdict on `signed`, the DNS answering `record` for the selector."""
    import dkim as dkimpy

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{selector}._domainkey.{domain}.".encode()
        return record

    return bool(dkimpy.verify(signed, dnsfunc=dnsfunc))
