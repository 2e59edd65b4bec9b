"""The DNS records a hosted domain needs (guide §15): the model and `records_for()`.

Pure: a `DnsContext` (config plus real state: the DKIM public keys, the
certificate's key hash) goes in, `Record`s come out. Nothing here reads files,
the database or the clock, so every output is a golden string. Each `Record`
carries its `RecordKind`, which `dns check` dispatches on. The renderings are
in mailctl.dns.render, the files the records point at (MTA-STS policy,
autoconfig, autodiscover) in mailctl.dns.clientconfig.

Choices:

- Host names: the server hostname (MX target), `imap.` and `smtp.` of every
  domain are A/AAAA records (guide §15.1); `autoconfig.` and `autodiscover.`
  are CNAMEs. The guide points them at the domain apex; mailctl points them at
  the server hostname, because the mail server is what holds their
  certificate (`domain add` prints the certbot command covering them) and
  serves the XML, while the apex is often a website elsewhere or nothing.
  `mta-sts.` is A/AAAA to the server as in guide §15.8.1.
- The server's own records (its A/AAAA, PTR and TLSA) belong to exactly one
  domain's listing, `DnsContext.host_zone`, so listing every domain never
  repeats them; see `host_zone()`.
- The MTA-STS `id` is a hash of the policy text, so it changes exactly when
  the policy does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, NamedTuple

from mailctl.dns.clientconfig import mta_sts_id, mta_sts_policy
from mailctl.dns.names import absolute, bare, within
from mailctl.errors import InvalidInput
from mailctl.model.dkimstates import DkimState

if TYPE_CHECKING:
    from mailctl.core.config import Settings

Status = Literal["required", "recommended", "optional"]
MX_PREFERENCE = 10  # guide §15.2


class RecordKind(StrEnum):
    """What a record is for; `dns check` judges each kind its own way."""

    ADDRESS = "address"  # A/AAAA of the server, imap., smtp. and mta-sts.
    DISCOVERY = "discovery"  # CNAME of autoconfig. and autodiscover.
    MX = "mx"
    SPF = "spf"
    DKIM = "dkim"
    DMARC = "dmarc"
    DMARC_REPORT = "dmarc-report"  # authorises an external DMARC report address
    SRV = "srv"
    TLSA = "tlsa"
    MTA_STS = "mta-sts"  # the _mta-sts TXT record with the policy id
    TLSRPT = "tlsrpt"
    PTR = "ptr"


class DkimPublication(NamedTuple):
    """One DKIM key to publish: its selector, state and TXT value."""

    selector: str
    state: str  # a published DkimState
    value: str  # mailctl.dkim.dns_value() of the key


@dataclass(frozen=True)
class DnsContext:
    """Everything records_for() needs; built by mailctl.services.dns."""

    hostname: str  # server.hostname: the MX target, PTR and HELO name
    ipv4: str = ""
    ipv6: str = ""
    ttl: int = 3600
    spf: str = "v=spf1 mx -all"
    dmarc: str = ""  # may contain {domain}
    tlsrpt_rua: str = ""  # may contain {domain}; empty: no TLS-RPT record
    mta_sts_mode: str = "enforce"
    mta_sts_max_age: int = 604800
    dane: bool = False
    smtps: bool = True
    dkim: tuple[DkimPublication, ...] = ()  # this domain's keys to publish
    tlsa: str | None = None  # SHA-256 hex of the port-25 certificate's SubjectPublicKeyInfo
    host_zone: str = ""  # the domain whose listing carries the server's own records


@dataclass(frozen=True)
class Record:
    """One DNS record to publish, zone-file ready."""

    name: str  # absolute, lowercase, with the trailing dot
    type: str
    ttl: int
    value: str  # presentation form; TXT values joined and unquoted
    status: Status
    why: str
    kind: RecordKind


def base_context(settings: Settings) -> DnsContext:
    """The config-only part of a domain's context: no keys, no certificate, no host
    zone. Enough for the MTA-STS policy and the client configuration files, so the
    files `sync` serves and the `_mta-sts` id `dns show` publishes share one source."""
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


def host_zone(hostname: str, primary_domain: str, domains: Iterable[str]) -> str:
    """The hosted domain whose listing carries the server's A/AAAA, PTR and TLSA.

    The hosted domain that contains the hostname (the longest, if nested);
    else the primary domain when it is hosted; else the first hosted domain,
    so that the records are still shown once (with absolute names) somewhere.
    "" when nothing is hosted.
    """
    hosted = sorted({bare(d) for d in domains})
    containing = [d for d in hosted if within(hostname, d)]
    if containing:
        return max(containing, key=len)
    primary = bare(primary_domain)
    if primary in hosted:
        return primary
    return hosted[0] if hosted else ""


def _address(value: str, version: int, key: str) -> str:
    """The configured address in canonical form; "" when none is configured."""
    if not value.strip():
        return ""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise InvalidInput(f"{key} {value!r} is not an IPv{version} address") from None
    if address.version != version:
        raise InvalidInput(f"{key} {value!r} is not an IPv{version} address")
    return address.compressed


# ------------------------------------------------------------------ DMARC


def _mailto(uris: str) -> Iterator[str]:
    """The addresses of the `mailto:` URIs in a comma-separated list."""
    for uri in uris.split(","):
        uri = uri.strip()
        if uri.lower().startswith("mailto:"):
            yield uri[len("mailto:") :].split("!", 1)[0]  # "!10m" is a size limit


def dmarc_report_addresses(dmarc: str) -> list[str]:
    """The `mailto:` addresses of a DMARC record's rua= and ruf= tags, in order."""
    found: list[str] = []
    for part in dmarc.split(";"):
        tag, sep, value = part.partition("=")
        if sep and tag.strip().lower() in ("rua", "ruf"):
            found += [a for a in _mailto(value) if a not in found]
    return found


