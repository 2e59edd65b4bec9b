"""Aliases: one virtual_aliases row per source, destinations comma-separated.

Postfix's virtual_alias_maps query returns `destination` as is, so several
destinations are one value "a@x,b@y". A source `@domain` is a catch-all; a
source `@alias.tld` with destination `@target.tld` makes an alias domain.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailctl.core.tables import VirtualAlias, VirtualDomain, VirtualUser
from mailctl.errors import AlreadyExists, Conflict, DomainNotHosted, InvalidName, NotFound
from mailctl.model.names import Address, parse_address
from mailctl.services import Tx


@dataclass(frozen=True)
class AliasInfo:
    source: str
    destinations: tuple[str, ...]


@dataclass(frozen=True)
class AliasChange:
    source: str
    destinations: tuple[str, ...]  # after the change; empty when the alias is gone
    changed: tuple[str, ...]  # destinations added or removed
    created: bool = False
    deleted: bool = False


def _hosted_domain(session: Session, address: Address) -> VirtualDomain:
    domain = session.scalars(
        select(VirtualDomain).where(VirtualDomain.name == address.domain)
    ).first()
    if domain is None:
        raise DomainNotHosted(
            f"{address}: domain {address.domain} is not hosted here"
            f" (add it first: mailctl domain add {address.domain})"
        )
    return domain


def _rows(session: Session, source: str) -> list[VirtualAlias]:
    return list(
        session.scalars(
            select(VirtualAlias).where(VirtualAlias.source == source).order_by(VirtualAlias.id)
        )
    )


def parse_destinations(source: Address, values: list[str]) -> list[str]:
    """Validate destinations in order, without duplicates."""
    if not values:
        raise InvalidName(f"alias {source}: give at least one destination")
    result: list[str] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            dest = parse_address(part, allow_catchall=True)
            if dest.is_catchall and not source.is_catchall:
                raise InvalidName(
                    f"invalid destination {part.strip()!r}: @domain only works as the"
                    " destination of an alias domain (source @domain too)"
                )
            if str(dest) not in result:
                result.append(str(dest))
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
    domain = _hosted_domain(tx.session, source)
    wanted = parse_destinations(source, values)
    rows = _rows(tx.session, str(source))
    current = [d for row in rows for d in row.destinations]
    merged = current + [d for d in wanted if d not in current]
    added = tuple(d for d in wanted if d not in current)
    if not added:
        raise AlreadyExists(f"alias {source} already delivers to {', '.join(wanted)}")
    _check_merged(tx, source, merged, force=force)
    if rows:
        # A hand-made database may hold several rows per source; extend the first.
        rows[0].destination = ",".join(rows[0].destinations + list(added))
        tx.record("update", "virtual_aliases", str(source), "+ " + ", ".join(added))
    else:
        tx.session.add(
            VirtualAlias(domain_id=domain.id, source=str(source), destination=",".join(added))
        )
        tx.record("insert", "virtual_aliases", str(source), "-> " + ", ".join(added))
    tx.session.flush()
    if source.is_catchall and not current:
        _warn_catchall(tx, domain)
    return AliasChange(str(source), tuple(merged), added, created=not rows)


def _check_merged(tx: Tx, source: Address, merged: list[str], *, force: bool) -> None:
    if any(d.startswith("@") for d in merged) and len(merged) > 1:
        raise Conflict(
            f"alias domain {source}: it would get several destinations"
            f" ({', '.join(merged)}); an alias domain has exactly one"
        )
    is_mailbox = tx.session.scalar(
        select(func.count()).select_from(VirtualUser).where(VirtualUser.email == str(source))
    )
    if is_mailbox:
        if str(source) not in merged and not force:
            raise Conflict(
                f"{source} is a mailbox; an alias for it must keep {source} among its"
                " destinations (forward with a local copy), or use --force"
            )
    elif str(source) in merged:
        raise Conflict(f"alias {source} would point to itself and it is not a mailbox")


def _warn_catchall(tx: Tx, domain: VirtualDomain) -> None:
    mailboxes = tx.session.scalar(
        select(func.count()).select_from(VirtualUser).where(VirtualUser.domain_id == domain.id)
    )
    tx.warn(
        f"catch-all @{domain.name}: with the guide's alias query it also takes the mail of"
        f" the domain's {mailboxes or 0} existing mailbox(es) and of every mailbox added later;"
        " mailctl setup render --catchall-fix writes the map that fixes it (README: Catch-all)"
    )


def delete_alias(tx: Tx, source_value: str, values: list[str] | None = None) -> AliasChange:
    """Remove an alias, or only the named destinations (the alias goes when none is left)."""
    source = parse_address(source_value, allow_catchall=True)
    rows = _rows(tx.session, str(source))
    if not rows:
        raise NotFound(f"alias {source} does not exist (see: mailctl alias list)")
    current = [d for row in rows for d in row.destinations]
    if values:
        remove = [str(parse_address(v, allow_catchall=True)) for v in values]
        unknown = [d for d in remove if d not in current]
        if unknown:
            raise NotFound(f"alias {source} has no destination {', '.join(unknown)}")
        remaining = [d for d in current if d not in remove]
    else:
        remove, remaining = current, []
    if remaining:
        first, *rest = rows
        first.destination = ",".join(remaining)
        for row in rest:
            tx.session.delete(row)
        tx.record("update", "virtual_aliases", str(source), "- " + ", ".join(remove))
    else:
        for row in rows:
            tx.session.delete(row)
        tx.record("delete", "virtual_aliases", str(source), ", ".join(current))
    tx.session.flush()
    return AliasChange(str(source), tuple(remaining), tuple(remove), deleted=not remaining)


def list_aliases(session: Session, domain: str | None = None) -> list[AliasInfo]:
    query = select(VirtualAlias.source, VirtualAlias.destination).order_by(
        VirtualAlias.source, VirtualAlias.id
    )
    if domain is not None:
        query = query.join(VirtualDomain, VirtualDomain.id == VirtualAlias.domain_id).where(
            VirtualDomain.name == domain
        )
    grouped: dict[str, list[str]] = {}
    for source, destination in session.execute(query):
        dests = grouped.setdefault(source, [])
        for part in destination.split(","):
            if part.strip() and part.strip() not in dests:
                dests.append(part.strip())
    return [AliasInfo(s, tuple(dests)) for s, dests in grouped.items()]


def aliases_pointing_to(session: Session, address: str) -> list[AliasInfo]:
    """Aliases with `address` among their destinations (other than its own row)."""
    rows = session.scalars(
        select(VirtualAlias).where(VirtualAlias.destination.contains(address, autoescape=True))
    )
    return [
        AliasInfo(row.source, tuple(row.destinations))
        for row in rows
        if address in row.destinations and row.source != address
    ]


def aliases_pointing_into(session: Session, domain: str, *, exclude_domain: int) -> list[AliasInfo]:
    """Aliases outside a domain whose destinations lie inside it."""
    rows = session.scalars(
        select(VirtualAlias).where(
            VirtualAlias.destination.contains("@" + domain, autoescape=True),
            VirtualAlias.domain_id != exclude_domain,
        )
    )
    return [
        AliasInfo(row.source, tuple(row.destinations))
        for row in rows
        if any(d.rpartition("@")[2] == domain for d in row.destinations)
    ]
