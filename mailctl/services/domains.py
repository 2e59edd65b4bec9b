"""Hosted domains: rows in virtual_domains plus the RFC 5321 role aliases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailctl.core.config import Settings
from mailctl.core.tables import VirtualAlias, VirtualDomain, VirtualUser
from mailctl.errors import AlreadyExists, DomainNotHosted, InvalidName, NotFound
from mailctl.model.names import (
    MAX_DOMAIN,
    Address,
    display_domain,
    normalize_domain,
    parse_address,
)
from mailctl.model.rules import not_hosted_message
from mailctl.services import Tx

ROLE_ALIASES = ("postmaster", "abuse")
# Gives a new domain its DKIM keys (rows, and key files through the Tx).
KeyMaker = Callable[[Tx, VirtualDomain], object]


@dataclass(frozen=True)
class DomainInfo:
    name: str
    unicode: str
    users: int
    aliases: int


def find_domain(session: Session, name: str) -> VirtualDomain | None:
    return session.scalars(select(VirtualDomain).where(VirtualDomain.name == name)).first()


def get_domain(session: Session, value: str) -> VirtualDomain:
    try:
        name = normalize_domain(value)
    except InvalidName:
        # A row a hand-made database holds as it is ('bad domain.nl'): found by its
        # exact stored name, so `domain del` can remove it.
        if (stored := find_domain(session, value)) is not None:
            return stored
        raise
    domain = find_domain(session, name)
    if domain is None:
        raise NotFound(not_hosted_message(None, name))
    return domain


def hosted_domain(session: Session, address: Address) -> VirtualDomain:
    """The domain of an address to create (a mailbox or an alias); it must be hosted."""
    domain = find_domain(session, address.domain)
    if domain is None:
        raise DomainNotHosted(not_hosted_message(str(address), address.domain))
    return domain


def add_domain(
    tx: Tx, value: str, *, role_aliases: bool = True, keys: KeyMaker | None = None
) -> VirtualDomain:
    """Insert a domain with its DKIM keys: new ones, as `dkim` makes them, or the
    ones `keys` gives it (an import's). postmaster@ and abuse@ go to server.admin_email."""
    from mailctl.services import aliases, dkim

    name = normalize_domain(value)
    if find_domain(tx.session, name) is not None:
        raise AlreadyExists(f"domain {name} exists already")
    check_record_names(tx.settings, name)
    if mixed := mixed_scripts(name):
        tx.warn(
            f"{display_domain(name)} ({name}) mixes {' and '.join(mixed)} letters in one label:"
            " it can look like another domain (a homoglyph); make sure it is the one you mean"
        )
    domain = VirtualDomain(name=name)
    tx.session.add(domain)
    tx.session.flush()
    tx.record("insert", "virtual_domains", name)
    tx.files_dirty = True
    (keys or dkim.ensure_domain_key)(tx, domain)
    admin = tx.settings.server.admin_email
    if role_aliases and not admin:
        tx.warn(f"server.admin_email is empty: no postmaster@{name} alias created")
    elif role_aliases:
        admin_stored = _stored_address(admin)
        for role in ROLE_ALIASES:
            source = f"{role}@{name}"
            if source != admin_stored:  # the admin's own address is no alias of itself
                aliases.add_alias(tx, source, [admin])
    return domain


def mixed_scripts(name: str) -> list[str]:
    """The scripts whose letters share one label of an IDN, when more than one does
    (Latin `a` beside Cyrillic `а` is the classic look-alike)."""
    import unicodedata

    for label in display_domain(name).split("."):
        scripts = sorted(
            {unicodedata.name(ch, "?").split()[0] for ch in label if ch.isalpha()}
        )
        if len(scripts) > 1:
            return scripts
    return []


def check_record_names(settings: Settings, name: str) -> None:
    """Refuse a domain whose own records could not exist: DNS names end at 253
    characters, and `_submissions._tcp.`, a dated DKIM selector and the like
    come in front of it (dns show --zone would fail named-checkzone)."""
    from mailctl.dns.records import DkimPublication, DnsContext, records_for
    from mailctl.model.dkimstates import DkimState

    dkim = settings.dkim
    # `dkim rotate` makes selectors like mail20261201b: the longest one mailctl makes
    selector = max(dkim.selector, dkim.ed25519_selector, key=len) + "20991231z"
    context = DnsContext(
        hostname=settings.server.hostname,
        ipv4="192.0.2.1",
        dmarc="v=DMARC1; p=none",
        tlsrpt_rua="mailto:tlsrpt@{domain}",
        dkim=(DkimPublication(selector, DkimState.ACTIVE, "v=DKIM1; p="),),
    )
    longest = max(
        (r.name.rstrip(".") for r in records_for(name, context) if r.name.endswith(f".{name}.")),
        key=len,
    )
    if len(longest) > MAX_DOMAIN:
        raise InvalidName(
            f"domain {name} is too long for its DNS records: {longest[:40]}... would have"
            f" {len(longest)} characters, and DNS allows {MAX_DOMAIN}"
        )


def _stored_address(value: str) -> str:
    """`value` as the tables store it (lower-case, A-label domain), if it is an address."""
    try:
        return str(parse_address(value))
    except InvalidName:
        return value.lower()


def delete_domain(
    tx: Tx, value: str, *, purge_maildirs: bool = False, purge_keys: bool = False
) -> DomainInfo:
    """Delete a domain; its users and aliases go with it (ON DELETE CASCADE).
    The purge flags also remove its maildirs and DKIM key files, after the commit."""
    from mailctl.services import aliases

    domain = get_domain(tx.session, value)
    info = domain_info(tx.session, domain)
    pointing = aliases.aliases_pointing_into(tx.session, domain.name, exclude_domain=domain.id)
    aliases.warn_still_pointing(tx, pointing, f"in other domains still point into {domain.name}")
    tx.session.delete(domain)
    tx.session.flush()
    tx.files_dirty = True
    tx.record(
        "delete",
        "virtual_domains",
        domain.name,
        f"cascades to {info.users} user(s) and {info.aliases} alias(es)",
    )
    if purge_maildirs:
        tx.domain_trees_to_remove.append(domain.name)
    if purge_keys:
        tx.key_dirs_to_remove.append(domain.name)
    return info


def domain_info(session: Session, domain: VirtualDomain) -> DomainInfo:
    users = session.scalar(
        select(func.count()).select_from(VirtualUser).where(VirtualUser.domain_id == domain.id)
    )
    alias_count = session.scalar(
        select(func.count()).select_from(VirtualAlias).where(VirtualAlias.domain_id == domain.id)
    )
    return DomainInfo(domain.name, display_domain(domain.name), users or 0, alias_count or 0)


def list_domains(session: Session) -> list[DomainInfo]:
    """All domains with their user and alias counts, in two grouped queries."""
    users = _counts(session, VirtualUser.domain_id)
    alias_counts = _counts(session, VirtualAlias.domain_id)
    rows = session.execute(select(VirtualDomain.id, VirtualDomain.name))
    return sorted(
        (
            DomainInfo(name, display_domain(name), users.get(id_, 0), alias_counts.get(id_, 0))
            for id_, name in rows
        ),
        key=lambda d: d.name,
    )


def _counts(session: Session, column: Any) -> dict[int, int]:
    # A Result has .keys(), so dict(result) would treat it as a mapping.
    query = select(column, func.count()).group_by(column)
    return {key: count for key, count in session.execute(query)}
