"""The DNS records a hosted domain needs (guide §15), and their renderings.

Pure: a `DnsContext` (config plus real state: the DKIM public keys, the
certificate's key hash) goes in, `Record`s and text come out. Nothing here
reads files, the database or the clock, so every output is a golden string.

Choices (see the README's `dns show`):

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

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from xml.sax.saxutils import escape

from mailctl.errors import InvalidInput
from mailctl.model.dkimstates import DkimState

Status = Literal["required", "recommended", "optional"]
STATUSES: tuple[Status, ...] = ("required", "recommended", "optional")
MX_PREFERENCE = 10  # guide §15.2
TXT_CHUNK = 255  # RFC 1035 §3.3.14: a <character-string> holds at most 255 bytes
MTA_STS_ID_LENGTH = 20  # RFC 8461 §3.1: 1-32 alphanumerics
# Thunderbird and Outlook discovery URLs (guide §15.9; Outlook's POX autodiscover).
AUTOCONFIG_URL = "https://autoconfig.{domain}/mail/config-v1.1.xml"
AUTODISCOVER_URL = "https://autodiscover.{domain}/autodiscover/autodiscover.xml"
MTA_STS_URL = "https://mta-sts.{domain}/.well-known/mta-sts.txt"
AUTODISCOVER_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
AUTODISCOVER_OUTLOOK_NS = (
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)
# Zone placeholders: RFC 5737 documentation address for the placeholder NS.
NS_PLACEHOLDER_ADDRESS = "192.0.2.53"


class DkimPublication(NamedTuple):
    """One DKIM key to publish: its selector, state and TXT value."""

    selector: str
    state: str  # a published DkimState
    value: str  # mailctl.dkim.dns_value() of the key


@dataclass(frozen=True)
class DnsContext:
    """Everything records_for() needs; built by mailctl.services.dnsstate."""

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
    name: str  # absolute, lowercase, with the trailing dot
    type: str
    ttl: int
    value: str  # presentation form; TXT values joined and unquoted
    status: Status
    why: str


# ------------------------------------------------------------------ names


def _bare(name: str) -> str:
    return name.strip().rstrip(".").lower()


def absolute(name: str) -> str:
    return _bare(name) + "."


def within(name: str, zone: str) -> bool:
    """Is `name` the zone apex or below it (label-wise, not string-wise)?"""
    name, zone = _bare(name), _bare(zone)
    return name == zone or name.endswith("." + zone)


def relative_name(name: str, zone: str) -> str:
    """`@`, `mail._domainkey`, ...; a name outside the zone stays absolute."""
    bare, apex = _bare(name), _bare(zone)
    if bare == apex:
        return "@"
    if bare.endswith("." + apex):
        return bare[: -len(apex) - 1]
    return absolute(name)


def host_zone(hostname: str, primary_domain: str, domains: Iterable[str]) -> str:
    """The hosted domain whose listing carries the server's A/AAAA, PTR and TLSA.

    The hosted domain that contains the hostname (the longest, if nested);
    else the primary domain when it is hosted; else the first hosted domain,
    so that the records are still shown once (with absolute names) somewhere.
    "" when nothing is hosted.
    """
    hosted = sorted({_bare(d) for d in domains})
    containing = [d for d in hosted if within(hostname, d)]
    if containing:
        return max(containing, key=len)
    primary = _bare(primary_domain)
    if primary in hosted:
        return primary
    return hosted[0] if hosted else ""


def _address(value: str, version: int, key: str) -> str:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise InvalidInput(f"{key} {value!r} is not an IPv{version} address") from None
    if address.version != version:
        raise InvalidInput(f"{key} {value!r} is not an IPv{version} address")
    return address.compressed


# ------------------------------------------------------------------ policies


def mta_sts_policy(ctx: DnsContext) -> str:
    """The RFC 8461 policy served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt.

    Lines end in CRLF: §3.2 calls the fields "CRLF-separated" and its grammar
    (`sts-policy-term = LF / CRLF`) also allows LF, so CRLF satisfies both
    readings and every parser.
    """
    lines = [
        "version: STSv1",
        f"mode: {ctx.mta_sts_mode}",
        f"mx: {_bare(ctx.hostname)}",
        f"max_age: {ctx.mta_sts_max_age}",
    ]
    return "".join(line + "\r\n" for line in lines)


def mta_sts_id(policy: str) -> str:
    """The `id` of the `_mta-sts` TXT record: 20 hex digits of the policy's SHA-256."""
    return hashlib.sha256(policy.encode("utf-8")).hexdigest()[:MTA_STS_ID_LENGTH]


