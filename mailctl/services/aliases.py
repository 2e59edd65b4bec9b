"""Aliases: one virtual_aliases row per source, destinations comma-separated.

Postfix's virtual_alias_maps query returns `destination` as is, so several
destinations are one value "a@x,b@y". A source `@domain` is a catch-all; a
source `@alias.tld` with destination `@target.tld` makes an alias domain.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailctl.errors import AlreadyExists, Conflict, InvalidName, NotFound
from mailctl.model.datarecord import datarecord
from mailctl.model.names import Address, parse_address
from mailctl.model.rules import (
    alias_problem,
    catchall_warning,
    join_destinations,
    merge_destinations,
    split_destinations,
    stored_destinations,
)
from mailctl.services import Tx, limits
from mailctl.services.domains import hosted_domain
from mailctl.store import guide
from mailctl.store.connection import Db
from mailctl.store.guide import Domain


@datarecord(frozen=True)
class AliasInfo:
    """An alias source and its destinations."""

    source: str
    destinations: tuple[str, ...]


@datarecord(frozen=True)
class AliasChange:
    """What `alias add` or `alias del` did to one source."""

    source: str
    destinations: tuple[str, ...]  # after the change; empty when the alias is gone
    changed: tuple[str, ...]  # destinations added or removed
    created: bool = False
    deleted: bool = False


def alias_destinations(db: Db, source: str) -> list[str]:
    """The destinations of an alias (none: there is no alias `source`)."""
    return stored_destinations(row.destination for row in guide.alias_rows(db, source))


def parse_destinations(source: Address, values: list[str]) -> list[str]:
    """Validate destinations in order, without duplicates."""
    if not values:
        raise InvalidName(f"alias {source}: give at least one destination")
    checked: dict[str, None] = {}  # ordered and linear: each destination once
    for value in values:
        for part in split_destinations(value):
            dest = parse_address(part, allow_catchall=True)
            if dest.is_catchall and not source.is_catchall:
                raise InvalidName(
                    f"invalid destination {part!r}: @domain only works as the"
                    " destination of an alias domain (source @domain too)"
                )
            checked[str(dest)] = None
    result = list(checked)
    if not result:
        raise InvalidName(f"alias {source}: give at least one destination")
    domain_targets = [d for d in result if d.startswith("@")]
    if domain_targets and len(result) > 1:
        raise InvalidName(
            f"alias domain {source} -> {domain_targets[0]}: an alias domain has exactly one"
            " @domain destination"
        )
    return result


def add_alias(tx: Tx, source_value: str, values: list[str], *, force: bool = False) -> AliasChange:
    """Create an alias or add destinations to it (existing ones are kept, none doubled)."""
    source = parse_address(source_value, allow_catchall=True)
    domain = hosted_domain(tx.db, source)
    wanted = parse_destinations(source, values)
    rows = guide.alias_rows(tx.db, str(source))
    merge = merge_destinations((row.destination for row in rows), wanted)
    if not merge.added:
        raise AlreadyExists(f"alias {source} already delivers to {', '.join(wanted)}")
    problem = alias_problem(
        str(source),
        merge.merged,
        is_mailbox=guide.is_mailbox(tx.db, str(source)),
        force=force,
        offer_force=True,
    )
    if problem:
        raise Conflict(problem)
    if not rows:
        limits.check_room(tx.db, domain, "virtual_aliases")
    if rows:
        # A hand-made database may hold several rows per source; extend the first.
        guide.set_destination(tx.db, rows[0].id, merge.first_row(rows[0].destination))
        record_extended(tx, str(source), merge.added)
    else:
        guide.insert_alias(tx.db, domain.id, str(source), join_destinations(merge.added))
        record_created(tx, str(source), merge.added)
    if source.is_catchall and not merge.present:
        tx.warn(catchall_warning(domain.name, _mailboxes(tx.db, domain)))
    _warn_loops(tx, str(source), set(merge.added))
    return AliasChange(str(source), merge.merged, merge.added, created=not rows)


def _warn_loops(tx: Tx, source: str, added: set[str]) -> None:
    """a -> b while b -> a (or @a -> @b while @b -> @a): allowed, as Postfix allows
    it, but said, since such mail bounces at Postfix's alias expansion limit. One
    query for all new destinations: an alias may have tens of thousands."""
    for row in guide.aliases_containing(tx.db, source):
        other = row.source
        if other in added and source in split_destinations(row.destination):
            tx.warn(
                f"alias loop: {source} -> {other} -> {source}; Postfix bounces such mail"
                " once its alias expansion limit is reached"
            )


def record_created(tx: Tx, source: str, destinations: Sequence[str]) -> None:
    tx.record("insert", "virtual_aliases", source, "-> " + ", ".join(destinations))


def record_extended(tx: Tx, source: str, added: Sequence[str]) -> None:
    tx.record("update", "virtual_aliases", source, "+ " + ", ".join(added))


def _mailboxes(db: Db, domain: Domain) -> int:
    return guide.count_in_domain(db, "virtual_users", domain.id)


def delete_alias(tx: Tx, source_value: str, values: list[str] | None = None) -> AliasChange:
    """Remove an alias, or only the named destinations (the alias goes when none is left)."""
    source = parse_address(source_value, allow_catchall=True)
    rows = guide.alias_rows(tx.db, str(source))
    if not rows:
        raise NotFound(f"alias {source} does not exist (see: mailctl alias list)")
    current = stored_destinations(row.destination for row in rows)
    if values:
        remove = [str(parse_address(v, allow_catchall=True)) for v in values]
        known, removed = set(current), set(remove)
        unknown = [d for d in remove if d not in known]
        if unknown:
            raise NotFound(f"alias {source} has no destination {', '.join(unknown)}")
        remaining = [d for d in current if d not in removed]
    else:
        remove, remaining = current, []
    if remaining:
        first, *rest = rows
        guide.set_destination(tx.db, first.id, join_destinations(remaining))
        guide.delete_aliases(tx.db, rest)
        tx.record("update", "virtual_aliases", str(source), "- " + ", ".join(remove))
    else:
        guide.delete_aliases(tx.db, rows)
        tx.record("delete", "virtual_aliases", str(source), ", ".join(current))
    return AliasChange(str(source), tuple(remaining), tuple(remove), deleted=not remaining)


def list_aliases(db: Db, domain: str | None = None) -> list[AliasInfo]:
    grouped: dict[str, list[str]] = {}
    for source, destination in guide.alias_pairs(db, domain):
        grouped.setdefault(source, []).append(destination)
    return [AliasInfo(s, tuple(stored_destinations(values))) for s, values in grouped.items()]


def aliases_pointing_to(db: Db, address: str) -> list[AliasInfo]:
    """Aliases with `address` among their destinations (other than its own row)."""
    rows = guide.aliases_containing(db, address)
    return [
        AliasInfo(row.source, tuple(row.destinations))
        for row in rows
        if address in row.destinations and row.source != address
    ]


def warn_still_pointing(tx: Tx, pointing: Sequence[AliasInfo], how: str) -> None:
    """After deleting a mailbox or a domain: the aliases that still point to it."""
    if pointing:
        sources = ", ".join(sorted(a.source for a in pointing))
        tx.warn(f"{len(pointing)} alias(es) {how}: {sources}")


def aliases_pointing_into(db: Db, domain: str, *, exclude_domain: int) -> list[AliasInfo]:
    """Aliases outside a domain whose destinations lie inside it."""
    rows = guide.aliases_containing(db, "@" + domain, outside_domain=exclude_domain)
    return [
        AliasInfo(row.source, tuple(row.destinations))
        for row in rows
        if any(d.rpartition("@")[2] == domain for d in row.destinations)
    ]
