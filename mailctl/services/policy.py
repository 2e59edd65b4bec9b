"""Account policy: suspension, per-service access, quotas and domain limits.

The rows live in mailctl_user_policy and mailctl_domain_policy; the queries
`setup render` writes make Postfix and Dovecot enforce them. Suspending ends
the open sessions too (commands.kick), after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailctl.errors import Conflict, InvalidInput, LimitReached
from mailctl.model.sizes import format_size, parse_size
from mailctl.services import Tx
from mailctl.services.domains import get_domain
from mailctl.services.limits import check_quota, describe_quota
from mailctl.services.users import get_user
from mailctl.store import guide, policy
from mailctl.store.guide import Domain
from mailctl.store.policy import DomainPolicy, UserPolicy

SERVICE_NAMES = {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP AUTH", "receive": "receiving"}
MAX_REASON = 255


def _reason(text: str | None) -> str | None:
    if text is None:
        return None
    if len(text) > MAX_REASON or not text.isprintable():
        raise InvalidInput(f"--reason: at most {MAX_REASON} printable characters")
    return text or None


def parse_quota(text: str) -> int | None:
    """`default` (None: the domain's default), `unlimited` (0) or a size."""
    lowered = text.strip(" ").lower()
    if lowered == "default":
        return None
    if lowered in ("unlimited", "none"):
        return 0
    size = parse_size(text)
    if size == 0:
        raise InvalidInput("a quota of 0 bytes: use 'unlimited' for no quota")
    return size


def parse_limit(text: str, *, size: bool) -> int | None:
    """A domain limit: a size or a count, or `none` to lift it."""
    if text.strip(" ").lower() in ("none", "unlimited"):
        return None
    if size:
        return parse_size(text)
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise InvalidInput(f"invalid count {text!r}: a whole number, or 'none'")
    return int(text)


def effective_quota(user: UserPolicy, domain: DomainPolicy) -> int | None:
    """The quota Dovecot applies, in bytes; None: unlimited."""
    quota = user.quota_bytes if user.quota_bytes is not None else domain.default_quota_bytes
    return quota or None


# ------------------------------------------------------------------ users


def suspend_user(tx: Tx, value: str, reason: str | None) -> str:
    user = get_user(tx.db, value)
    row = policy.user_policy(tx.db, user.id)
    if row.suspended:
        raise Conflict(f"user {user.email} is suspended already")
    row.suspended, row.suspend_reason = 1, _reason(reason)
    policy.save_user_policy(tx.db, row)
    tx.record("update", "mailctl_user_policy", user.email, "suspended")
    tx.logins_to_kick.append(user.email)
    return user.email


def resume_user(tx: Tx, value: str) -> str:
    user = get_user(tx.db, value)
    row = policy.user_policy(tx.db, user.id)
    if not row.suspended:
        raise Conflict(f"user {user.email} is not suspended")
    row.suspended, row.suspend_reason = 0, None
    policy.save_user_policy(tx.db, row)
    tx.record("update", "mailctl_user_policy", user.email, "resumed")
    return user.email


def set_user(
    tx: Tx, value: str, *, quota: str | None = None, services: dict[str, bool] | None = None
) -> UserPolicy:
    """Change a mailbox's quota and the services it may use."""
    user = get_user(tx.db, value)
    row = policy.user_policy(tx.db, user.id)
    details = []
    if quota is not None:
        row.quota_bytes = parse_quota(quota)
        check_quota(tx.db, user.domain_id, row.quota_bytes, user.email)
        details.append(f"quota {describe_quota(row.quota_bytes)}")
    for service, on in (services or {}).items():
        setattr(row, service, int(on))
        details.append(f"{service} {'on' if on else 'off'}")
    if not details:
        raise InvalidInput("nothing to change: give --quota or a service option")
    policy.save_user_policy(tx.db, row)
    tx.record("update", "mailctl_user_policy", user.email, ", ".join(details))
    if services and not all(services.values()):
        tx.logins_to_kick.append(user.email)  # a session opened before stays open otherwise
    return row


# ------------------------------------------------------------------ domains


@dataclass(frozen=True)
class DomainLimits:
    """What `domain set` was given: None leaves a value as it is."""

    default_quota: str | None = None
    max_quota: str | None = None
    max_users: str | None = None
    max_aliases: str | None = None


def set_domain(tx: Tx, value: str, limits: DomainLimits) -> DomainPolicy:
    domain = get_domain(tx.db, value)
    row = policy.domain_policy(tx.db, domain.id)
    details = []
    for name, text, size in (
        ("default_quota_bytes", limits.default_quota, True),
        ("max_quota_bytes", limits.max_quota, True),
        ("max_users", limits.max_users, False),
        ("max_aliases", limits.max_aliases, False),
    ):
        if text is not None:
            parsed = parse_limit(text, size=size)
            setattr(row, name, parsed)
            shown = "none" if parsed is None else format_size(parsed) if size else str(parsed)
            details.append(f"{name.removesuffix('_bytes').replace('_', '-')} {shown}")
    if not details:
        raise InvalidInput(
            "nothing to change: give --default-quota, --max-quota, --max-users or --max-aliases"
        )
    if (
        row.max_quota_bytes is not None
        and row.default_quota_bytes is not None
        and row.default_quota_bytes > row.max_quota_bytes
    ):
        raise LimitReached(
            f"{domain.name}: default-quota {format_size(row.default_quota_bytes)} exceeds"
            f" max-quota {format_size(row.max_quota_bytes)}"
        )
    policy.save_domain_policy(tx.db, row)
    tx.record("update", "mailctl_domain_policy", domain.name, ", ".join(details))
    _warn_over_limits(tx, domain, row)
    return row


def _warn_over_limits(tx: Tx, domain: Domain, row: DomainPolicy) -> None:
    """Limits below what a domain has are kept (nothing is deleted), and said."""
    for table, limit, what in (
        ("virtual_users", row.max_users, "users"),
        ("virtual_aliases", row.max_aliases, "aliases"),
    ):
        count = guide.count_in_domain(tx.db, table, domain.id)
        if limit is not None and count > limit:
            tx.warn(
                f"{domain.name} has {count} {what}, more than max-{what} {limit}: no new ones"
                " until some are deleted"
            )


def suspend_domain(tx: Tx, value: str, reason: str | None, *, receive: bool = True) -> str:
    domain = get_domain(tx.db, value)
    row = policy.domain_policy(tx.db, domain.id)
    if row.suspended:
        raise Conflict(f"domain {domain.name} is suspended already")
    row.suspended, row.suspend_reason, row.receive = 1, _reason(reason), int(receive)
    policy.save_domain_policy(tx.db, row)
    detail = "suspended" if receive else "suspended, mail refused"
    tx.record("update", "mailctl_domain_policy", domain.name, detail)
    tx.logins_to_kick.append(f"*@{domain.name}")
    return domain.name


def resume_domain(tx: Tx, value: str) -> str:
    domain = get_domain(tx.db, value)
    row = policy.domain_policy(tx.db, domain.id)
    if not row.suspended:
        raise Conflict(f"domain {domain.name} is not suspended")
    row.suspended, row.suspend_reason, row.receive = 0, None, 1
    policy.save_domain_policy(tx.db, row)
    tx.record("update", "mailctl_domain_policy", domain.name, "resumed")
    return domain.name
