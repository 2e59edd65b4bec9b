"""The real state behind a domain's DNS records: config, DKIM keys, certificate.

`context_for()` turns the database rows and the files they name into the
plain `DnsContext` that mailctl.dns.records computes the records from, for
`dns show` and `dns check` alike. DKIM records come from the private keys in the
database (mailctl_dkim_secrets), so every host shows the same records, before its
first `sync` too. What cannot be read (a key neither the database nor this host
holds, no certificate while DANE is on) is left out and reported through `warn`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mailctl.core.config import Settings
from mailctl.dns.records import DkimPublication, DnsContext, Record, host_zone
from mailctl.dns.records import base_context as base_context  # `dns` commands use it here
from mailctl.errors import InvalidInput
from mailctl.model.dkimstates import PUBLISHED
from mailctl.store import dkimkeys, guide
from mailctl.store.connection import Db

if TYPE_CHECKING:  # dns check's module (dnspython, threads) only when it runs
    from mailctl.dns.check import Row
    from mailctl.store.dkimkeys import DkimKey

Warn = Callable[[str], None]


def _ignore(_message: str) -> None:
    pass


def context_for(db: Db, settings: Settings, domain: str, *, warn: Warn | None = None) -> DnsContext:
    """Everything `domain`'s records are computed from (NotFound if it is not hosted)."""
    from mailctl.services.domains import get_domain

    warn = warn or _ignore
    row = get_domain(db, domain)
    base = base_context(settings)
    hosted = guide.domain_names(db)
    owner = host_zone(base.hostname, settings.server.primary_domain, hosted)
    published = [k for k in dkimkeys.keys_of(db, row.id) if k.state in PUBLISHED]
    stored = dkimkeys.secrets_of_domain(db, row.id) if published else {}
    dkim = tuple(
        DkimPublication(k.selector, k.state, value)
        for k in published
        if (value := dkim_value(settings, row.name, k.selector, stored.get(k.selector), warn))
        is not None
    )
    tlsa = None
    if settings.dns.dane and owner == row.name:
        tlsa = tlsa_hash(settings, base.hostname, warn)
    return dataclasses.replace(base, dkim=dkim, tlsa=tlsa, host_zone=owner)


def dkim_value(
    settings: Settings, domain: str, selector: str, stored: bytes | None, warn: Warn
) -> str | None:
    """The TXT value of a key, from its private key in the database (`stored`; this
    host's file for a key the database lacks); None (warned) when there is none."""
    from mailctl.dkim import keyfiles
    from mailctl.dkim.stored import private_key

    try:
        return keyfiles.dns_value(private_key(stored, settings.dkim.key_dir, domain, selector))
    except InvalidInput as exc:
        warn(f"{exc}: no record for {selector}._domainkey.{domain}")
        return None


def tlsa_hash(settings: Settings, hostname: str, warn: Warn) -> str | None:
    """SHA-256 of the DER SubjectPublicKeyInfo of the certificate on port 25.

    Postfix presents the server hostname's own certificate there (guide §8:
    smtpd_tls_cert_file = /etc/letsencrypt/live/MAILHOST/fullchain.pem), so it
    is tls.cert with {domain} = server.hostname.
    """
    from mailctl.serverfiles.tls import check_domain

    status = check_domain(settings, hostname)
    if status.entry is None:
        warn(f"dns.dane is on but {hostname} has no usable certificate ({status.reason}): no TLSA")
        return None
    return spki_sha256(Path(status.entry.cert).read_bytes())


