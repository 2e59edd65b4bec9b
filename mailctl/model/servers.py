"""Facts about the servers and databases mailctl writes for, each defined once."""

from __future__ import annotations

# Dovecot's two config syntaxes mailctl writes (2.4 renamed most settings).
DOVECOT_VERSIONS: tuple[str, ...] = ("2.3", "2.4")

# The names each domain's certificate serves, as SNI patterns.
POSTFIX_SNI_NAMES: tuple[str, ...] = ("smtp.{domain}", "{domain}")
DOVECOT_SNI_NAMES: tuple[str, ...] = ("imap.{domain}",)

# Postfix's SQL map type for each database backend SQLAlchemy names.
POSTFIX_MAP_TYPES: dict[str, str] = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "pgsql",
    "sqlite": "sqlite",
}
DATABASE_BACKENDS: tuple[str, ...] = tuple(POSTFIX_MAP_TYPES)