def dmarc_report_domains(dmarc: str) -> list[str]:
    """Domains of the `mailto:` URIs in a DMARC record's rua= and ruf= tags."""
    found: list[str] = []
    for address in dmarc_report_addresses(dmarc):
        _, at, host = address.rpartition("@")
        host = bare(host)
        if at and host and host not in found:
            found.append(host)
    return found


def report_addresses(domain: str, dmarc: str, tlsrpt_rua: str) -> list[str]:
    """Every `mailto:` address a domain's DMARC and TLS-RPT records send reports
    to ({domain} filled in), lower-cased, each once: they must exist."""
    found = dmarc_report_addresses(dmarc.replace("{domain}", domain))
    found += _mailto(tlsrpt_rua.replace("{domain}", domain))
    return list(dict.fromkeys(a.lower() for a in found if "@" in a))


# RFC 9989 (DMARCbis) dropped pct, rf and ri; a record is judged by what it asks
# for, with each tag's default filled in, so an RFC 7489 record with pct=100 and
# the same policy is the same record.
_DMARC_DEFAULTS = {"adkim": "r", "aspf": "r", "fo": "0", "t": "n", "psd": "u"}
_DMARC_GONE = {"pct": "100", "rf": "afrf", "ri": "86400"}


def dmarc_effective(value: str) -> dict[str, str]:
    """A DMARC record as the policy it states: tags lower-cased, defaults filled in
    (sp from p, np from sp), the RFC 7489 tags RFC 9989 dropped left out when
    they hold their old defaults (a pct below 100 still counts)."""
    tags: dict[str, str] = {}
    for part in value.split(";"):
        tag, sep, tag_value = part.strip().partition("=")
        if sep:
            tags[tag.strip().lower()] = " ".join(tag_value.split())
    lowered = {k: v.lower() if k not in ("rua", "ruf") else v for k, v in tags.items()}
    for tag, default in _DMARC_GONE.items():
        if lowered.get(tag, default) == default:
            lowered.pop(tag, None)
    for tag, default in _DMARC_DEFAULTS.items():
        lowered.setdefault(tag, default)
    if "p" in lowered:
        lowered.setdefault("sp", lowered["p"])
        lowered.setdefault("np", lowered["sp"])
    return lowered


def _external(report_domain: str, domain: str) -> bool:
    """Does a report address in `report_domain` need authorising (RFC 7489 §7.1)?

    The RFC compares Organizational Domains, which needs the Public Suffix
    List; here a domain and its parents or children count as the same
    organisation and anything else as external, so the worst case is one
    harmless extra record (for two sibling subdomains).
    """
    return not (within(report_domain, domain) or within(domain, report_domain))


