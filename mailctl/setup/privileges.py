"""What makes `setup sql` all-or-nothing: the admin's privileges checked before
anything changes, and an account's grants put back when a change fails halfway.

MariaDB commits every GRANT and REVOKE on its own, so `REVOKE ALL` followed by
a failing `GRANT` would leave mailctl's account with nothing. Two defences:
the admin must visibly hold what the statements need (CREATE USER, and each
privilege WITH GRANT OPTION) before the first one runs, and an account's
grants are read before they are reset and replayed if a statement fails.
PostgreSQL needs neither trick: its role and grant statements run in one
transaction (see accounts.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailctl.errors import DatabaseError, MailctlError
from mailctl.setup.sqlscript import MARIADB_MAILCTL_PRIVILEGES, Account, Statement

if TYPE_CHECKING:
    from sqlalchemy import Connection

# SHOW GRANTS repeats the password hash; a replayed grant must not reset it.
_IDENTIFIED = re.compile(r" IDENTIFIED (?:BY PASSWORD '[^']*'|VIA .*?)(?= WITH |$)")


def _rows(conn: Connection, sql: str, **params: str) -> list[tuple[str, ...]]:
    from sqlalchemy import text

    result = conn.execution_options(no_parameters=False).execute(text(sql), params)
    return [tuple(row) for row in result]


def mariadb_missing(conn: Connection, dbname: str) -> list[str]:
    """What the admin lacks for setup sql on `dbname`: [] when it holds it all.

    Privileges that come through a role are not listed in information_schema,
    so an admin with an enabled role is not judged here; `regrant` still
    covers it."""
    if _rows(
        conn, "SELECT ROLE_NAME FROM information_schema.ENABLED_ROLES WHERE ROLE_NAME IS NOT NULL"
    ):
        return []
    ((current,),) = _rows(conn, "SELECT CURRENT_USER()")
    user, _, host = current.rpartition("@")
    held = _rows(
        conn,
        "SELECT 'global', PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES"
        " WHERE GRANTEE = :grantee UNION ALL"
        " SELECT 'schema', PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES"
        " WHERE GRANTEE = :grantee AND :db LIKE TABLE_SCHEMA",
        grantee=f"'{user}'@'{host}'",
        db=dbname,
    )
    missing = [] if ("global", "CREATE USER") in {(s, p) for s, p, _ in held} else ["CREATE USER"]
    grantable = {p for _, p, g in held if g == "YES"}
    lacking = [p for p in MARIADB_MAILCTL_PRIVILEGES if p not in grantable]
    if lacking:
        missing.append(f"{', '.join(lacking)} WITH GRANT OPTION on {dbname}.*")
    return missing


def refuse_weak_admin(conn: Connection, dbname: str) -> None:
    missing = mariadb_missing(conn, dbname)
    if missing:
        ((current,),) = _rows(conn, "SELECT CURRENT_USER()")
        raise MailctlError(
            f"the admin account {current} lacks {' and '.join(missing)}; nothing was"
            " changed: use an admin that has them (e.g. root)"
        )


def _grants_of(conn: Connection, who: str) -> list[str]:
    try:
        rows = conn.exec_driver_sql(f"SHOW GRANTS FOR {who}").all()
    except DatabaseError:  # the account does not exist yet: nothing to restore
        return []
    return [_IDENTIFIED.sub("", row[0]) for row in rows]


def run_statements(conn: Connection, statements: Sequence[Statement]) -> None:
    """Run each statement; the first failure becomes one line naming it (masked)."""
    for statement in statements:
        try:
            conn.exec_driver_sql(statement.sql)
        except DatabaseError as exc:  # the engine's one-line form of the driver error
            raise MailctlError(f"{statement.shown}: {exc}") from None


def regrant(conn: Connection, account: Account, who: str, statements: Sequence[Statement]) -> None:
    """Run REVOKE/GRANT `statements` for `account` (`who`: its quoted name); if one
    fails, replay the grants it had before and say which state it is left in."""
    before = _grants_of(conn, who)
    try:
        run_statements(conn, statements)
    except MailctlError as exc:
        try:
            run_statements(conn, [Statement.plain(grant) for grant in before])
        except MailctlError:
            raise MailctlError(
                f"{exc}; the {account.role} account {account.user} is left with fewer"
                f" privileges than before: it had {'; '.join(before)}"
            ) from None
        raise MailctlError(
            f"{exc}; the {account.role} account {account.user} keeps the privileges it had"
        ) from None
