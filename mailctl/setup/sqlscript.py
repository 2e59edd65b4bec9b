"""The SQL behind `setup sql`, as plain data: who the accounts are and the
statements that create them and grant exactly what the guide needs (see
setup/accounts.py for the privileges and why). Pure: nothing here connects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mailctl.core.tables import GUIDE_TABLES
from mailctl.errors import ConfigError
from mailctl.setup.sqlmaps import LAST_LOGIN_TABLE, QUOTA_USAGE_TABLE

MASK = "********"
MARIADB_MAILCTL_PRIVILEGES = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "ALTER",
    "INDEX",
    "REFERENCES",
    "DROP",
)
# What the read-only account (Postfix's maps, Dovecot's passdb, userdb and dict)
# may do: read the guide's tables and the policy the rendered queries join, and
# write the two tables Dovecot itself fills (quota_clone, last_login: INSERT or
# UPDATE one row per login; neither ever deletes). Nothing else: above all not
# mailctl_dkim_secrets, the DKIM private keys (only mailctl's account reads them).
POLICY_TABLES = ("mailctl_user_policy", "mailctl_domain_policy", "mailctl_sender_grants")
READONLY_SELECT = (*GUIDE_TABLES, *POLICY_TABLES)
DOVECOT_WRITES = (QUOTA_USAGE_TABLE, LAST_LOGIN_TABLE)
DOVECOT_WRITE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE")
NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9.:%_-]{1,255}")


@dataclass(frozen=True)
class Statement:
    """One SQL statement, and the same with its secret masked."""

    sql: str  # what runs (may hold a password or its hash)
    shown: str  # what is printed and logged

    @classmethod
    def plain(cls, sql: str) -> Statement:
        return cls(sql, sql)


@dataclass(frozen=True)
class Account:
    """One SQL account setup sql provisions."""

    role: str  # "mailctl" or "read-only", for messages
    user: str
    host: str  # MariaDB host part; PostgreSQL roles have none
    password_file: Path

    def __post_init__(self) -> None:
        # Names go into DDL, which takes no bind parameters: only plain ones pass.
        if not NAME.fullmatch(self.user):
            raise ConfigError(f"SQL account name {self.user!r} must be 1-64 letters, digits or _")
        if not _HOST.fullmatch(self.host):
            raise ConfigError(f"account host {self.host!r} is not a host name, address or pattern")


@dataclass(frozen=True)
class Target:
    """The database and the two accounts `setup sql` provisions."""

    backend: str  # "mysql" or "postgresql"
    dbname: str
    mailctl: Account
    readonly: Account

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.dbname):
            raise ConfigError(f"database name {self.dbname!r} must be 1-64 letters, digits or _")

    @property
    def accounts(self) -> tuple[Account, Account]:
        return (self.mailctl, self.readonly)


# --- pure: the SQL --------------------------------------------------------------


def _q(value: str) -> str:
    """An SQL string literal; values are checked to hold no quote or backslash first."""
    if "'" in value or "\\" in value:
        raise ValueError(f"refusing to quote {value!r}")
    return f"'{value}'"


def mariadb_account(account: Account) -> str:
    return f"{_q(account.user)}@{_q(account.host)}"


def mariadb_database(target: Target) -> list[Statement]:
    return [
        Statement.plain(
            f"CREATE DATABASE IF NOT EXISTS `{target.dbname}`"
            " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    ]


def mariadb_login(account: Account, secret: str) -> list[Statement]:
    who = mariadb_account(account)
    # Never a moment without a password: create with it, or reset an existing one.
    return [
        Statement(
            f"{verb} {who} IDENTIFIED BY {_q(secret)}",
            f"{verb} {who} IDENTIFIED BY {_q(MASK)}",
        )
        for verb in ("CREATE USER IF NOT EXISTS", "ALTER USER")
    ]


def mariadb_mailctl_grants(target: Target) -> list[Statement]:
    who = mariadb_account(target.mailctl)
    return [
        Statement.plain(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {who}"),
        Statement.plain(
            f"GRANT {', '.join(MARIADB_MAILCTL_PRIVILEGES)} ON `{target.dbname}`.* TO {who}"
        ),
    ]


def readonly_tables(present: set[str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tables the read-only account reads and those it writes, of those `present`
    (None: all of them). Without the policy tables (a schema before migration 0003)
    it gets the guide's tables only, as before."""
    if present is None or all(t in present for t in (*READONLY_SELECT, *DOVECOT_WRITES)):
        return READONLY_SELECT, DOVECOT_WRITES
    return GUIDE_TABLES, ()