# ------------------------------------------------------------------ records


@dataclass(frozen=True)
class _Domain:
    """One records_for() call: the domain (bare), its context and what every part uses."""

    name: str
    ctx: DnsContext
    host: str  # the server hostname, absolute
    ipv4: str  # canonical, or "" when not configured
    ipv6: str
    owns_host: bool  # does this listing carry the server's own records?

    @classmethod
    def of(cls, domain: str, ctx: DnsContext) -> _Domain:
        d = bare(domain)
        return cls(
            name=d,
            ctx=ctx,
            host=absolute(ctx.hostname),
            ipv4=_address(ctx.ipv4, 4, "server.ipv4"),
            ipv6=_address(ctx.ipv6, 6, "server.ipv6"),
            owns_host=ctx.host_zone != "" and bare(ctx.host_zone) == d,
        )

    def record(
        self, kind: RecordKind, name: str, rtype: str, value: str, status: Status, why: str
    ) -> Record:
        return Record(absolute(name), rtype, self.ctx.ttl, value, status, why, kind)

    def addresses(self, name: str, status: Status, why: str) -> Iterator[Record]:
        """The A and AAAA records of `name`: one per configured server address."""
        for rtype, address in (("A", self.ipv4), ("AAAA", self.ipv6)):
            if address:
                yield self.record(RecordKind.ADDRESS, name, rtype, address, status, why)


def _host_names(d: _Domain) -> Iterator[Record]:
    """1) A / AAAA for the mail host names, CNAMEs for client discovery."""
    if d.owns_host:
        yield from d.addresses(d.host, "required", "the server (MX target); must match its PTR")
    yield from d.addresses(
        f"imap.{d.name}", "required", "IMAPS server name of the domain's mail clients"
    )
    yield from d.addresses(
        f"smtp.{d.name}", "required", "submission server name of the domain's mail clients"
    )
    for prefix, what in (
        ("autoconfig", "Thunderbird autoconfiguration"),
        ("autodiscover", "Outlook autodiscover"),
    ):
        name, why = f"{prefix}.{d.name}", f"{what}: serve 'mailctl dns {prefix}' here over HTTPS"
        yield d.record(RecordKind.DISCOVERY, name, "CNAME", d.host, "recommended", why)


def _mx(d: _Domain) -> Iterator[Record]:
    """2) MX."""
    why = f"mail for {d.name} goes to {bare(d.host)}"
    yield d.record(RecordKind.MX, d.name, "MX", f"{MX_PREFERENCE} {d.host}", "required", why)


def _spf(d: _Domain) -> Iterator[Record]:
    """3) SPF."""
    if d.ctx.spf.strip():
        spf = d.ctx.spf.replace("{domain}", d.name)
        why = "SPF: who may send as " + d.name
        yield d.record(RecordKind.SPF, d.name, "TXT", spf, "required", why)


def _dkim(d: _Domain) -> Iterator[Record]:
    """4) DKIM, one record per selector still in use."""
    for key in d.ctx.dkim:
        status, why = _dkim_status(key.state)
        name = f"{key.selector}._domainkey.{d.name}"
        yield d.record(RecordKind.DKIM, name, "TXT", key.value, status, why)


def _dkim_status(state: str) -> tuple[Status, str]:
    if state == DkimState.ACTIVE:
        return "required", "DKIM public key of the selector OpenDKIM signs with"
    if state == DkimState.PENDING:
        return "required", "DKIM key of a pending rotation: publish before 'mailctl dkim activate'"
    return "recommended", "retired DKIM key: keep it until 'mailctl dkim retire'"


def _dmarc(d: _Domain) -> Iterator[Record]:
    """5) DMARC, and the authorisation external report addresses need."""
    dmarc = d.ctx.dmarc.replace("{domain}", d.name)
    if not dmarc.strip():
        return
    why = "DMARC policy and report address"
    yield d.record(RecordKind.DMARC, f"_dmarc.{d.name}", "TXT", dmarc, "required", why)
    for report in dmarc_report_domains(dmarc):
        if _external(report, d.name):
            yield d.record(
                RecordKind.DMARC_REPORT,
                f"{d.name}._report._dmarc.{report}",
                "TXT",
                "v=DMARC1",
                "recommended",
                f"publish in {report}'s zone: lets it receive {d.name}'s DMARC reports"
                " (RFC 7489 §7.1)",
            )


