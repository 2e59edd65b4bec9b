"""Account policy (migration 0003): a user's and a domain's policy rows, send-as
grants, and the usage and last-login rows Dovecot writes. A user or domain
without a policy row has the defaults, so rows are written only when needed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, fields
from typing import Any

from mailctl.model.datarecord import datarecord
from mailctl.store.connection import Db
from mailctl.store.guide import like_literal

COLUMNS = {
    "mailctl_user_policy": (
        "user_id",
        "suspended",
        "suspend_reason",
        "imap",
        "pop3",
        "smtp",
        "receive",
        "quota_bytes",
    ),
    "mailctl_domain_policy": (
        "domain_id",
        "suspended",
        "suspend_reason",
        "receive",
        "default_quota_bytes",
        "max_quota_bytes",
        "max_users",
        "max_aliases",
    ),
    "mailctl_sender_grants": ("id", "user_id", "address"),
    "mailctl_quota_usage": ("username", "bytes", "messages"),
    "mailctl_last_login": ("username", "last_login"),
}
SERVICES = ("imap", "pop3", "smtp", "receive")


@datarecord
class UserPolicy:
    """A row of mailctl_user_policy (quota_bytes None: the domain's default; 0: none)."""

    user_id: int
    suspended: int = 0
    suspend_reason: str | None = None
    imap: int = 1
    pop3: int = 1
    smtp: int = 1
    receive: int = 1
    quota_bytes: int | None = None


@datarecord
class DomainPolicy:
    """A row of mailctl_domain_policy (None: no default, no limit)."""

    domain_id: int
    suspended: int = 0
    suspend_reason: str | None = None
    receive: int = 1
    default_quota_bytes: int | None = None
    max_quota_bytes: int | None = None
    max_users: int | None = None
    max_aliases: int | None = None


def _load(db: Db, cls: type, table: str, key: str, value: int) -> object:
    names = COLUMNS[table]
    row = db.row(f"SELECT {', '.join(names)} FROM {table} WHERE {key} = ?", (value,))  # noqa: S608
    return cls(*row) if row else cls(value)


def _save(db: Db, table: str, key: str, row: object) -> None:
    """Insert or update one policy row (an UPDATE's row count cannot tell: MariaDB
    counts changed rows, not matched ones)."""
    names = COLUMNS[table]
    values = [getattr(row, f.name) for f in fields(row)]  # type: ignore[arg-type]
    exists = db.row(f"SELECT 1 FROM {table} WHERE {key} = ?", (values[0],))  # noqa: S608
    if exists:
        assignments = ", ".join(f"{name} = ?" for name in names[1:])
        db.run(
            f"UPDATE {table} SET {assignments} WHERE {key} = ?",  # noqa: S608
            (*values[1:], values[0]),
        )
    else:
        marks = ", ".join("?" for _ in names)
        db.run(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", values)  # noqa: S608


def user_policy(db: Db, user_id: int) -> UserPolicy:
    found = _load(db, UserPolicy, "mailctl_user_policy", "user_id", user_id)
    assert isinstance(found, UserPolicy)  # noqa: S101
    return found


def save_user_policy(db: Db, policy: UserPolicy) -> None:
    _save(db, "mailctl_user_policy", "user_id", policy)


def domain_policy(db: Db, domain_id: int) -> DomainPolicy:
    found = _load(db, DomainPolicy, "mailctl_domain_policy", "domain_id", domain_id)
    assert isinstance(found, DomainPolicy)  # noqa: S101
    return found


def save_domain_policy(db: Db, policy: DomainPolicy) -> None:
    _save(db, "mailctl_domain_policy", "domain_id", policy)


def insert_user_policies(db: Db, rows: Sequence[UserPolicy]) -> None:
    """Many new rows in one statement batch (the new mailboxes of an import)."""
    names = COLUMNS["mailctl_user_policy"]
    marks = ", ".join("?" for _ in names)
    db.run_many(
        f"INSERT INTO mailctl_user_policy ({', '.join(names)}) VALUES ({marks})",  # noqa: S608
        [astuple(row) for row in rows],
    )


def user_policies(db: Db) -> list[UserPolicy]:
    names = ", ".join(COLUMNS["mailctl_user_policy"])
    return [UserPolicy(*row) for row in db.rows(f"SELECT {names} FROM mailctl_user_policy")]  # noqa: S608


def domain_policies(db: Db) -> list[DomainPolicy]:
    names = ", ".join(COLUMNS["mailctl_domain_policy"])
    rows = db.rows(f"SELECT {names} FROM mailctl_domain_policy")  # noqa: S608
    return [DomainPolicy(*row) for row in rows]


# ------------------------------------------------------------------ send-as grants


def grants(db: Db, user_id: int | None = None) -> list[tuple[str, str]]:
    """(login, address) of every grant, or of one login's, by login and address."""
    sql = (
        "SELECT u.email, g.address FROM mailctl_sender_grants g"
        " JOIN virtual_users u ON u.id = g.user_id"
    )
    if user_id is None:
        return db.rows(sql + " ORDER BY u.email, g.address")
    return db.rows(sql + " WHERE g.user_id = ? ORDER BY g.address", (user_id,))


def has_grant(db: Db, user_id: int, address: str) -> bool:
    found = db.row(
        "SELECT 1 FROM mailctl_sender_grants WHERE user_id = ? AND address = ?",
        (user_id, address),
    )
    return found is not None


def add_grant(db: Db, user_id: int, address: str) -> None:
    db.run("INSERT INTO mailctl_sender_grants (user_id, address) VALUES (?, ?)", (user_id, address))


def add_grants(db: Db, rows: Sequence[tuple[int, str]]) -> None:
    db.run_many("INSERT INTO mailctl_sender_grants (user_id, address) VALUES (?, ?)", rows)


def delete_grant(db: Db, user_id: int, address: str) -> int:
    return db.run(
        "DELETE FROM mailctl_sender_grants WHERE user_id = ? AND address = ?", (user_id, address)
    )


# ------------------------------------------------------------------ what Dovecot writes


def forget_login(db: Db, email: str) -> None:
    """Drop the usage and last-login rows Dovecot wrote for a deleted mailbox."""
    db.run("DELETE FROM mailctl_quota_usage WHERE username = ?", (email,))
    db.run("DELETE FROM mailctl_last_login WHERE username = ?", (email,))


def forget_domain_logins(db: Db, domain: str) -> None:
    """The same for every mailbox of a deleted domain."""
    pattern = "%@" + like_literal(domain)
    for table in ("mailctl_quota_usage", "mailctl_last_login"):
        db.run(f"DELETE FROM {table} WHERE username LIKE ? ESCAPE '!'", (pattern,))  # noqa: S608


# user_rows' flags: which of a mailbox's settings differ from the defaults.
SUSPENDED, NO_IMAP, NO_POP3, NO_SMTP, NO_RECEIVE = 1, 2, 4, 8, 16


def user_rows(db: Db, domain: str | None = None, email: str | None = None) -> list[tuple[Any, ...]]:
    """Per mailbox, by email: email, the hash's first 24 characters (all a listing
    needs of it), the quota in force (its own, else the domain's default), bytes
    used, last login, and the flags above (NULL when it has no policy at all).

    One query of six columns: PyMySQL decodes every column of every row in
    Python, so folding five flags into one halves a 100,000-row listing. The
    side tables are joined only when they hold rows (most servers set no policy,
    and usage comes only once Dovecot writes it): for 10,000 mailboxes the joins
    cost as much as the rest of the query. The rows are sorted here, by code
    point: MariaDB's filesort of them took as long again."""
    policies, usage, logins = db.row(
        "SELECT EXISTS (SELECT 1 FROM mailctl_user_policy)"
        " OR EXISTS (SELECT 1 FROM mailctl_domain_policy),"
        " EXISTS (SELECT 1 FROM mailctl_quota_usage), EXISTS (SELECT 1 FROM mailctl_last_login)"
    ) or (1, 1, 1)
    columns = ["u.email", "SUBSTR(u.password, 1, 24)", "NULL", "NULL", "NULL", "NULL"]
    joins = []
    if policies:
        columns[2] = "COALESCE(p.quota_bytes, dp.default_quota_bytes)"
        columns[5] = _FLAGS
        joins += [
            " LEFT JOIN mailctl_user_policy p ON p.user_id = u.id",
            " LEFT JOIN mailctl_domain_policy dp ON dp.domain_id = u.domain_id",
        ]
    if usage:
        columns[3] = "q.bytes"
        joins.append(" LEFT JOIN mailctl_quota_usage q ON q.username = u.email")
    if logins:
        columns[4] = "l.last_login"
        joins.append(" LEFT JOIN mailctl_last_login l ON l.username = u.email")
    sql = f"SELECT {', '.join(columns)} FROM virtual_users u{''.join(joins)}"  # noqa: S608
    if email is not None:
        return db.rows(sql + " WHERE u.email = ?", (email,))
    if domain is None:
        rows = db.rows(sql)
    else:
        rows = db.rows(
            sql + " JOIN virtual_domains d ON d.id = u.domain_id WHERE d.name = ?", (domain,)
        )
    rows.sort(key=_first)
    return rows


# The policy flags in one column (see user_rows).
_FLAGS = (
    "CASE WHEN p.user_id IS NULL AND dp.domain_id IS NULL THEN NULL ELSE"
    f" {SUSPENDED} * (CASE WHEN COALESCE(p.suspended, 0) + COALESCE(dp.suspended, 0) > 0"
    " THEN 1 ELSE 0 END)"
    f" + {NO_IMAP} * (1 - COALESCE(p.imap, 1)) + {NO_POP3} * (1 - COALESCE(p.pop3, 1))"
    f" + {NO_SMTP} * (1 - COALESCE(p.smtp, 1))"
    f" + {NO_RECEIVE} * (1 - COALESCE(p.receive, 1) * COALESCE(dp.receive, 1)) END"
)


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def in_use(db: Db) -> dict[str, int]:
    """How many rows use each kind of policy: what the server must then enforce."""
    row = db.row(
        "SELECT"
        " (SELECT COUNT(*) FROM mailctl_user_policy WHERE suspended = 1)"
        " + (SELECT COUNT(*) FROM mailctl_domain_policy WHERE suspended = 1),"
        " (SELECT COUNT(*) FROM mailctl_user_policy WHERE imap = 0 OR pop3 = 0 OR smtp = 0),"
        " (SELECT COUNT(*) FROM mailctl_user_policy WHERE receive = 0)"
        " + (SELECT COUNT(*) FROM mailctl_domain_policy WHERE receive = 0),"
        " (SELECT COUNT(*) FROM mailctl_user_policy WHERE quota_bytes > 0)"
        " + (SELECT COUNT(*) FROM mailctl_domain_policy WHERE default_quota_bytes > 0),"
        " (SELECT COUNT(*) FROM mailctl_sender_grants)"
    )
    assert row is not None  # noqa: S101 - a SELECT of counts returns one row
    names = ("suspended", "services", "receive", "quota", "grants")
    return {name: int(count) for name, count in zip(names, row, strict=True)}
