"""The one test harness, shared by tests/unit, tests/integration, tests/e2e and bench/.

- env:         strict mode, `need()`, finding programs
- mailconfig:  private Postfix/Dovecot configuration for every mail program a test runs
- config:      the one mailctl config writer, built on mailctl's own config schema
- cli:         the one CLI runner (`Mailctl`), with table dumps for "nothing changed"
- databases:   throwaway MariaDB and PostgreSQL databases and accounts
- named:       a private BIND on loopback
- files:       certificates and file-tree snapshots

tests/conftest.py puts tests/ on sys.path, so `from support.cli import Mailctl`
works from every tier without making tests/ a package (which would put the
source tree on sys.path and shadow the installed wheel). bench/ does the same.
"""
