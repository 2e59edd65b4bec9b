"""Domain names and mail addresses: validation and the stored form.

Stored form = lowercase, IDNs as A-labels (punycode), because the guide's
Postfix and Dovecot queries compare strings exactly. Every name that later
becomes a path component (key directories, maildirs) passes through here, so
the checks below also keep `/`, `..`, NUL and leading dots out of paths.
"""

from __future__ import annotations

import re

from mailctl.errors import InvalidName
from mailctl.model.datarecord import datarecord

MAX_DOMAIN = 253
MAX_LABEL = 63
MAX_LOCALPART = 64
MAX_ADDRESS = 254  # RFC 5321 path limit; also fits the guide's VARCHAR(255)

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# RFC 5322 dot-atom without "/" (a local part becomes a maildir path component).
_ATEXT = r"[a-z0-9!#$%&'*+=?^_`{|}~-]"
_LOCALPART = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")


# IDNA allows these two format characters in some scripts (CONTEXTJ); idna judges them.
_JOINERS = frozenset("\u200c\u200d")


def _reject(value: str, why: str) -> InvalidName:
    return InvalidName(f"invalid {why}: {value!r}")


def _has_control(value: str) -> bool:
    """A control, format (bidi, zero width), separator or blank other than the space:
    never part of a name, and not trimmed away either, even at its ends."""
    return not value.isprintable() and any(
        not c.isprintable() and c not in _JOINERS for c in value
    )


def normalize_domain(value: str) -> str:
    """Return the stored (lowercase A-label) form of a domain name or raise InvalidName."""
    if _has_control(value):
        raise _reject(value, "domain (control or invisible character)")
    raw = value.strip(" ")
    shown = value
    if not raw:
        raise InvalidName("invalid domain: empty name")
    if "\x00" in raw or "/" in raw or "\\" in raw or ".." in raw or raw.startswith("."):
        raise _reject(shown, "domain (no '/', '\\', '..', NUL or leading dot allowed)")
    if raw.endswith("."):
        raw = raw[:-1]  # an absolute name is the same domain
    labels = raw.split(".")
    if len(labels) < 2:
        raise _reject(shown, "domain (need at least two labels, like example.nl)")
    a_labels = [_to_a_label(label, shown) for label in labels]
    name = ".".join(a_labels)
    if len(name) > MAX_DOMAIN:
        raise _reject(shown, f"domain ({len(name)} characters; at most {MAX_DOMAIN} allowed)")
    if a_labels[-1].isdigit():
        raise _reject(shown, "domain (the top-level label cannot be numeric)")
    return name


def _to_a_label(label: str, shown: str) -> str:
    if not label:
        raise _reject(shown, "domain (empty label)")
    if label.isascii():
        candidate = label.lower()
    else:
        import idna  # its tables load in milliseconds: only for a name that needs them

        try:
            candidate = idna.alabel(label.lower()).decode("ascii")
        except idna.IDNAError as exc:
            raise _reject(shown, f"domain (label {label!r} is not a valid IDN: {exc})") from None
    if len(candidate) > MAX_LABEL:
        raise _reject(shown, f"domain (label of {len(candidate)} characters; at most {MAX_LABEL})")
    if not _LDH_LABEL.fullmatch(candidate):
        raise _reject(shown, "domain (labels use letters, digits and inner hyphens only)")
    if candidate.startswith("xn--"):
        import idna

        try:
            idna.ulabel(candidate)
        except idna.IDNAError:
            raise _reject(shown, f"domain (label {candidate!r} is not valid punycode)") from None
    return candidate


def display_domain(name: str) -> str:
    """The Unicode form of a stored domain, for output next to the A-label form."""
    if "xn--" not in name.lower():
        return name  # no A-label: nothing to decode
    import idna

    try:
        return idna.decode(name)
    except idna.IDNAError:
        return name


@datarecord(frozen=True)
class Address:
    """A validated address in stored form; `localpart` is empty for `@domain`."""

    localpart: str
    domain: str

    @property
    def is_catchall(self) -> bool:
        return not self.localpart

    def __str__(self) -> str:
        return f"{self.localpart}@{self.domain}"


def parse_address(value: str, *, allow_catchall: bool = False) -> Address:
    """Validate `user@domain` (or `@domain` when allowed) and return its stored form."""
    if _has_control(value):
        raise InvalidName(f"invalid address: {value!r} (control or invisible character)")
    raw = value.strip(" ")
    if raw.count("@") != 1:
        expected = "user@domain or @domain" if allow_catchall else "user@domain"
        raise InvalidName(f"invalid address: {value!r} (expected {expected})")
    local, _, domain_part = raw.rpartition("@")
    if domain_part != domain_part.strip() or local != local.strip():
        raise InvalidName(f"invalid address: {value!r} (blank or control character beside '@')")
    local = local.lower()
    if not local and not allow_catchall:
        raise InvalidName(f"invalid address: {value!r} (a catch-all @domain is not allowed here)")
    if local:
        if len(local) > MAX_LOCALPART:
            raise InvalidName(
                f"invalid address: {value!r} (local part of {len(local)} characters;"
                f" at most {MAX_LOCALPART})"
            )
        if not _LOCALPART.fullmatch(local):
            raise InvalidName(
                f"invalid address: {value!r} (local part may use letters, digits,"
                " inner dots and !#$%&'*+=?^_`{|}~- only)"
            )
    try:
        domain = normalize_domain(domain_part)
    except InvalidName as exc:
        raise InvalidName(f"invalid address: {value!r} ({exc})") from None
    address = Address(local, domain)
    if len(str(address)) > MAX_ADDRESS:
        raise InvalidName(
            f"invalid address: {value!r} ({len(str(address))} characters; at most {MAX_ADDRESS})"
        )
    return address
