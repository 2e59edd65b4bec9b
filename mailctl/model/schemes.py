"""Password scheme names, with no imports: the CLI's option choices need them
at start-up, before anything heavy is loaded."""

SCHEMES = ("SHA512-CRYPT", "BLF-CRYPT", "ARGON2ID")  # what mailctl writes
READ_SCHEMES = (*SCHEMES, "SHA256-CRYPT", "MD5-CRYPT", "CRYPT")  # what a stored hash may be
