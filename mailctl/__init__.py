"""mailctl: administer a Postfix + Dovecot + MariaDB + OpenDKIM mail server."""

__version__ = "0.1.0"
