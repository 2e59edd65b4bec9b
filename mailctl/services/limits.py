"""Domain limits, checked wherever a mailbox, an alias or a quota is added:
`user add`, `user set`, `alias add` and `import` refuse what would pass them."""

from __future__ import annotations

from mailctl.errors import LimitReached
from mailctl.model.sizes import format_size
from mailctl.store import guide, policy
from mailctl.store.connection import Db
from mailctl.store.guide import Domain
from mailctl.store.policy import DomainPolicy


def describe_quota(quota: int | None) -> str:
    return "default" if quota is None else "unlimited" if quota == 0 else format_size(quota)


def quota_problem(email: str, quota: int | None, limits: DomainPolicy | None) -> str | None:
    """Why a mailbox's quota (None: the domain's default) breaks the domain's
    max-quota; None when it fits. Unlimited is more than any max-quota."""
    if limits is None or limits.max_quota_bytes is None:
        return None
    largest = limits.max_quota_bytes
    effective = quota if quota is not None else limits.default_quota_bytes
    if effective and effective <= largest:
        return None
    shown = describe_quota(quota) if quota is not None else "the domain's default"
    return f"{email}: quota {shown} exceeds the domain's max-quota {format_size(largest)}"


def check_quota(
    db: Db, domain_id: int, quota: int | None, email: str, row: DomainPolicy | None = None
) -> None:
    """A user's quota must fit the domain's largest (max-quota) (`row`: the domain's
    policy, when the caller has read it already)."""
    if problem := quota_problem(email, quota, row or policy.domain_policy(db, domain_id)):
        raise LimitReached(problem)


def check_room(
    db: Db, domain: Domain, table: str, adding: int = 1, row: DomainPolicy | None = None
) -> None:
    """Refuse what would take a domain past max-users or max-aliases (`row`: the
    domain's policy, when the caller has read it already)."""
    row = row or policy.domain_policy(db, domain.id)
    limit, what = (
        (row.max_users, "users") if table == "virtual_users" else (row.max_aliases, "aliases")
    )
    if limit is None:
        return
    count = guide.count_in_domain(db, table, domain.id)
    if count + adding > limit:
        raise LimitReached(
            f"{domain.name} has {count} of its max-{what} {limit}: cannot add"
            f" {adding if adding > 1 else 'another'} (mailctl domain set {domain.name}"
            f" --max-{what} N)"
        )