def autoconfig_xml(domain: str, ctx: DnsContext) -> str:
    """Thunderbird's config-v1.1.xml (guide §15.9): IMAPS 993, submission 587 STARTTLS
    (the guide's entry, first, so Thunderbird prefers it) and 465 SSL when SMTPS is on."""
    d = escape(_bare(domain))
    outgoing = [("587", "STARTTLS")] + ([("465", "SSL")] if ctx.smtps else [])
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<clientConfig version="1.1">',
        f'  <emailProvider id="{d}">',
        f"    <domain>{d}</domain>",
        f"    <displayName>{d} Mail</displayName>",
        f"    <displayShortName>{d}</displayShortName>",
        '    <incomingServer type="imap">',
        f"      <hostname>imap.{d}</hostname>",
        "      <port>993</port>",
        "      <socketType>SSL</socketType>",
        "      <authentication>password-cleartext</authentication>",
        "      <username>%EMAILADDRESS%</username>",
        "    </incomingServer>",
    ]
    for port, socket_type in outgoing:
        lines += [
            '    <outgoingServer type="smtp">',
            f"      <hostname>smtp.{d}</hostname>",
            f"      <port>{port}</port>",
            f"      <socketType>{socket_type}</socketType>",
            "      <authentication>password-cleartext</authentication>",
            "      <username>%EMAILADDRESS%</username>",
            "    </outgoingServer>",
        ]
    lines += ["  </emailProvider>", "</clientConfig>"]
    return "\n".join(lines) + "\n"


