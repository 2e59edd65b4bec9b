"""Hosted domains: rows in virtual_domains plus the RFC 5321 role aliases."""

from __future__ import annotations

from collections.abc import Callable

from mailctl.core.config import Settings
from mailctl.errors import AlreadyExists, DomainNotHosted, InvalidName, NotFound
from mailctl.model.datarecord import datarecord
from mailctl.model.names import (
    MAX_DOMAIN,
    Address,
    display_domain,
    normalize_domain,
    parse_address,
)
from mailctl.model.rules import not_hosted_message
from mailctl.services import Tx
from mailctl.store import guide, policy
from mailctl.store.connection import Db
from mailctl.store.guide import Domain

ROLE_ALIASES = ("postmaster", "abuse")
# Gives a new domain its DKIM keys (rows, and key files through the Tx).
KeyMaker = Callable[[Tx, Domain], object]


@datarecord(frozen=True)
class DomainInfo:
    """A domain with its user and alias counts."""

    name: str
    unicode: str
    users: int
    aliases: int


def get_domain(db: Db, value: str) -> Domain:
    try:
        name = normalize_domain(value)
    except InvalidName:
        # A row a hand-made database holds as it is ('bad domain.nl'): found by its
        # exact stored name, so `domain del` can remove it.
        if (stored := guide.find_domain(db, value)) is not None:
            return stored
        raise
    domain = guide.find_domain(db, name)
    if domain is None:
        raise NotFound(not_hosted_message(None, name))
    return domain


def hosted_domain(db: Db, address: Address) -> Domain:
    """The domain of an address to create (a mailbox or an alias); it must be hosted."""
    domain = guide.find_domain(db, address.domain)
    if domain is None:
        raise DomainNotHosted(not_hosted_message(str(address), address.domain))
    return domain


def add_domain(
    tx: Tx, value: str, *, role_aliases: bool = True, keys: KeyMaker | None = None
) -> Domain:
    """Insert a domain with its DKIM keys: new ones, as `dkim` makes them, or the
    ones `keys` gives it (an import's). postmaster@ and abuse@ go to server.admin_email."""
    from mailctl.services import aliases, dkim

    name = normalize_domain(value)
    if guide.find_domain(tx.db, name) is not None:
        raise AlreadyExists(f"domain {name} exists already")
    check_record_names(tx.settings, name)
    if mixed := mixed_scripts(name):
        tx.warn(
            f"{display_domain(name)} ({name}) mixes {' and '.join(mixed)} letters in one label:"
            " it can look like another domain (a homoglyph); make sure it is the one you mean"
        )
    domain = guide.insert_domain(tx.db, name)
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
    if role_aliases:
        add_report_aliases(tx, name)
    return domain


def add_report_aliases(tx: Tx, name: str) -> None:
    """An alias for each address the domain's DMARC and TLS-RPT records send reports
    to, when it lies in a hosted domain and nothing receives it yet: a report
    address that bounces loses every aggregate report (the guide: "Use a report
    address that exists"). Delivered to dns.reports_to, else server.admin_email."""
    from mailctl.dns.records import report_addresses
    from mailctl.services import aliases

    dns = tx.settings.dns
    target = dns.reports_to or tx.settings.server.admin_email
    for address in report_addresses(name, dns.dmarc, dns.tlsrpt_rua):
        try:
            parsed = parse_address(address)
        except InvalidName:
            continue  # the config's check let it through as a URI: dns show names it
        if guide.find_domain(tx.db, parsed.domain) is None or receives(tx.db, str(parsed)):
            continue  # hosted elsewhere (dns show prints its authorisation), or taken
        if not target:
            tx.warn(f"dns.reports_to and server.admin_email are empty: {parsed} receives nothing")
        elif str(parsed) != _stored_address(target):
            aliases.add_alias(tx, str(parsed), [target])


def receives(db: Db, address: str) -> bool:
    """Would Postfix accept mail for `address`: a mailbox, an alias, or the
    domain's catch-all."""
    domain = address.rpartition("@")[2]
    return (
        guide.is_mailbox(db, address)
        or bool(guide.alias_rows(db, address))
        or bool(guide.alias_rows(db, "@" + domain))
    )


def mixed_scripts(name: str) -> list[str]:
    """The scripts whose letters share one label of an IDN, when more than one does
    (Latin `a` beside Cyrillic `а` is the classic look-alike)."""
    import unicodedata

    for label in display_domain(name).split("."):
        scripts = sorted({unicodedata.name(ch, "?").split()[0] for ch in label if ch.isalpha()})
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

    domain = get_domain(tx.db, value)
    info = domain_info(tx.db, domain)
    pointing = aliases.aliases_pointing_into(tx.db, domain.name, exclude_domain=domain.id)
    aliases.warn_still_pointing(tx, pointing, f"in other domains still point into {domain.name}")
    guide.delete_domain(tx.db, domain)
    policy.forget_domain_logins(tx.db, domain.name)
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


def domain_info(db: Db, domain: Domain) -> DomainInfo:
    users = guide.count_in_domain(db, "virtual_users", domain.id)
    alias_count = guide.count_in_domain(db, "virtual_aliases", domain.id)
    return DomainInfo(domain.name, display_domain(domain.name), users, alias_count)


def list_domains(db: Db) -> list[DomainInfo]:
    """All domains with their user and alias counts, in two grouped queries."""
    users = guide.counts_by_domain(db, "virtual_users")
    alias_counts = guide.counts_by_domain(db, "virtual_aliases")
    return sorted(
        (
            DomainInfo(
                d.name, display_domain(d.name), users.get(d.id, 0), alias_counts.get(d.id, 0)
            )
            for d in guide.domains(db)
        ),
        key=lambda d: d.name,
    )
