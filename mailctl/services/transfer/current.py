"""What an import is compared with: the database as it is, read in three queries."""

from __future__ import annotations

from dataclasses import dataclass

from mailctl.model.rules import stored_destinations
from mailctl.store import guide
from mailctl.store.connection import Db


@dataclass
class Current:
    """The database as an import finds it."""

    domains: dict[str, int]  # name -> id
    users: dict[str, tuple[int, str]]  # email -> (id, stored hash)
    aliases: dict[str, list[tuple[int, str]]]  # source -> [(row id, destination)], by id

    def rows(self, source: str) -> list[str]:
        """The stored destination values of a source's rows, in row order."""
        return [destination for _id, destination in self.aliases.get(source, [])]

    def destinations(self, source: str) -> list[str]:
        """An alias's destinations, as `alias list` shows them (none: no alias)."""
        return stored_destinations(self.rows(source))


def read_current(db: Db) -> Current:
    aliases: dict[str, list[tuple[int, str]]] = {}
    for row in guide.aliases(db):
        aliases.setdefault(row.source, []).append((row.id, row.destination))
    return Current(
        domains={d.name: d.id for d in guide.domains(db)},
        users={u.email: (u.id, u.password) for u in guide.users(db)},
        aliases=aliases,
    )
