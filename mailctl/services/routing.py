"""Would Postfix deliver mail for an address? Judged with the queries of the maps
`setup render` writes (mailctl.setup.sqlmaps), run here through mailctl's own
connection, in the order virtual(5) applies them: the full address in the alias
maps, then the mailbox map, then the domain's `@domain` catch-all, each alias
destination followed in turn. A mailbox or domain switched off for receiving is
refused by those queries, as it is at RCPT time.
"""

from __future__ import annotations

import re

from mailctl.model.datarecord import datarecord
from mailctl.setup.sqlmaps import ALIAS_MAPS, MAILBOX_DOMAINS, MAILBOX_MAPS, QUERIES
from mailctl.store.connection import Db

MAX_DEPTH = 20  # Postfix stops alias expansion at virtual_alias_recursion_limit (1000)
_VARIABLE = re.compile(r"'%([sd])'")


def _lookup(db: Db, stem: str, address: str) -> list[str]:
    """The rendered map's query with `%s` (the key) and `%d` (its domain) bound."""
    domain = address.rpartition("@")[2]
    params: list[str] = []

    def bind(match: re.Match[str]) -> str:
        params.append(address if match.group(1) == "s" else domain)
        return "?"

    sql = _VARIABLE.sub(bind, QUERIES[stem])
    # One row per destination, or one row holding several, comma-separated (virtual(5)).
    return [part.strip() for (value,) in db.rows(sql, params) for part in str(value).split(",")]


@datarecord(frozen=True)
class DeadEnd:
    """Where mail for an address stops, and why."""

    address: str  # the address Postfix refuses: the one asked about, or an alias's target
    why: str


def undelivered(db: Db, address: str, _depth: int = 0) -> DeadEnd | None:
    """None when mail for `address` reaches a receiving mailbox or leaves for a
    domain hosted elsewhere; else where and why it stops."""
    address = address.lower()
    domain = address.rpartition("@")[2]
    if not _lookup(db, MAILBOX_DOMAINS, domain):
        return None  # not ours: another server's to deliver
    if _depth > MAX_DEPTH:
        return DeadEnd(address, "its aliases loop")
    destinations = _lookup(db, ALIAS_MAPS, address)
    if not destinations and _lookup(db, MAILBOX_MAPS, address):
        return None
    if not destinations:
        destinations = _lookup(db, ALIAS_MAPS, "@" + domain)
    if not destinations:
        return DeadEnd(address, "no receiving mailbox or alias has that address")
    for destination in destinations:
        if destination.lower() == address:  # mapped to itself: the mailbox must receive
            if not _lookup(db, MAILBOX_MAPS, address):
                return DeadEnd(address, "its alias names itself, and no receiving mailbox has it")
            continue
        dead = undelivered(db, destination, _depth + 1)
        if dead is not None:
            return dead
    return None
