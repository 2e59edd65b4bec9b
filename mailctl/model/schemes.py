"""Password scheme names, with no imports: the CLI's option choices need them
at start-up, before anything heavy is loaded. The one list for every layer."""

SCHEMES = ("SHA512-CRYPT", "BLF-CRYPT", "ARGON2ID")  # what mailctl writes
# What a stored hash may be (verified by `user verify`, accepted by `import`,
# and how passwords.default_scheme may read a hash without {SCHEME} prefix).
READ_SCHEMES = (*SCHEMES, "SHA256-CRYPT", "MD5-CRYPT", "CRYPT", "DES-CRYPT", "ARGON2I")
