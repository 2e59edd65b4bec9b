"""`dns check`: look the expected records up live and compare them.

Values are normalised before comparing (case, trailing dots, TXT strings
joined, canonical IP form, record sets as sets), and some records are judged
by meaning rather than text: exactly one SPF record that authorises the
server's addresses (evaluated by mailctl.dns.spf), a DKIM record carrying the
same key as the local file, exactly one DMARC record that starts
`v=DMARC1; p=`, an MTA-STS record with the current policy id, a PTR that
resolves back. Which judgement a record gets is looked up by its `kind` in
`CHECKS`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mailctl.dns import lookup as dnslookup
from mailctl.dns.lookup import Lookup
from mailctl.dns.names import absolute
from mailctl.dns.records import Record, RecordKind, dmarc_effective
from mailctl.dns.spf import is_spf, spf_check

WORKERS = 8


@dataclass(frozen=True)
class Row:
    """One record of `dns check`: what DNS answers against what it should."""

    domain: str
    name: str
    type: str
    status: str  # OK, MISSING, DIFFERENT, ERROR
    expected: str
    found: str
    level: str  # required / recommended / optional: whether a problem fails the check

    @property
    def failed(self) -> bool:
        return self.status != "OK" and self.level != "optional"


def normalise(rdtype: str, value: str) -> str:
    """A comparable form of one record value."""
    text = " ".join(value.split())
    if rdtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text
    if rdtype in ("CNAME", "PTR", "NS"):
        return absolute(text)
    if rdtype == "MX":
        pref, _, host = text.partition(" ")
        return f"{int(pref)} {absolute(host)}"
    if rdtype == "SRV":
        prio, weight, port, target = text.split(" ")
        return f"{int(prio)} {int(weight)} {int(port)} {absolute(target)}"
    if rdtype == "TLSA":
        usage, selector, matching, data = text.split(" ", 3)
        return f"{usage} {selector} {matching} {data.replace(' ', '').lower()}"
    if rdtype == "TXT":
        return _tags_text(text)
    return text


def _tags_text(value: str) -> str:
    """`v=X; a=b;` and `v=X;a=b` compare equal."""
    if "=" not in value:
        return value.strip()
    parts = [p.strip() for p in value.split(";") if p.strip()]
    return "; ".join(" ".join(p.split()) for p in parts)


def _tags(value: str) -> list[tuple[str, str]]:
    out = []
    for part in value.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            out.append((key.strip().lower(), val.strip()))
    return out


@dataclass(frozen=True)
class _Checking:
    """One domain's check: what the checkers need besides the record."""

    domain: str
    hostname: str  # the server's, for the forward confirmation of its PTR
    ips: Sequence[str]  # the server's addresses, which the SPF policy must pass
    lookup: Lookup

    def row(self, record: Record, status: str, found: str) -> Row:
        return Row(
            self.domain, record.name, record.type, status, record.value, found, record.status
        )


Checker = Callable[[_Checking, Record], Row]


def check_domain(
    domain: str, records: Sequence[Record], ctx_hostname: str, ips: Sequence[str], lookup: Lookup
) -> list[Row]:
    """One row per expected record of one domain."""
    checking = _Checking(domain, ctx_hostname, ips, lookup)
    rows = []
    for record in records:
        try:
            rows.append(CHECKS[record.kind](checking, record))
        except dnslookup.LookupFailed as exc:
            rows.append(checking.row(record, "ERROR", str(exc)))
    return rows


def _compare(c: _Checking, record: Record) -> Row:
    """The value is one of the record set's, normalised."""
    found = c.lookup(record.name, record.type)
    if not found:
        return c.row(record, "MISSING", "")
    want = normalise(record.type, record.value)
    have = {normalise(record.type, v) for v in found}
    if want in have:
        return c.row(record, "OK", record.value)
    return c.row(record, "DIFFERENT", ", ".join(sorted(found)))


def _compare_txt(c: _Checking, record: Record) -> Row:
    """The value is one of the TXT records at the name, tags compared as tags."""
    found = c.lookup(record.name, "TXT") or []
    if not found:
        return c.row(record, "MISSING", "")
    if normalise("TXT", record.value) in {normalise("TXT", v) for v in found}:
        return c.row(record, "OK", record.value)
    return c.row(record, "DIFFERENT", " | ".join(found))


def _check_spf(c: _Checking, record: Record) -> Row:
    """Exactly one SPF record, and it passes every address of the server."""
    spf = [v for v in c.lookup(record.name, "TXT") or [] if is_spf(v)]
    if not spf:
        return c.row(record, "MISSING", "")
    if len(spf) > 1:
        return c.row(
            record, "DIFFERENT", f"{len(spf)} SPF records (only one is allowed): " + " | ".join(spf)
        )
    verdicts = [(ip, spf_check(ip, c.domain, c.lookup)) for ip in c.ips]
    refused = [f"{ip}: {result}" for ip, result in verdicts if result != "pass"]
    if refused:
        return c.row(record, "DIFFERENT", f"{spf[0]} (does not authorise {'; '.join(refused)})")
    return c.row(record, "OK", spf[0])


