"""What a stored password hash looks like, per Dovecot scheme: the one set of
patterns that hashing, verifying and importing check against."""

from __future__ import annotations

import re

C64 = r"[./0-9A-Za-z]"  # crypt(3)'s base-64 alphabet
_SALT = r"[^$:\n]"

# Compiled when first used (see __getattr__): a command checks one or two of these,
# and compiling all of them cost a millisecond of every start.
SHA512: re.Pattern[str]
SHA256: re.Pattern[str]
MD5: re.Pattern[str]
DES: re.Pattern[str]
BCRYPT: re.Pattern[str]
ARGON2: re.Pattern[str]
# The crypt(3) family by scheme label (Dovecot hands every *-CRYPT label to
# crypt(3), which accepts any of these whatever the label says).
CRYPT: dict[str, re.Pattern[str]]

_SOURCES = {
    "SHA512": rf"\$6\$(?:rounds=\d+\$)?{_SALT}{{0,16}}\${C64}{{86}}",
    "SHA256": rf"\$5\$(?:rounds=\d+\$)?{_SALT}{{0,16}}\${C64}{{43}}",
    "MD5": rf"\$1\${_SALT}{{0,8}}\${C64}{{22}}",
    "DES": rf"{C64}{{13}}",
    # bcrypt's cost is 4..31 (a log2 round count); Dovecot writes $2y$.
    "BCRYPT": rf"\$2[aby]\$(?:0[4-9]|[12]\d|3[01])\${C64}{{53}}",
    "ARGON2": (
        r"\$(argon2id|argon2i)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
    ),
}
_CRYPT_NAMES = {
    "SHA512-CRYPT": "SHA512",
    "SHA256-CRYPT": "SHA256",
    "MD5-CRYPT": "MD5",
    "DES-CRYPT": "DES",
}
CRYPT_LABELS = frozenset({*_CRYPT_NAMES, "CRYPT"})


def __getattr__(name: str) -> object:
    value: object
    if name == "CRYPT":
        value = {label: __getattr__(pattern) for label, pattern in _CRYPT_NAMES.items()}
    elif name in _SOURCES:
        value = re.compile(_SOURCES[name])
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # compiled once: later lookups do not come here
    return value


EXPECTED = {
    "SHA512-CRYPT": "$6$<salt>$<86 characters>",
    "SHA256-CRYPT": "$5$<salt>$<43 characters>",
    "MD5-CRYPT": "$1$<salt>$<22 characters>",
    "CRYPT": "a crypt(3) string",
    "DES-CRYPT": "13 characters of [./0-9A-Za-z]",
    "BLF-CRYPT": "$2y$<cost 04-31>$<53 characters>",
    "ARGON2ID": "$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>",
    "ARGON2I": "$argon2i$v=19$m=...,t=...,p=...$<salt>$<hash>",
}
