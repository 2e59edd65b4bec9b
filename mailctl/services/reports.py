"""Reports over every mailbox: quota usage and inactivity, from what Dovecot
wrote into mailctl_quota_usage and mailctl_last_login (no doveadm per user)."""

from __future__ import annotations

import time
from typing import NamedTuple

from mailctl.store import policy
from mailctl.store.connection import Db


class Mailbox(NamedTuple):
    """One mailbox as the listings and reports show it (a tuple: a listing makes
    100,000 of them)."""

    email: str
    head: str  # the hash's first characters: enough for its scheme
    quota: int | None  # bytes in force; None or 0: unlimited
    used: int | None  # bytes; None: Dovecot has written nothing yet
    last_login: int | None  # Unix time
    flags: int | None  # policy.SUSPENDED, NO_IMAP, ...; None: all defaults

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    @property
    def percent(self) -> float | None:
        if not self.quota or self.used is None:
            return None
        return 100.0 * self.used / self.quota

    @property
    def status(self) -> str:
        return status_of(self.flags)


def status_of(flags: int | None) -> str:
    """A mailbox's status from its policy flags (policy.user_rows)."""
    if not flags:
        return "active"
    if flags & policy.SUSPENDED:
        return "suspended"
    return "no " + ",".join(name for bit, name in _SERVICES if flags & bit)


_SERVICES = (
    (policy.NO_IMAP, "imap"),
    (policy.NO_POP3, "pop3"),
    (policy.NO_SMTP, "smtp"),
    (policy.NO_RECEIVE, "receive"),
)


def mailboxes(db: Db, domain: str | None = None, email: str | None = None) -> list[Mailbox]:
    """Every mailbox (of a domain, or the one `email`), by email."""
    return [Mailbox._make(row) for row in policy.user_rows(db, domain, email)]


def usage(db: Db, domain: str | None = None) -> tuple[list[Mailbox], dict[str, tuple[int, int]]]:
    """Mailboxes by % of quota used, highest first (no quota last), and per domain
    (bytes used, bytes of quota)."""
    boxes = mailboxes(db, domain)
    totals: dict[str, tuple[int, int]] = {}
    for box in boxes:
        used, quota = totals.get(box.domain, (0, 0))
        totals[box.domain] = (used + (box.used or 0), quota + (box.quota or 0))
    boxes.sort(key=lambda b: (b.percent is None, -(b.percent or 0.0), b.email))
    return boxes, dict(sorted(totals.items()))


def inactive(db: Db, days: int, now: float | None = None) -> list[Mailbox]:
    """Mailboxes with no login since the start (UTC) of the day `days` days ago, or
    never, the longest idle first: `--days 0` lists who has not logged in today."""
    today = int(time.time() if now is None else now) // 86400 * 86400
    cutoff = today - days * 86400
    idle = [b for b in mailboxes(db) if b.last_login is None or b.last_login < cutoff]
    return sorted(idle, key=lambda b: (b.last_login is not None, b.last_login or 0, b.email))