def _srv(d: _Domain) -> Iterator[Record]:
    """6) SRV (RFC 6186, RFC 8314); "0 0 0 ." = decidedly not offered."""
    offered = [
        ("_imaps", "993 imap", "IMAP over TLS, port 993"),
        ("_submission", "587 smtp", "mail submission with STARTTLS, port 587"),
    ]
    if d.ctx.smtps:
        offered.append(
            ("_submissions", "465 smtp", "mail submission over TLS, port 465 (RFC 8314)")
        )
    off = [("_imap", "plaintext IMAP"), ("_pop3", "POP3"), ("_pop3s", "POP3 over TLS")]
    if not d.ctx.smtps:
        off.append(("_submissions", "submission on port 465 (dns.smtps = false)"))
    services: list[tuple[str, str, Status, str]] = [
        (service, f"0 1 {target}.{d.name}.", "recommended", why) for service, target, why in offered
    ]
    services += [
        (service, "0 0 0 .", "optional", f"{what} is not offered") for service, what in off
    ]
    for service, target, status, why in services:
        yield d.record(RecordKind.SRV, f"{service}._tcp.{d.name}", "SRV", target, status, why)


def _dane(d: _Domain) -> Iterator[Record]:
    """7) DANE."""
    if d.owns_host and d.ctx.dane and d.ctx.tlsa:
        yield d.record(
            RecordKind.TLSA,
            f"_25._tcp.{d.host}",
            "TLSA",
            f"3 1 1 {d.ctx.tlsa.lower()}",
            "recommended",
            "DANE for inbound SMTP; only in a DNSSEC-signed zone; keep the key (certbot"
            " --reuse-key) or publish the new hash before a renewal",
        )


def _mta_sts(d: _Domain) -> Iterator[Record]:
    """8) MTA-STS and TLS-RPT."""
    yield from d.addresses(
        f"mta-sts.{d.name}",
        "recommended",
        "MTA-STS: serve 'mailctl dns mta-sts-policy' here over HTTPS",
    )
    yield d.record(
        RecordKind.MTA_STS,
        f"_mta-sts.{d.name}",
        "TXT",
        f"v=STSv1; id={mta_sts_id(mta_sts_policy(d.ctx))}",
        "recommended",
        "MTA-STS: the id changes whenever the policy does",
    )
    if d.ctx.tlsrpt_rua.strip():
        yield d.record(
            RecordKind.TLSRPT,
            f"_smtp._tls.{d.name}",
            "TXT",
            f"v=TLSRPTv1; rua={d.ctx.tlsrpt_rua.replace('{domain}', d.name)}",
            "recommended",
            "TLS-RPT: where senders report TLS failures (RFC 8460)",
        )


def _ptr(d: _Domain) -> Iterator[Record]:
    """PTR: not in the domain's zone; the hosting provider sets it."""
    if not d.owns_host:
        return
    for address in (d.ipv4, d.ipv6):
        if address:
            yield d.record(
                RecordKind.PTR,
                ipaddress.ip_address(address).reverse_pointer,
                "PTR",
                d.host,
                "required",
                "set by the hosting provider (reverse DNS of the server)",
            )


# guide §15's order
_PARTS: tuple[Callable[[_Domain], Iterator[Record]], ...] = (
    _host_names,
    _mx,
    _spf,
    _dkim,
    _dmarc,
    _srv,
    _dane,
    _mta_sts,
    _ptr,
)


def records_for(domain: str, ctx: DnsContext) -> list[Record]:
    """Every record `domain` needs, in guide §15's order, without duplicates."""
    d = _Domain.of(domain, ctx)
    return _unique([record for part in _PARTS for record in part(d)])


def _unique(records: list[Record]) -> list[Record]:
    """Drop repeats of one (name, type, value), e.g. when the hostname is imap.DOMAIN."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Record] = []
    for record in records:
        key = (record.name, record.type, record.value)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out