def autodiscover_xml(domain: str, ctx: DnsContext) -> str:
    """Outlook's POX autodiscover response (outlook/responseschema/2006a): IMAP over TLS
    on 993, and SMTP on 465 with implicit TLS when SMTPS is on, else 587 with STARTTLS
    (`Encryption` TLS). Outlook takes the first SMTP entry, so there is one. No
    LoginName: a static file cannot know the user, and Outlook then logs in with the
    full address, which is the guide's login name."""
    d = escape(_bare(domain))
    smtp_port, smtp_encryption = ("465", "SSL") if ctx.smtps else ("587", "TLS")
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<Autodiscover xmlns="{AUTODISCOVER_NS}">',
        f'  <Response xmlns="{AUTODISCOVER_OUTLOOK_NS}">',
        "    <Account>",
        "      <AccountType>email</AccountType>",
        "      <Action>settings</Action>",
    ]
    for kind, server, port, encryption in (
        ("IMAP", f"imap.{d}", "993", "SSL"),
        ("SMTP", f"smtp.{d}", smtp_port, smtp_encryption),
    ):
        lines += [
            "      <Protocol>",
            f"        <Type>{kind}</Type>",
            f"        <Server>{server}</Server>",
            f"        <Port>{port}</Port>",
            "        <DomainRequired>off</DomainRequired>",
            "        <SPA>off</SPA>",
            "        <SSL>on</SSL>",
            f"        <Encryption>{encryption}</Encryption>",
            "        <AuthRequired>on</AuthRequired>",
        ]
        if kind == "SMTP":
            lines += ["        <UsePOPAuth>off</UsePOPAuth>", "        <SMTPLast>off</SMTPLast>"]
        lines.append("      </Protocol>")
    lines += ["    </Account>", "  </Response>", "</Autodiscover>"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ DMARC


def dmarc_report_domains(dmarc: str) -> list[str]:
    """Domains of the `mailto:` URIs in a DMARC record's rua= and ruf= tags."""
    found: list[str] = []
    for part in dmarc.split(";"):
        tag, sep, value = part.partition("=")
        if not sep or tag.strip().lower() not in ("rua", "ruf"):
            continue
        for uri in value.split(","):
            uri = uri.strip()
            if not uri.lower().startswith("mailto:"):
                continue
            address = uri[len("mailto:") :].split("!", 1)[0]  # "!10m" is a size limit
            _, at, host = address.rpartition("@")
            host = _bare(host)
            if at and host and host not in found:
                found.append(host)
    return found


def _external(report_domain: str, domain: str) -> bool:
    """Does a report address in `report_domain` need authorising (RFC 7489 §7.1)?

    The RFC compares Organizational Domains, which needs the Public Suffix
    List; here a domain and its parents or children count as the same
    organisation and anything else as external, so the worst case is one
    harmless extra record (for two sibling subdomains).
    """
    return not (within(report_domain, domain) or within(domain, report_domain))


# ------------------------------------------------------------------ records


def records_for(domain: str, ctx: DnsContext) -> list[Record]:
    """Every record `domain` needs, in guide §15's order, without duplicates."""
    d = _bare(domain)
    host = absolute(ctx.hostname)
    ipv4 = _address(ctx.ipv4, 4, "server.ipv4") if ctx.ipv4.strip() else ""
    ipv6 = _address(ctx.ipv6, 6, "server.ipv6") if ctx.ipv6.strip() else ""
    owns_host = ctx.host_zone != "" and _bare(ctx.host_zone) == d
    out: list[Record] = []

    def add(name: str, rtype: str, value: str, status: Status, why: str) -> None:
        out.append(Record(absolute(name), rtype, ctx.ttl, value, status, why))

    def addresses(name: str, status: Status, why: str) -> None:
        if ipv4:
            add(name, "A", ipv4, status, why)
        if ipv6:
            add(name, "AAAA", ipv6, status, why)

    # 1) A / AAAA for the mail host names, CNAMEs for client discovery
    if owns_host:
        addresses(host, "required", "the server (MX target); must match its PTR")
    addresses(f"imap.{d}", "required", "IMAPS server name of the domain's mail clients")
    addresses(f"smtp.{d}", "required", "submission server name of the domain's mail clients")
    for prefix, what in (
        ("autoconfig", "Thunderbird autoconfiguration"),
        ("autodiscover", "Outlook autodiscover"),
    ):
        add(
            f"{prefix}.{d}",
            "CNAME",
            host,
            "recommended",
            f"{what}: serve 'mailctl dns {prefix}' here over HTTPS",
        )
    # 2) MX
    add(d, "MX", f"{MX_PREFERENCE} {host}", "required", f"mail for {d} goes to {_bare(host)}")
    # 3) SPF
    if ctx.spf.strip():
        add(d, "TXT", ctx.spf.replace("{domain}", d), "required", "SPF: who may send as " + d)
    # 4) DKIM, one record per selector still in use
    for key in ctx.dkim:
        status, why = _dkim_status(key.state)
        add(f"{key.selector}._domainkey.{d}", "TXT", key.value, status, why)
    # 5) DMARC, and the authorisation external report addresses need
    dmarc = ctx.dmarc.replace("{domain}", d)
    if dmarc.strip():
        add(f"_dmarc.{d}", "TXT", dmarc, "required", "DMARC policy and report address")
        for report in dmarc_report_domains(dmarc):
            if _external(report, d):
                add(
                    f"{d}._report._dmarc.{report}",
                    "TXT",
                    "v=DMARC1",
                    "recommended",
                    f"publish in {report}'s zone: lets it receive {d}'s DMARC reports"
                    " (RFC 7489 §7.1)",
                )
    # 6) SRV (RFC 6186, RFC 8314); "0 0 0 ." = decidedly not offered
    add(f"_imaps._tcp.{d}", "SRV", f"0 1 993 imap.{d}.", "recommended", "IMAP over TLS, port 993")
    add(
        f"_submission._tcp.{d}",
        "SRV",
        f"0 1 587 smtp.{d}.",
        "recommended",
        "mail submission with STARTTLS, port 587",
    )
    if ctx.smtps:
        add(
            f"_submissions._tcp.{d}",
            "SRV",
            f"0 1 465 smtp.{d}.",
            "recommended",
            "mail submission over TLS, port 465 (RFC 8314)",
        )
    off = [("_imap", "plaintext IMAP"), ("_pop3", "POP3"), ("_pop3s", "POP3 over TLS")]
    if not ctx.smtps:
        off.append(("_submissions", "submission on port 465 (dns.smtps = false)"))
    for service, what in off:
        add(f"{service}._tcp.{d}", "SRV", "0 0 0 .", "optional", f"{what} is not offered")
    # 7) DANE
    if owns_host and ctx.dane and ctx.tlsa:
        add(
            f"_25._tcp.{host}",
            "TLSA",
            f"3 1 1 {ctx.tlsa.lower()}",
            "recommended",
            "DANE for inbound SMTP; only in a DNSSEC-signed zone; keep the key (certbot"
            " --reuse-key) or publish the new hash before a renewal",
        )
    # 8) MTA-STS and TLS-RPT
    addresses(
        f"mta-sts.{d}", "recommended", "MTA-STS: serve 'mailctl dns mta-sts-policy' here over HTTPS"
    )
    add(
        f"_mta-sts.{d}",
        "TXT",
        f"v=STSv1; id={mta_sts_id(mta_sts_policy(ctx))}",
        "recommended",
        "MTA-STS: the id changes whenever the policy does",
    )
    if ctx.tlsrpt_rua.strip():
        add(
            f"_smtp._tls.{d}",
            "TXT",
            f"v=TLSRPTv1; rua={ctx.tlsrpt_rua.replace('{domain}', d)}",
            "recommended",
            "TLS-RPT: where senders report TLS failures (RFC 8460)",
        )
    # PTR: not in the domain's zone; the hosting provider sets it
    if owns_host:
        for address in (ipv4, ipv6):
            if address:
                add(
                    ipaddress.ip_address(address).reverse_pointer,
                    "PTR",
                    host,
                    "required",
                    "set by the hosting provider (reverse DNS of the server)",
                )
    return _unique(out)


def _dkim_status(state: str) -> tuple[Status, str]:
    if state == DkimState.ACTIVE:
        return "required", "DKIM public key of the selector OpenDKIM signs with"
    if state == DkimState.PENDING:
        return "required", "DKIM key of a pending rotation: publish before 'mailctl dkim activate'"
    return "recommended", "retired DKIM key: keep it until 'mailctl dkim retire'"


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


# ------------------------------------------------------------------ TXT strings


def txt_strings(value: str) -> list[str]:
    """The value cut into <character-string>s of at most 255 bytes (UTF-8), never
    inside a character; resolvers join them back without separators."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for char in value:
        width = len(char.encode("utf-8"))
        if size + width > TXT_CHUNK:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    chunks.append("".join(current))
    return chunks


def quote_txt(chunk: str) -> str:
    """One <character-string> in zone-file syntax: `"` and `\\` escaped, bytes that
    are not printable ASCII as \\DDD."""
    out = ['"']
    for byte in chunk.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def zone_value(record: Record) -> str:
    """The RDATA as a zone file writes it: a TXT is ONE record of quoted strings."""
    if record.type == "TXT":
        return " ".join(quote_txt(chunk) for chunk in txt_strings(record.value))
    return record.value


# ------------------------------------------------------------------ renderers


COLUMNS = ("name", "type", "ttl", "value", "status", "why")


def render_table(records: Sequence[Record], zone: str) -> list[dict[str, Any]]:
    """Rows for a registrar's web form: names relative to `zone`, values unquoted."""
    return [
        {
            "name": relative_name(r.name, zone),
            "type": r.type,
            "ttl": r.ttl,
            "value": r.value,
            "status": r.status,
            "why": r.why,
        }
        for r in records
    ]


def render_bind(records: Sequence[Record]) -> str:
    """Zone-file lines with absolute names."""
    return "".join(_bind_line(r) + "\n" for r in records)


def _bind_line(record: Record) -> str:
    return f"{record.name}\t{record.ttl}\tIN\t{record.type}\t{zone_value(record)}"


def render_zone(
    domain: str,
    records: Sequence[Record],
    *,
    ttl: int = 3600,
    serial: int = 1,
) -> str:
    """A complete zone that BIND, Knot and NSD load: SOA and NS are placeholders for the
    real name servers. Records outside the zone (PTR, the DMARC authorisation in the
    report domain, the server's own records in another domain) appear as comments."""
    origin = absolute(domain)
    ns = f"ns1.{origin}"
    lines = [
        f"; zone {origin} by mailctl dns show --zone: replace the SOA and NS placeholders",
        f"$ORIGIN {origin}",
        f"$TTL {ttl}",
        f"@\tIN\tSOA\t{ns} hostmaster.{origin} ( {serial} 3600 900 1209600 300 )",
        f"@\tIN\tNS\t{ns}",
        f"{ns}\tIN\tA\t{NS_PLACEHOLDER_ADDRESS}\t; placeholder address of the name server",
    ]
    outside = [r for r in records if not within(r.name, origin)]
    lines += [_bind_line(r) for r in records if within(r.name, origin)]
    if outside:
        lines.append(";")
        lines.append("; outside this zone, to be published elsewhere:")
        for record in outside:
            lines.append(f"; {_bind_line(record)}\t; {record.why}")
    return "\n".join(lines) + "\n"


def record_objects(records: Sequence[Record], domain: str | None) -> list[dict[str, Any]]:
    """The JSON schema: one object per record, keys in this order:
    domain (the hosted domain it is listed for), name (absolute), type, ttl,
    value (joined, unquoted), status, why, and for TXT also strings (the
    <=255-byte pieces in order, unquoted)."""
    objects: list[dict[str, Any]] = []
    for r in records:
        item: dict[str, Any] = {} if domain is None else {"domain": _bare(domain)}
        item |= {
            "name": r.name,
            "type": r.type,
            "ttl": r.ttl,
            "value": r.value,
            "status": r.status,
            "why": r.why,
        }
        if r.type == "TXT":
            item["strings"] = txt_strings(r.value)
        objects.append(item)
    return objects


def render_json(records: Sequence[Record], domain: str | None = None) -> str:
    """`record_objects` as a JSON list (without the domain key when none is given)."""
    return json.dumps(record_objects(records, domain), indent=2, ensure_ascii=False) + "\n"
