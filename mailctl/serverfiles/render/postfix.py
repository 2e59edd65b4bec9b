"""Postfix tables: the SNI map (guide §8.8) and the HELO spoof checks (§8.4).

vmail_ssl.map:      smtp.example.nl <privkey.pem> <fullchain.pem>
helo_checks.pcre:   /^example\\.nl$/ 554 5.7.1 Spoofed HELO (you are not me)

The guide writes these lines with a trailing /i, but in Postfix PCRE tables
matching is case-insensitive by default and /i TOGGLES it to case-sensitive
(pcre_table(5)), so "MAIL.EXAMPLE.NL" would slip past. We leave /i off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from mailctl.errors import InvalidInput
from mailctl.model.servers import POSTFIX_SNI_NAMES
from mailctl.serverfiles.render import TlsEntry

DEFAULT_SNI_NAMES = POSTFIX_SNI_NAMES
HELO_ACTION = "554 5.7.1 Spoofed HELO (you are not me)"

# A host name (LDH labels); a leading "." is Postfix's "any subdomain of" key.
_HOST = re.compile(r"\.?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
# A file name inside a table line or a Dovecot value: no whitespace or quotes.
_PATH = re.compile(r"/[^\s\"'<>\x00-\x1f\x7f]*")


def _check_path(path: str, what: str) -> None:
    if not _PATH.fullmatch(path):
        raise InvalidInput(f"{what} must be an absolute path without whitespace: {path!r}")


def expand_names(entries: Iterable[TlsEntry], names: Sequence[str]) -> list[tuple[str, TlsEntry]]:
    """(name, entry) for every entry and name pattern, sorted by name.

    Each pattern must contain `{domain}`. Names are lowercased. When two entries
    produce the same name (say `smtp.{domain}` of example.nl and `{domain}` of
    smtp.example.nl), the entry that sorts first by domain keeps it and the
    later ones are skipped, so the output never has a key twice.
    """
    for pattern in names:
        if "{domain}" not in pattern:
            raise InvalidInput(f"TLS name pattern without {{domain}}: {pattern!r}")
    taken: dict[str, TlsEntry] = {}
    for entry in sorted(set(entries)):
        _check_path(entry.cert, "certificate")
        _check_path(entry.key, "private key")
        for pattern in names:
            name = pattern.replace("{domain}", entry.domain).lower()
            if not _HOST.fullmatch(name):
                raise InvalidInput(f"TLS name {name!r} (from {pattern!r}) is not a host name")
            taken.setdefault(name, entry)
    return sorted(taken.items())


def render_sni_map(
    entries: Iterable[TlsEntry], names: Sequence[str] = DEFAULT_SNI_NAMES
) -> list[str]:
    """`tls_server_sni_maps` lines `<name> <key> <cert>`: private key first, then chain."""
    return [f"{name} {entry.key} {entry.cert}" for name, entry in expand_names(entries, names)]


def _pcre_literal(name: str) -> str:
    # Like re.escape: every character other than letters, digits and "_" gets
    # a backslash, which PCRE reads as that character itself. The names are
    # checked to be LDH, so in practice only "." and "-" are escaped.
    return re.escape(name)


def render_helo_checks(domains: Iterable[str], hostname: str) -> list[str]:
    """`/^name$/ 554 5.7.1 Spoofed HELO (you are not me)` for the hostname and each domain.

    Sorted by name; the hostname appears once even when it is also a domain.
    """
    names = {hostname.lower(), *(domain.lower() for domain in domains)}
    for name in names:
        if name.startswith(".") or not _HOST.fullmatch(name):
            raise InvalidInput(f"HELO name is not a host name: {name!r}")
    return [f"/^{_pcre_literal(name)}$/ {HELO_ACTION}" for name in sorted(names)]
