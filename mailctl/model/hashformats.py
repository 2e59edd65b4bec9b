"""What a stored password hash looks like, per Dovecot scheme: the one set of
patterns that hashing, verifying and importing check against."""

from __future__ import annotations

import re

C64 = r"[./0-9A-Za-z]"  # crypt(3)'s base-64 alphabet
_SALT = r"[^$:\n]"

SHA512 = re.compile(rf"\$6\$(?:rounds=\d+\$)?{_SALT}{{0,16}}\${C64}{{86}}")
SHA256 = re.compile(rf"\$5\$(?:rounds=\d+\$)?{_SALT}{{0,16}}\${C64}{{43}}")
MD5 = re.compile(rf"\$1\${_SALT}{{0,8}}\${C64}{{22}}")
DES = re.compile(rf"{C64}{{13}}")
# bcrypt's cost is 4..31 (a log2 round count); Dovecot writes $2y$.
BCRYPT = re.compile(rf"\$2[aby]\$(?:0[4-9]|[12]\d|3[01])\${C64}{{53}}")
ARGON2 = re.compile(
    r"\$(argon2id|argon2i)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
)

# The crypt(3) family by scheme label (Dovecot hands every *-CRYPT label to
# crypt(3), which accepts any of these whatever the label says).
CRYPT = {"SHA512-CRYPT": SHA512, "SHA256-CRYPT": SHA256, "MD5-CRYPT": MD5, "DES-CRYPT": DES}
CRYPT_LABELS = frozenset({*CRYPT, "CRYPT"})

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