def spki_sha256(cert_pem: bytes) -> str:
    """TLSA 3 1 1 data: SHA-256 hex of the first certificate's DER SubjectPublicKeyInfo."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_pem)
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


Listing = list[tuple[str, DnsContext, list[Record]]]


def listing(db: Db, settings: Settings, names: Sequence[str], warn: Warn) -> Listing:
    """(domain, context, records) per requested domain (all when none), in order, each once."""
    from mailctl.dns import records as dnsrecords
    from mailctl.services.domains import get_domain, list_domains

    if names:
        wanted = list(dict.fromkeys(get_domain(db, n).name for n in names))
    else:
        wanted = [d.name for d in list_domains(db)]
    contexts = [(n, context_for(db, settings, n, warn=warn)) for n in wanted]
    return [(n, ctx, dnsrecords.records_for(n, ctx)) for n, ctx in contexts]


def check(
    db: Db, settings: Settings, names: Sequence[str], nameserver: str | None, warn: Warn
) -> list[Row]:
    """`dns check` of the named domains (all when none): one row per expected record.
    The one assembly behind `dns check` and `doctor --dns`."""
    from mailctl.dns import check as dnscheck
    from mailctl.dns import lookup as dnslookup

    server = dnslookup.parse_nameserver(nameserver) if nameserver else None
    listed = listing(db, settings, names, warn)
    checks = [
        (name, records, ctx.hostname, [ip for ip in (ctx.ipv4, ctx.ipv6) if ip])
        for name, ctx, records in listed
    ]
    rows = dnscheck.run(checks, server)
    wanted = [name for name, _ctx, _records in listed]
    for domain, routes in report_routes(db, settings, wanted, every=True):
        rows += [
            dnscheck.Row(
                domain,
                address,
                "mailto",
                "OK" if problem is None else "MISSING",
                "a mailbox or alias receives the reports",
                "received" if problem is None else f"{problem} (fix: {fix})",
                "required",
            )
            for address, problem, fix in routes
        ]
    return rows


Route = tuple[str, str | None, str]  # report address, why it is not received (None: it is), fix


def report_routes(
    db: Db, settings: Settings, names: Sequence[str] = (), *, every: bool = False
) -> list[tuple[str, list[Route]]]:
    """Per hosted domain (the named ones, else all): the `mailto:` addresses in a
    hosted domain that its DMARC and TLS-RPT records send reports to, with what
    stops mail to each (services.routing) and the command that fixes it. Only the
    unreceived ones unless `every`."""
    from mailctl.dns.records import report_addresses
    from mailctl.services.routing import undelivered

    dns = settings.dns
    hosted = set(guide.domain_names(db))
    target = dns.reports_to or settings.server.admin_email or "ADDRESS"
    found = []
    for domain in names or sorted(hosted):
        routes: list[Route] = []
        for address in report_addresses(domain, dns.dmarc, dns.tlsrpt_rua):
            if address.rpartition("@")[2] not in hosted:
                continue  # another server's: dns check verifies its authorisation record
            dead = undelivered(db, address)
            if dead is None:
                routes += [(address, None, "")] if every else []
            elif dead.address == address:
                routes.append((address, dead.why, _fix(db, address, f" {target}")))
            else:
                why = f"it leads to {dead.address}: {dead.why}"
                routes.append((address, why, _fix(db, dead.address)))
        found.append((domain, routes))
    return found


def _fix(db: Db, dead_end: str, alias_to: str = "") -> str:
    """The command that lets mail for `dead_end` through: with `alias_to`, an alias
    of a report address that nothing receives; else a mailbox that should exist."""
    from mailctl.store import policy

    domain = guide.find_domain(db, dead_end.rpartition("@")[2])
    if domain is not None and not policy.domain_policy(db, domain.id).receive:
        return f"mailctl domain resume {domain.name}"
    user = guide.find_user(db, dead_end)
    if user is not None and not policy.user_policy(db, user.id).receive:
        return f"mailctl user set {dead_end} --receive"
    if alias_to and not guide.alias_rows(db, dead_end):
        return f"mailctl alias add {dead_end}{alias_to}"
    return f"mailctl user add {dead_end}"


def require_published_key(
    db: Db, settings: Settings, domain: str, key: DkimKey, nameserver: str | None
) -> None:
    """Refuse unless DNS serves exactly this key at SELECTOR._domainkey.DOMAIN
    (before `dkim activate` lets it sign). The key is the database's, so any host
    activates correctly, whether or not it has synced the key file yet."""
    from mailctl.dkim import keyfiles
    from mailctl.dkim.stored import private_key
    from mailctl.dns import lookup as dnslookup
    from mailctl.errors import MailctlError

    server = dnslookup.parse_nameserver(nameserver) if nameserver else None
    record = f"{key.selector}._domainkey.{domain}"
    stored = dkimkeys.secret_of(db, key.id)
    pem = private_key(stored, settings.dkim.key_dir, domain, key.selector)
    published = dnslookup.txt_values(dnslookup.resolver(server), record)
    if not any(keyfiles.dns_value_matches(v, pem) for v in published):
        seen = "no TXT record" if not published else "a record with another key"
        raise MailctlError(
            f"DNS has {seen} at {record}; publish the record from"
            f" 'mailctl dns show {domain}' first (or use --force)"
        )
