"""The real state behind a domain's DNS records: config, DKIM keys, certificate.

`context_for()` turns the database rows and the files they name into the
plain `DnsContext` that mailctl.dns.records computes the records from, for
`dns show` and `dns check` alike. What cannot be read (a missing key file, no certificate
while DANE is on) is left out and reported through `warn`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mailctl.core.config import Settings
from mailctl.dns.records import DkimPublication, DnsContext, Record, host_zone
from mailctl.errors import InvalidInput
from mailctl.model.dkimstates import PUBLISHED
from mailctl.store import dkimkeys, guide
from mailctl.store.connection import Db

if TYPE_CHECKING:  # dns check's module (dnspython, threads) only when it runs
    from mailctl.dns.check import Row

Warn = Callable[[str], None]


def _ignore(_message: str) -> None:
    pass


def base_context(settings: Settings) -> DnsContext:
    """The config-only part: no keys, no certificate, no host zone."""
    dns = settings.dns
    server = settings.server
    return DnsContext(
        hostname=server.hostname.strip().rstrip(".").lower(),
        ipv4=server.ipv4.strip(),
        ipv6=server.ipv6.strip(),
        ttl=dns.ttl,
        spf=dns.spf,
        dmarc=dns.dmarc,
        tlsrpt_rua=dns.tlsrpt_rua,
        mta_sts_mode=dns.mta_sts_mode,
        mta_sts_max_age=dns.mta_sts_max_age,
        dane=dns.dane,
        smtps=dns.smtps,
    )


def context_for(db: Db, settings: Settings, domain: str, *, warn: Warn | None = None) -> DnsContext:
    """Everything `domain`'s records are computed from (NotFound if it is not hosted)."""
    from mailctl.services.domains import get_domain

    warn = warn or _ignore
    row = get_domain(db, domain)
    base = base_context(settings)
    hosted = guide.domain_names(db)
    owner = host_zone(base.hostname, settings.server.primary_domain, hosted)
    published = [k for k in dkimkeys.keys_of(db, row.id) if k.state in PUBLISHED]
    dkim = tuple(
        DkimPublication(k.selector, k.state, value)
        for k in published
        if (value := dkim_value(settings, row.name, k.selector, warn)) is not None
    )
    tlsa = None
    if settings.dns.dane and owner == row.name:
        tlsa = tlsa_hash(settings, base.hostname, warn)
    return dataclasses.replace(base, dkim=dkim, tlsa=tlsa, host_zone=owner)


def dkim_value(settings: Settings, domain: str, selector: str, warn: Warn) -> str | None:
    """The TXT value of a key, read from its .private file; None (warned) if unreadable."""
    from mailctl.dkim import keyfiles as dkim
    from mailctl.services.dkim import key_file

    path = key_file(settings, domain, selector)
    if not path.exists():
        warn(f"DKIM key file {path} is missing: no record for {selector}._domainkey.{domain}")
        return None
    try:
        return dkim.dns_value(dkim.load_existing_key(path))
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
    checks = [
        (name, records, ctx.hostname, [ip for ip in (ctx.ipv4, ctx.ipv6) if ip])
        for name, ctx, records in listing(db, settings, names, warn)
    ]
    return dnscheck.run(checks, server)


def require_published_key(
    settings: Settings, domain: str, selector: str, nameserver: str | None
) -> None:
    """Refuse unless DNS serves exactly this key at SELECTOR._domainkey.DOMAIN
    (before `dkim activate` lets it sign)."""
    from mailctl.dkim import keyfiles
    from mailctl.dns import lookup as dnslookup
    from mailctl.errors import MailctlError
    from mailctl.services.dkim import key_file

    server = dnslookup.parse_nameserver(nameserver) if nameserver else None
    record = f"{selector}._domainkey.{domain}"
    pem = keyfiles.load_existing_key(key_file(settings, domain, selector))
    published = dnslookup.txt_values(dnslookup.resolver(server), record)
    if not any(keyfiles.dns_value_matches(v, pem) for v in published):
        seen = "no TXT record" if not published else "a record with another key"
        raise MailctlError(
            f"DNS has {seen} at {record}; publish the record from"
            f" 'mailctl dns show {domain}' first (or use --force)"
        )
