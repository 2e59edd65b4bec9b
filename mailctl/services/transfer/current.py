"""What an import is compared with: the database as it is, read in three queries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailctl.core.tables import VirtualAlias, VirtualDomain, VirtualUser
from mailctl.model.rules import stored_destinations


@dataclass
class Current:
    domains: dict[str, int]  # name -> id
    users: dict[str, tuple[int, str]]  # email -> (id, stored hash)
    aliases: dict[str, list[tuple[int, str]]]  # source -> [(row id, destination)], by id

    def rows(self, source: str) -> list[str]:
        """The stored destination values of a source's rows, in row order."""
        return [destination for _id, destination in self.aliases.get(source, [])]

    def destinations(self, source: str) -> list[str]:
        """An alias's destinations, as `alias list` shows them (none: no alias)."""
        return stored_destinations(self.rows(source))


def read_current(session: Session) -> Current:
    aliases: dict[str, list[tuple[int, str]]] = {}
    rows = session.execute(
        select(VirtualAlias.id, VirtualAlias.source, VirtualAlias.destination).order_by(
            VirtualAlias.id
        )
    )
    for id_, source, destination in rows:
        aliases.setdefault(source, []).append((id_, destination))
    return Current(
        domains={
            name: id_ for id_, name in session.execute(select(VirtualDomain.id, VirtualDomain.name))
        },
        users={
            email: (id_, password)
            for id_, email, password in session.execute(
                select(VirtualUser.id, VirtualUser.email, VirtualUser.password)
            )
        },
        aliases=aliases,
    )
