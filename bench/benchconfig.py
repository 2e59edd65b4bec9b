"""The private config every benchmark runs mailctl with: the test suite's one
config writer (tests/support/config.py), every file under one directory,
reloads and checks off, postmap on a private main.cf, product defaults for
password hashing, so only mailctl's own work is timed."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.config import Sections, merge  # noqa: E402
from support.config import write_config as _write_config  # noqa: E402
from support.mailconfig import private_mail_config  # noqa: E402


def write_config(
    path: Path,
    root: Path,
    url: str,
    *,
    create_maildirs: bool = False,
    sections: Sections | None = None,
) -> Path:
    """`sections` go over these, key by key; a None value means mailctl's own default."""
    return _write_config(
        path,
        url,
        root,
        mail=private_mail_config(root / "mail-config"),
        sections=merge(
            {
                "server": {"admin_email": None},
                "passwords": {"min_length": None, "bcrypt_cost": None},
                "vmail": {"create_maildirs": create_maildirs},
                "dovecot": {"version": "2.3"},
            },
            sections or {},
        ),
    )


def compile_mailctl() -> None:
    """Byte-compile mailctl as an installed wheel is: with PYTHONDONTWRITEBYTECODE set
    (or a read-only tree), each timed run of an edited checkout would otherwise compile
    its changed modules again, tens of milliseconds that no installation pays."""
    import compileall

    import mailctl

    compileall.compile_dir(Path(mailctl.__file__).parent, quiet=1)


def doveadm() -> list[str] | None:
    """doveadm on a private dovecot.conf (never /etc/dovecot); None if not installed."""
    if shutil.which("doveadm") is None and shutil.which("doveadm", path="/usr/sbin") is None:
        return None
    return private_mail_config(Path(tempfile.mkdtemp(prefix="mailctl-bench-"))).doveadm
