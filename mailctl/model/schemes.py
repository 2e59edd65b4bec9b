"""Password scheme names, and how a stored hash names its scheme, importing
nothing the interpreter has not loaded already: the CLI's option choices need
them at start-up, and listings read every hash's scheme, before anything heavy
is loaded. The one list for every layer."""

import functools

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


def scheme_label(stored: str, default: str) -> str:
    """The scheme to show for a stored hash (or just its head); "unknown" when unparseable.

    Only the `{SCHEME}` prefix (or the first three characters of an unprefixed
    hash) decides, so the lookup is cached on that: a listing of 100,000 users
    repeats a handful of prefixes.
    """
    end = stored.find("}") + 1 if stored[:1] == "{" else 3
    return _label(stored[:end] if end else stored, default)


@functools.lru_cache(maxsize=256)
def _label(prefix: str, default: str) -> str:
    found = split_hash(prefix, default)
    return "unknown" if found is None else found[0]  # a foreign hash must not break a listing