def _check_dkim(c: _Checking, record: Record) -> Row:
    """A TXT record at the selector's name carries the same public key as the key file."""
    from mailctl.dkim.keyfiles import public_key_from_dns_value
    from mailctl.errors import MailctlError

    found = c.lookup(record.name, "TXT") or []
    if not found:
        return c.row(record, "MISSING", "")
    want = public_key_from_dns_value(record.value)
    for value in found:
        try:
            if _same_key(public_key_from_dns_value(value), want):
                return c.row(record, "OK", value)
        except MailctlError:
            continue
    return c.row(
        record, "DIFFERENT", " | ".join(found) + " (published key does not match the local key)"
    )


def _same_key(a: Any, b: Any) -> bool:
    from cryptography.hazmat.primitives import serialization

    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(a.public_bytes(der, spki) == b.public_bytes(der, spki))


def _check_dmarc(c: _Checking, record: Record) -> Row:
    """Exactly one DMARC record, starting `v=DMARC1; p=`, with the expected tags."""
    found = c.lookup(record.name, "TXT") or []
    dmarc = [v for v in found if v.lower().startswith("v=dmarc1")]
    if not dmarc:
        return c.row(record, "MISSING", " | ".join(found))
    if len(dmarc) > 1:
        return c.row(record, "DIFFERENT", f"{len(dmarc)} DMARC records: " + " | ".join(dmarc))
    tags = _tags(dmarc[0])
    if len(tags) < 2 or tags[0][0] != "v" or tags[1][0] != "p":
        return c.row(record, "DIFFERENT", f"{dmarc[0]} (must start 'v=DMARC1; p=')")
    # RFC 7489 and RFC 9989 spellings of one policy are the same record
    same = dmarc_effective(dmarc[0]) == dmarc_effective(record.value)
    return c.row(record, "OK" if same else "DIFFERENT", dmarc[0])


def _check_mta_sts(c: _Checking, record: Record) -> Row:
    """Exactly one MTA-STS record, with the id of the current policy."""
    sts = [v for v in c.lookup(record.name, "TXT") or [] if v.lower().startswith("v=stsv1")]
    if not sts:
        return c.row(record, "MISSING", "")
    current = dict(_tags(record.value)).get("id")
    ok = len(sts) == 1 and dict(_tags(sts[0])).get("id") == current
    return c.row(
        record,
        "OK" if ok else "DIFFERENT",
        " | ".join(sts) + ("" if ok else f" (current id={current})"),
    )


def _check_ptr(c: _Checking, record: Record) -> Row:
    """The PTR names the server, and the server's name resolves back to the address."""
    found = c.lookup(record.name, "PTR")
    if not found:
        return c.row(record, "MISSING", "")
    targets = {normalise("PTR", v) for v in found}
    if normalise("PTR", record.value) not in targets:
        return c.row(record, "DIFFERENT", ", ".join(sorted(found)))
    ip = _ip_of_reverse(record.name)
    rdtype = "A" if ip.version == 4 else "AAAA"
    forward = {normalise(rdtype, v) for v in c.lookup(c.hostname, rdtype) or []}
    if str(ip) not in forward:
        return c.row(
            record,
            "DIFFERENT",
            f"{', '.join(sorted(found))} (but {c.hostname} {rdtype} does not point back"
            f" to {ip}: forward-confirmed reverse DNS fails)",
        )
    return c.row(record, "OK", ", ".join(sorted(found)))


def _ip_of_reverse(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    import dns.name
    import dns.reversename

    return ipaddress.ip_address(dns.reversename.to_address(dns.name.from_text(name)))


CHECKS: dict[RecordKind, Checker] = {
    RecordKind.ADDRESS: _compare,
    RecordKind.DISCOVERY: _compare,
    RecordKind.MX: _compare,
    RecordKind.SPF: _check_spf,
    RecordKind.DKIM: _check_dkim,
    RecordKind.DMARC: _check_dmarc,
    RecordKind.DMARC_REPORT: _compare_txt,
    RecordKind.SRV: _compare,
    RecordKind.TLSA: _compare,
    RecordKind.MTA_STS: _check_mta_sts,
    RecordKind.TLSRPT: _compare_txt,
    RecordKind.PTR: _check_ptr,
}


# --- running -----------------------------------------------------------------


def run(
    checks: Sequence[tuple[str, Sequence[Record], str, Sequence[str]]],
    nameserver: dnslookup.Nameserver | None,
) -> list[Row]:
    """Check every domain's records concurrently (bounded), in the given order."""
    res = dnslookup.resolver(nameserver)
    lookup = dnslookup.make_lookup(res)
    # One probe first: an unreachable server is one clear error, not a wait per record.
    if checks:
        dnslookup.query(res, checks[0][0] + ".", "SOA")
    # Warm the cache with every (name, type) the checks will ask for, in one bounded pool.
    wanted = sorted({(r.name, r.type) for _domain, records, _h, _ips in checks for r in records})
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for future in [pool.submit(_quiet, lookup, name, rdtype) for name, rdtype in wanted]:
            future.result()
    rows: list[Row] = []
    for domain, records, hostname, ips in checks:
        rows += check_domain(domain, records, hostname, ips, lookup)
    return rows


def _quiet(lookup: Lookup, name: str, rdtype: str) -> None:
    try:
        lookup(name, rdtype)
    except dnslookup.LookupFailed:
        pass  # reported on the record's own row
