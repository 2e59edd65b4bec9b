"""Password scheme names, and how a stored hash names its scheme, with no
imports: the CLI's option choices need them at start-up, and listings read every
hash's scheme, before anything heavy is loaded. The one list for every layer."""

SCHEMES = ("SHA512-CRYPT", "BLF-CRYPT", "ARGON2ID")  # what mailctl writes
# What a stored hash may be (verified by `user verify`, accepted by `import`,
# and how passwords.default_scheme may read a hash without {SCHEME} prefix).
READ_SCHEMES = (*SCHEMES, "SHA256-CRYPT", "MD5-CRYPT", "CRYPT", "DES-CRYPT", "ARGON2I")

# What may stand between the braces of a `{SCHEME}` prefix.
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def split_hash(stored: str, default_scheme: str) -> tuple[str, str] | None:
    """(upper-case scheme, hash without its prefix) of a stored hash, as Dovecot
    reads it: the `{SCHEME}` prefix, else MD5-CRYPT for `$1$`, else
    `default_scheme`. None for a `{` that starts no valid prefix. The scheme is
    not checked against the known ones: `{PLAIN}` gives PLAIN."""
    if stored.startswith("{"):
        end = stored.find("}")
        name = stored[1:end]
        if end < 2 or not _NAME_CHARS.issuperset(name):
            return None
        return name.upper(), stored[end + 1 :]
    if stored.startswith("$1$"):  # Dovecot reads an unprefixed $1$ as MD5-CRYPT
        return "MD5-CRYPT", stored
    return default_scheme.strip().strip("{}").upper(), stored