def mariadb_readonly_grants(target: Target, present: set[str] | None = None) -> list[Statement]:
    who = mariadb_account(target.readonly)
    reads, writes = readonly_tables(present)
    privileges = ", ".join(DOVECOT_WRITE_PRIVILEGES)
    return [
        Statement.plain(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {who}"),
        *(
            Statement.plain(f"GRANT SELECT ON `{target.dbname}`.`{table}` TO {who}")
            for table in reads
        ),
        *(
            Statement.plain(f"GRANT {privileges} ON `{target.dbname}`.`{table}` TO {who}")
            for table in writes
        ),
    ]


def postgres_database(target: Target) -> list[Statement]:
    """Run from another database, and only when it is missing (PostgreSQL has no IF NOT EXISTS)."""
    return [
        Statement.plain(f"CREATE DATABASE \"{target.dbname}\" ENCODING 'UTF8' TEMPLATE template0")
    ]


def postgres_login(account: Account, secret: str) -> list[Statement]:
    role = f'"{account.user}"'
    return [
        Statement.plain(
            f"DO $$BEGIN CREATE ROLE {role} NOLOGIN;"
            " EXCEPTION WHEN duplicate_object THEN NULL; END$$"
        ),
        Statement(
            f"ALTER ROLE {role} WITH LOGIN PASSWORD {_q(secret)}",
            f"ALTER ROLE {role} WITH LOGIN PASSWORD {_q(MASK)}",
        ),
    ]


def postgres_mailctl_grants(target: Target) -> list[Statement]:
    role = f'"{target.mailctl.user}"'
    guide = ", ".join(_q(t) for t in GUIDE_TABLES)
    return [
        Statement.plain(f'GRANT CONNECT ON DATABASE "{target.dbname}" TO {role}'),
        Statement.plain(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}"),
        # Tables made by someone else (the guide's SQL run by hand, an older setup)
        # become mailctl's, so its migrations may alter them.
        Statement.plain(
            "DO $$DECLARE t record; BEGIN FOR t IN SELECT tablename FROM pg_tables"  # noqa: S608
            f" WHERE schemaname = 'public' AND (tablename IN ({guide})"
            " OR tablename LIKE 'mailctl\\_%') LOOP"
            f" EXECUTE format('ALTER TABLE public.%I OWNER TO %I', t.tablename,"
            f" {_q(target.mailctl.user)}); END LOOP; END$$"
        ),
    ]


def postgres_readonly_grants(target: Target, present: set[str] | None = None) -> list[Statement]:
    role = f'"{target.readonly.user}"'
    reads, writes = readonly_tables(present)
    statements = [
        Statement.plain(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"),
        Statement.plain(f'GRANT CONNECT ON DATABASE "{target.dbname}" TO {role}'),
        Statement.plain(f"GRANT USAGE ON SCHEMA public TO {role}"),
        Statement.plain(f"GRANT SELECT ON {', '.join(f'public.{t}' for t in reads)} TO {role}"),
    ]
    if writes:
        statements.append(
            Statement.plain(
                f"GRANT {', '.join(DOVECOT_WRITE_PRIVILEGES)} ON"
                f" {', '.join(f'public.{t}' for t in writes)} TO {role}"
            )
        )
    return statements


def readonly_privileges(present: set[str] | None = None) -> str:
    """What the read-only account may do, in words (setup sql's report line)."""
    reads, writes = readonly_tables(present)
    text = f"SELECT on {', '.join(reads)}"
    if writes:
        text += f"; {'/'.join(DOVECOT_WRITE_PRIVILEGES)} on {', '.join(writes)}"
    return text


def script(target: Target) -> str:
    """The whole setup as one SQL script with passwords masked (`setup sql --print`)."""
    maria = target.backend == "mysql"
    login = mariadb_login if maria else postgres_login
    lines = [
        f"-- mailctl setup sql: {target.dbname} on "
        f"{'MariaDB/MySQL' if maria else 'PostgreSQL'}; passwords masked: mailctl generates",
        f"-- them into {target.mailctl.password_file} and {target.readonly.password_file}.",
    ]
    if maria:
        lines += [s.shown + ";" for s in mariadb_database(target)]
    else:
        lines += ["-- only if the database does not exist yet (run from another database):"]
        lines += [s.shown + ";" for s in postgres_database(target)]
        lines += [f'\\connect "{target.dbname}"']
    lines += [f"-- {target.mailctl.role} account"]
    lines += [s.shown + ";" for s in login(target.mailctl, MASK)]
    grants = mariadb_mailctl_grants if maria else postgres_mailctl_grants
    lines += [s.shown + ";" for s in grants(target)]
    lines += [f"-- {target.readonly.role} account (the table grants need the schema:"]
    lines += ["-- mailctl db upgrade runs as the mailctl account in between)"]
    lines += [s.shown + ";" for s in login(target.readonly, MASK)]
    ro_grants = mariadb_readonly_grants if maria else postgres_readonly_grants
    lines += [s.shown + ";" for s in ro_grants(target)]
    return "\n".join(lines) + "\n"
