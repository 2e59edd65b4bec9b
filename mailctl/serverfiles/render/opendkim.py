"""OpenDKIM KeyTable and SigningTable lines (guide §12, `refile:` tables).

KeyTable:     mail._domainkey.example.nl example.nl:mail:/etc/opendkim/keys/example.nl/mail.private
SigningTable: *@example.nl mail._domainkey.example.nl
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mailctl.errors import Conflict, InvalidInput
from mailctl.serverfiles.render import DkimEntry

# A domain or selector must not carry whitespace (field separator of the
# table) or ":" (separator inside the KeyTable value); stored names are LDH.
_NAME = re.compile(r"[A-Za-z0-9._-]+")
# OpenDKIM reads a third KeyTable field that does not start with "/" as the
# key data itself, so the path must be absolute; ":" would split it.
_KEY_PATH = re.compile(r"/[^\s:\x00-\x1f\x7f]*")


def _check(entry: DkimEntry) -> None:
    if not _NAME.fullmatch(entry.domain):
        raise InvalidInput(f"DKIM domain not usable in KeyTable: {entry.domain!r}")
    if not _NAME.fullmatch(entry.selector):
        raise InvalidInput(f"DKIM selector not usable in KeyTable: {entry.selector!r}")
    if not _KEY_PATH.fullmatch(entry.key_path):
        raise InvalidInput(
            f"DKIM key path must be absolute without whitespace or ':': {entry.key_path!r}"
        )


def _record(entry: DkimEntry) -> str:
    return f"{entry.selector}._domainkey.{entry.domain}"


def _unique(keys: Iterable[DkimEntry]) -> list[DkimEntry]:
    """Entries sorted by (domain, selector); identical repeats dropped.

    Two different key paths for one (domain, selector) would give two KeyTable
    lines with the same key, of which OpenDKIM silently uses one: refused.
    """
    seen: dict[tuple[str, str], DkimEntry] = {}
    # A key function: dataclass ordering builds tuples per comparison, 10x slower.
    for entry in sorted(set(keys), key=lambda e: (e.domain, e.selector, e.key_path)):
        _check(entry)
        ident = (entry.domain, entry.selector)
        other = seen.get(ident)
        if other is not None and other != entry:
            raise Conflict(
                f"two key paths for selector {entry.selector!r} of {entry.domain!r}:"
                f" {other.key_path!r} and {entry.key_path!r}"
            )
        seen[ident] = entry
    return [seen[ident] for ident in sorted(seen)]


def render_key_table(keys: Iterable[DkimEntry]) -> list[str]:
    """KeyTable lines `{selector}._domainkey.{domain} {domain}:{selector}:{key_path}`."""
    return [f"{_record(e)} {e.domain}:{e.selector}:{e.key_path}" for e in _unique(keys)]


def render_signing_table(keys: Iterable[DkimEntry]) -> list[str]:
    """SigningTable lines `*@{domain} {selector}._domainkey.{domain}`.

    One line per (domain, selector) given; the caller passes only the key each
    domain signs with (OpenDKIM uses the first matching line).
    """
    return [f"*@{e.domain} {_record(e)}" for e in _unique(keys)]
