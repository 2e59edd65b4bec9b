"""What a certificate-reading target was last built from.

The SNI map's text only names certificate files, but `postmap -F` copies their
contents into the .db Postfix reads, and Dovecot reads `ssl_cert = <file`
only when it (re)loads. So a renewed certificate (certbot replacing
fullchain.pem and privkey.pem) changes nothing mailctl renders, yet both
servers keep serving the old one until the map is rebuilt and they reload.

Next to each such target, `<file>.mailctl-state` (0600, JSON) records the
digest of every certificate and key its entries name and, for an indexed map,
the digest of the index postmap built. A target whose recorded state differs
from the files now (a renewal, a deleted or replaced index, no record yet) is
stale: `sync` rebuilds and reloads it, `sync --check` and `doctor` report it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from mailctl.serverfiles.targets import Target

SUFFIX = ".mailctl-state"
# postmap's output file by map type (hash and btree: Berkeley DB).
INDEX_SUFFIX = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}


def state_path(target: Target) -> Path:
    return target.path.with_name(target.path.name + SUFFIX)


def index_path(target: Target, map_type: str) -> Path:
    return target.path.with_name(target.path.name + INDEX_SUFFIX.get(map_type, ".db"))


def inputs_digest(certificates: Iterable[tuple[str, str]]) -> str:
    """One digest for the (domain, certificate-and-key digest) pairs a target uses."""
    text = "\n".join(f"{domain} {digest}" for domain, digest in sorted(certificates))
    return hashlib.sha256(text.encode()).hexdigest()


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _recorded(target: Target) -> dict[str, str]:
    try:
        data = json.loads(state_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def staleness(target: Target, inputs: str, map_type: str | None) -> str | None:
    """Why the built target no longer matches its inputs (None: it does).
    `map_type` is None when no index is expected here (postmap off or skipped)."""
    recorded = _recorded(target)
    if not recorded:
        return "no record of what it was built from (first sync with this mailctl)"
    if recorded.get("inputs") != inputs:
        return "a certificate or key it names has changed (renewed?) since it was built"
    if map_type is not None:
        index = index_path(target, map_type)
        digest = _file_digest(index)
        if digest is None:
            return f"its index {index} is missing"
        if recorded.get("index") != digest:
            return f"its index {index} was changed or rebuilt outside mailctl"
    return None


def render(target: Target, inputs: str, map_type: str | None) -> str:
    """The state to record after building `target` now."""
    data = {"inputs": inputs}
    if map_type is not None:
        data["index"] = _file_digest(index_path(target, map_type)) or ""
    return json.dumps(data, sort_keys=True) + "\n"
