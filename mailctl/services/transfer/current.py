"""What an import is compared with: the database as it is, read in six queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mailctl.model.rules import stored_destinations
from mailctl.store import guide, policy
from mailctl.store.connection import Db
from mailctl.store.policy import DomainPolicy, UserPolicy


@dataclass
class Current:
    """The database as an import finds it."""

    domains: dict[str, int]  # name -> id
    users: dict[str, tuple[int, str]]  # email -> (id, stored hash)
    aliases: dict[str, list[tuple[int, str]]]  # source -> [(row id, destination)], by id
    # Account policy: rows by user or domain id (none: the defaults), grants by login.
    user_policies: dict[int, UserPolicy] = field(default_factory=dict)
    domain_policies: dict[int, DomainPolicy] = field(default_factory=dict)
    grants: dict[str, set[str]] = field(default_factory=dict)
    # Rows per domain id, as max-users and max-aliases count them.
    user_counts: Counter[int] = field(default_factory=Counter)
    alias_counts: Counter[int] = field(default_factory=Counter)

    def rows(self, source: str) -> list[str]:
        """The stored destination values of a source's rows, in row order."""
        return [destination for _id, destination in self.aliases.get(source, [])]

    def destinations(self, source: str) -> list[str]:
        """An alias's destinations, as `alias list` shows them (none: no alias)."""
        return stored_destinations(self.rows(source))

    def user_policy(self, user_id: int) -> UserPolicy:
        return self.user_policies.get(user_id) or UserPolicy(user_id)

    def domain_policy(self, domain_id: int) -> DomainPolicy:
        return self.domain_policies.get(domain_id) or DomainPolicy(domain_id)


def read_current(db: Db) -> Current:
    aliases: dict[str, list[tuple[int, str]]] = {}
    alias_counts: Counter[int] = Counter()
    for row in guide.aliases(db):
        aliases.setdefault(row.source, []).append((row.id, row.destination))
        alias_counts[row.domain_id] += 1
    users = guide.users(db)
    grants: dict[str, set[str]] = {}
    for login, address in policy.grants(db):
        grants.setdefault(login, set()).add(address)
    return Current(
        domains={d.name: d.id for d in guide.domains(db)},
        users={u.email: (u.id, u.password) for u in users},
        aliases=aliases,
        user_policies={p.user_id: p for p in policy.user_policies(db)},
        domain_policies={p.domain_id: p for p in policy.domain_policies(db)},
        grants=grants,
        user_counts=Counter(u.domain_id for u in users),
        alias_counts=alias_counts,
    )
