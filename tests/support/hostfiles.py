"""What a mail host renders from the database, read back to compare two hosts.

Each host's files lie under its own root (support.config's flat layout), so the
tables that name files are compared with the root cut out; key files are compared
byte for byte, with their modes. Used by the integration tier (two hosts on one
MariaDB) and the galera tier (hosts on different nodes).
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

from support.files import make_cert

# What a host renders from the database, beside its key files.
TABLES = (
    "KeyTable",
    "SigningTable",
    "KeyTable.ed25519",
    "SigningTable.ed25519",
    "vmail_ssl.map",
    "helo_checks.pcre",
    "11-ssl-sni.conf",
)


def rendered_tables(root: Path) -> dict[str, str | None]:
    """The managed files under `root`, with `root` cut out of the paths they name
    (None: the file does not exist)."""
    found: dict[str, str | None] = {}
    for name in TABLES:
        path = root / name
        found[name] = path.read_text().replace(str(root), "ROOT") if path.exists() else None
    return found


def key_files(keys: Path) -> dict[str, tuple[int, bytes]]:
    """Every key file under `keys` outside the archive: its mode and bytes."""
    return {
        str(path.relative_to(keys)): (stat.S_IMODE(path.stat().st_mode), path.read_bytes())
        for path in sorted(keys.rglob("*"))
        if path.is_file() and "archive" not in path.parts
    }


def certify(first: Path, *others: Path, domain: str) -> None:
    """The same certificate for `domain` under each host root (certbot's files are
    each host's own, not the database's): the SNI map and Dovecot blocks then name it."""
    make_cert(first / "certs" / domain, [domain, f"smtp.{domain}", f"imap.{domain}"])
    for other in others:
        shutil.copytree(first / "certs" / domain, other / "certs" / domain)
