"""Dovecot password hashes (libxcrypt, bcrypt, Argon2) and hashing on all cores."""
