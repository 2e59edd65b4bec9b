"""Reports over every mailbox: quota usage and inactivity, from what Dovecot
wrote into mailctl_quota_usage and mailctl_last_login (no doveadm per user)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mailctl.store import policy
from mailctl.store.connection import Db


@dataclass(frozen=True)
class Mailbox:
    """One mailbox as the listings and reports show it."""

    email: str
    head: str  # the hash's first characters: enough for its scheme
    suspended: bool  # the user or its domain
    services_off: tuple[str, ...]
    quota: int | None  # bytes; None: unlimited
    used: int | None  # bytes; None: Dovecot has written nothing yet
    last_login: int | None  # Unix time

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
        if self.suspended:
            return "suspended"
        if self.services_off:
            return "no " + ",".join(self.services_off)
        return "active"


def mailboxes(db: Db, domain: str | None = None, email: str | None = None) -> list[Mailbox]:
    """Every mailbox (of a domain, or the one `email`), by email."""
    result = []
    for row in policy.user_rows(db, domain, email):
        email, head, suspended, own, default, used, last, *flags = row
        quota = own if own is not None else default
        names = ("imap", "pop3", "smtp", "receive")
        off = tuple(n for n, flag in zip(names, flags, strict=True) if flag == 0)
        result.append(
            Mailbox(
                str(email),
                str(head),
                bool(suspended),
                off,
                int(quota) if quota else None,
                int(used) if used is not None else None,
                int(last) if last is not None else None,
            )
        )
    return result


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
