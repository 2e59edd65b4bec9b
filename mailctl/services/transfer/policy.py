"""The account policy of an import: the rows it writes, the send-as grants it
adds, and the domain limits it must not pass.

A policy field a row leaves out keeps its stored value (a new account: the
default); send-as grants are added, never removed, as alias destinations are.
The limits are those of `user add`, `user set` and `alias add`, counted over
the whole file against the limits the domain will have after it: a file that
would pass one is refused as a whole, in one line naming the domain.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from mailctl.errors import InvalidInput, LimitReached
from mailctl.model.sizes import exact_size, format_size
from mailctl.services.limits import describe_quota, quota_problem
from mailctl.services.transfer.current import Current
from mailctl.services.transfer.rows import Changes, CheckedUser
from mailctl.store.policy import DomainPolicy, UserPolicy

if TYPE_CHECKING:
    from mailctl.services.transfer.plan import Plan

_SESSIONS = ("suspended", "imap", "pop3", "smtp")  # changes that end open sessions
_SIZES = ("quota_bytes", "default_quota_bytes", "max_quota_bytes")
P = TypeVar("P", UserPolicy, DomainPolicy)


@dataclass(frozen=True)
class PolicyChange(Generic[P]):
    """A policy row an import writes: whose (a domain's name or an address), the row
    (its id filled in when written), the row it replaces (the defaults if none)."""

    key: str
    row: P
    before: P
    stored: bool  # a row exists already: UPDATE, else INSERT

    def details(self) -> str:
        """What changes, as `user set` and `domain set` put it."""
        shown = []
        for field in dataclasses.fields(self.row)[1:]:
            name, value = field.name, getattr(self.row, field.name)
            if value == getattr(self.before, name):
                continue
            label = name.removesuffix("_bytes").replace("_", "-")
            if name == "suspend_reason":  # said by "suspended" when that changes too
                if self.row.suspended == self.before.suspended:
                    shown.append("new reason")
            elif name == "suspended":
                shown.append("suspended" if value else "resumed")
            elif name == "quota_bytes":
                shown.append(f"quota {describe_quota(value)}")
            elif name in _SIZES:
                shown.append(f"{label} {'none' if value is None else format_size(value)}")
            elif name.startswith("max_"):
                shown.append(f"{label} {'none' if value is None else value}")
            else:
                shown.append(f"{name} {'on' if value else 'off'}")
        return ", ".join(shown)


def plan_domain(plan: Plan, current: Current, name: str, changes: Changes) -> bool:
    """The file's policy for a domain into the plan; whether it changes anything.
    InvalidInput: a default quota over the largest."""
    domain_id = current.domains.get(name)
    before = current.domain_policy(domain_id) if domain_id is not None else DomainPolicy(0)
    after = dataclasses.replace(before, **changes)
    if after == before:
        return False
    largest, default = after.max_quota_bytes, after.default_quota_bytes
    if largest is not None and default is not None and default > largest:
        raise InvalidInput(
            f"{name}: default_quota {exact_size(default)} exceeds max_quota {exact_size(largest)}"
        )
    stored = domain_id in current.domain_policies
    plan.domain_policies.append(PolicyChange(name, after, before, stored))
    if domain_id is not None and after.suspended and not before.suspended:
        plan.logins_to_kick.append(f"*@{name}")
    return True


def plan_user(plan: Plan, current: Current, user: CheckedUser, user_id: int | None) -> bool:
    """The file's policy and grants for a mailbox into the plan; whether they change it."""
    if not user.policy and not user.send_as:
        return False
    before = current.user_policy(user_id) if user_id is not None else UserPolicy(0)
    after = dataclasses.replace(before, **user.policy)
    if after != before:
        plan.user_policies.append(
            PolicyChange(user.email, after, before, user_id in current.user_policies)
        )
        # As `user suspend` and `user set`: a session opened before stays open otherwise.
        ended = any(getattr(after, s) != getattr(before, s) for s in _SESSIONS)
        if user_id is not None and ended and (after.suspended or not _services(after)):
            plan.logins_to_kick.append(user.email)
    granted = current.grants.get(user.email, set())
    added = [(user.email, str(t)) for t in user.send_as if str(t) not in granted]
    plan.new_grants += added
    return after != before or bool(added)


def _services(row: UserPolicy) -> bool:
    """Whether every service that holds a session is still on."""
    return bool(row.imap and row.pop3 and row.smtp)


# ------------------------------------------------------------------ the domain limits


def check_limits(plan: Plan, current: Current) -> None:
    """LimitReached for the first domain (by name) the plan takes past max-users or
    max-aliases, or whose max-quota a new or changed quota would exceed."""
    limits = {name: current.domain_policy(i) for name, i in current.domains.items()}
    limits.update({c.key: c.row for c in plan.domain_policies})
    new_users = Counter(domain for _email, domain, _hash in plan.new_users)
    new_aliases = Counter(domain for _source, domain, _dest in plan.new_aliases)
    for adding, counts, what in (
        (new_users, current.user_counts, "users"),
        (new_aliases, current.alias_counts, "aliases"),
    ):
        for name in sorted(adding):
            _check_room(name, limits.get(name), counts, current, adding[name], what)
    for email, domain, quota in _quotas_to_check(plan):
        _check_quota(email, domain, quota, limits.get(domain))


def _check_room(
    name: str,
    limits: DomainPolicy | None,
    counts: Counter[int],
    current: Current,
    adding: int,
    what: str,
) -> None:
    limit = getattr(limits, f"max_{what}", None)
    count = counts[current.domains[name]] if name in current.domains else 0
    if limit is not None and count + adding > limit:
        raise LimitReached(
            f"{name} has {count} of its max-{what} {limit}: the import would add {adding};"
            f" nothing was imported (raise it: mailctl domain set {name} --max-{what} N,"
            f" or max_{what} in the file's row for {name})"
        )


def _quotas_to_check(plan: Plan) -> Iterable[tuple[str, str, int | None]]:
    """(email, domain, quota) of each new mailbox, and of each whose quota changes."""
    rows = {c.key: c for c in plan.user_policies}
    for email, domain, _hash in plan.new_users:
        change = rows.pop(email, None)
        yield email, domain, change.row.quota_bytes if change else None
    for email, change in rows.items():
        if change.row.quota_bytes != change.before.quota_bytes:
            yield email, email.rpartition("@")[2], change.row.quota_bytes


def _check_quota(email: str, domain: str, quota: int | None, limits: DomainPolicy | None) -> None:
    """services.limits' rule, on the limits the domain will have after the import."""
    if problem := quota_problem(email, quota, limits):
        raise LimitReached(f"{problem} ({domain}); nothing was imported")
