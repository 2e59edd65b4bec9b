"""Where DKIM key files live (guide section 12), without the key material:
`<key_dir>/<domain>/<selector>.private` next to `<selector>.txt`. Kept apart
from keyfiles so that rendering a KeyTable does not load cryptography."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mailctl.errors import InvalidInput


@dataclass(frozen=True)
class NewKey:
    """A private key that the managed-files step writes (never under --dry-run)."""

    domain: str
    selector: str
    pem: bytes
    existing: bool = False  # a key file that was there already: made whole, never replaced
    # The database's key for a file this host lacks or holds otherwise: why it is
    # (re)written ("missing", "another key", "mode 0644"); "" for a key just made.
    restore: str = ""
    algorithm: str = "rsa"  # whose signer reloads when a restored key changes


def check_component(what: str, name: str) -> None:
    """`name` must be usable as one path component as it stands (no normalising here)."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or ".." in name
        or name.startswith(".")
        or not name.isprintable()
    ):
        raise InvalidInput(f"invalid {what} for a key path: {name!r}")


def key_file(key_dir: str, domain: str, selector: str) -> str:
    """Where a key lives: `<key_dir>/<domain>/<selector>.private` (guide section 12).
    A plain join, cheap enough for every KeyTable line; `key_paths` checks it."""
    return os.path.join(key_dir, domain, f"{selector}.private")


def key_paths(key_dir: Path, domain: str, selector: str) -> tuple[Path, Path, Path]:
    """(directory, .private, .txt) for a key, after checking they stay inside key_dir."""
    check_component("domain", domain)
    check_component("selector", selector)
    base = key_dir.resolve()
    directory = base / domain
    if directory.parent != base or not directory.resolve().is_relative_to(base):
        raise InvalidInput(f"key directory for {domain!r} would lie outside {key_dir}")
    private = Path(key_file(str(base), domain, selector))
    return directory, private, private.with_suffix(".txt")
