"""`dns check`: look the expected records up live and compare them.

Values are normalised before comparing (case, trailing dots, TXT strings
joined, canonical IP form, record sets as sets), and some records are judged
by meaning rather than text: exactly one SPF record that authorises the
server's addresses, a DKIM record carrying the same key as the local file,
exactly one DMARC record that starts `v=DMARC1; p=`, a PTR that resolves back.

SPF is evaluated here (RFC 7208 mechanisms ip4, ip6, a, mx, include, redirect
and all, with the 10-lookup limit) rather than with pyspf or checkdmarc: only
"does the policy pass these two addresses" is needed, pyspf has no release
since 2020 and checkdmarc pulls in a dozen packages for mail-domain audits we
do not do. Macros and `exists:` are reported as not evaluated.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mailctl import dnslookup
from mailctl.dnsrecords import Record

WORKERS = 8
SPF_LOOKUP_LIMIT = 10


@dataclass(frozen=True)
class Row:
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


Lookup = Callable[[str, str], list[str] | None]


def _normal_name(value: str) -> str:
    return value.strip().lower().rstrip(".") + "."


def _presentation(rdtype: str, rdata: Any) -> str:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return str(rdata.to_text())


def make_lookup(res: Any) -> Lookup:
    """(name, type) -> presentation values, None when absent; cached per run."""
    cache: dict[tuple[str, str], list[str] | None | dnslookup.LookupFailed] = {}

    def lookup(name: str, rdtype: str) -> list[str] | None:
        key = (name.lower(), rdtype)
        if key not in cache:
            try:
                answer = dnslookup.query(res, name, rdtype)
                cache[key] = None if answer is None else [_presentation(rdtype, r) for r in answer]
            except dnslookup.LookupFailed as exc:
                cache[key] = exc  # a timeout is not retried for every row that needs it
        found = cache[key]
        if isinstance(found, dnslookup.LookupFailed):
            raise found
        return found

    return lookup


def normalise(rdtype: str, value: str) -> str:
    """A comparable form of one record value."""
    text = " ".join(value.split())
    if rdtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text
    if rdtype in ("CNAME", "PTR", "NS"):
        return _normal_name(text)
    if rdtype == "MX":
        pref, _, host = text.partition(" ")
        return f"{int(pref)} {_normal_name(host)}"
    if rdtype == "SRV":
        prio, weight, port, target = text.split(" ")
        return f"{int(prio)} {int(weight)} {int(port)} {_normal_name(target)}"
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


def check_domain(
    domain: str, records: Sequence[Record], ctx_hostname: str, ips: Sequence[str], lookup: Lookup
) -> list[Row]:
    """One row per expected record of one domain."""
    rows = []
    for record in records:
        try:
            rows.append(_check(domain, record, ctx_hostname, ips, lookup))
        except dnslookup.LookupFailed as exc:
            rows.append(_row(domain, record, "ERROR", str(exc)))
    return rows


def _row(domain: str, record: Record, status: str, found: str) -> Row:
    return Row(domain, record.name, record.type, status, record.value, found, record.status)


def _check(domain: str, record: Record, hostname: str, ips: Sequence[str], lookup: Lookup) -> Row:
    if record.type == "TXT":
        return _check_txt(domain, record, ips, lookup)
    if record.type == "PTR":
        return _check_ptr(domain, record, hostname, lookup)
    found = lookup(record.name, record.type)
    if not found:
        return _row(domain, record, "MISSING", "")
    want = normalise(record.type, record.value)
    have = {normalise(record.type, v) for v in found}
    if want in have:
        return _row(domain, record, "OK", record.value)
    return _row(domain, record, "DIFFERENT", ", ".join(sorted(found)))


def _check_txt(domain: str, record: Record, ips: Sequence[str], lookup: Lookup) -> Row:
    found = lookup(record.name, "TXT") or []
    value = record.value
    if value.lower().startswith("v=spf1"):
        spf = [v for v in found if v.lower().startswith("v=spf1")]
        if not spf:
            return _row(domain, record, "MISSING", "")
        if len(spf) > 1:
            return _row(
                domain,
                record,
                "DIFFERENT",
                f"{len(spf)} SPF records (only one is allowed): " + " | ".join(spf),
            )
        verdicts = [(ip, spf_check(ip, domain, lookup)) for ip in ips]
        refused = [f"{ip}: {result}" for ip, result in verdicts if result != "pass"]
        if refused:
            return _row(
                domain, record, "DIFFERENT", f"{spf[0]} (does not authorise {'; '.join(refused)})"
            )
        return _row(domain, record, "OK", spf[0])
    if "._domainkey." in record.name:
        return _check_dkim(domain, record, found)
    if record.name.startswith("_dmarc."):
        dmarc = [v for v in found if v.lower().startswith("v=dmarc1")]
        if not dmarc:
            return _row(domain, record, "MISSING", " | ".join(found))
        if len(dmarc) > 1:
            return _row(
                domain, record, "DIFFERENT", f"{len(dmarc)} DMARC records: " + " | ".join(dmarc)
            )
        tags = _tags(dmarc[0])
        if len(tags) < 2 or tags[0][0] != "v" or tags[1][0] != "p":
            return _row(domain, record, "DIFFERENT", f"{dmarc[0]} (must start 'v=DMARC1; p=')")
        same = sorted(tags) == sorted(_tags(value))
        return _row(domain, record, "OK" if same else "DIFFERENT", dmarc[0])
    if record.name.startswith("_mta-sts."):
        sts = [v for v in found if v.lower().startswith("v=stsv1")]
        if not sts:
            return _row(domain, record, "MISSING", "")
        current = dict(_tags(value)).get("id")
        ok = len(sts) == 1 and dict(_tags(sts[0])).get("id") == current
        return _row(
            domain,
            record,
            "OK" if ok else "DIFFERENT",
            " | ".join(sts) + ("" if ok else f" (current id={current})"),
        )
    if not found:
        return _row(domain, record, "MISSING", "")
    if normalise("TXT", value) in {normalise("TXT", v) for v in found}:
        return _row(domain, record, "OK", value)
    return _row(domain, record, "DIFFERENT", " | ".join(found))


def _check_dkim(domain: str, record: Record, found: list[str]) -> Row:
    from mailctl.dkim import public_key_from_dns_value
    from mailctl.errors import MailctlError

    if not found:
        return _row(domain, record, "MISSING", "")
    want = public_key_from_dns_value(record.value)
    for value in found:
        try:
            if _same_key(public_key_from_dns_value(value), want):
                return _row(domain, record, "OK", value)
        except MailctlError:
            continue
    return _row(
        domain,
        record,
        "DIFFERENT",
        " | ".join(found) + " (published key does not match the local key)",
    )


def _same_key(a: Any, b: Any) -> bool:
    from cryptography.hazmat.primitives import serialization

    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(a.public_bytes(der, spki) == b.public_bytes(der, spki))


def _check_ptr(domain: str, record: Record, hostname: str, lookup: Lookup) -> Row:
    found = lookup(record.name, "PTR")
    if not found:
        return _row(domain, record, "MISSING", "")
    targets = {normalise("PTR", v) for v in found}
    if normalise("PTR", record.value) not in targets:
        return _row(domain, record, "DIFFERENT", ", ".join(sorted(found)))
    ip = _ip_of_reverse(record.name)
    rdtype = "A" if ip.version == 4 else "AAAA"
    forward = {normalise(rdtype, v) for v in lookup(hostname, rdtype) or []}
    if str(ip) not in forward:
        return _row(
            domain,
            record,
            "DIFFERENT",
            f"{', '.join(sorted(found))} (but {hostname} {rdtype} does not point back"
            f" to {ip}: forward-confirmed reverse DNS fails)",
        )
    return _row(domain, record, "OK", ", ".join(sorted(found)))


def _ip_of_reverse(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    import dns.name
    import dns.reversename

    return ipaddress.ip_address(dns.reversename.to_address(dns.name.from_text(name)))


# --- SPF ---------------------------------------------------------------------


class _SpfError(Exception):
    pass


def spf_check(ip: str, domain: str, lookup: Lookup) -> str:
    """RFC 7208 check_host() for the mechanisms mail setups use; returns the result name."""
    counter = [0]
    try:
        return _check_host(ipaddress.ip_address(ip), domain.rstrip("."), lookup, counter)
    except _SpfError as exc:
        return f"permerror ({exc})"
    except dnslookup.LookupFailed as exc:
        return f"temperror ({exc})"


def _spf_record(domain: str, lookup: Lookup) -> str | None:
    records = [v for v in lookup(domain + ".", "TXT") or [] if v.lower().startswith("v=spf1")]
    if len(records) > 1:
        raise _SpfError(f"{domain} has {len(records)} SPF records")
    return records[0] if records else None


def _count(counter: list[int]) -> None:
    counter[0] += 1
    if counter[0] > SPF_LOOKUP_LIMIT:
        raise _SpfError(f"more than {SPF_LOOKUP_LIMIT} DNS lookups")


def _check_host(ip: Any, domain: str, lookup: Lookup, counter: list[int]) -> str:
    record = _spf_record(domain, lookup)
    if record is None:
        return "none"
    redirect = None
    results = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
    for term in record.split()[1:]:
        if term.lower().startswith("redirect="):
            redirect = term.split("=", 1)[1]
            continue
        if "=" in term.split(":", 1)[0]:
            continue  # other modifiers (exp=) do not change the result
        qualifier = term[0] if term[0] in results else "+"
        mechanism = term[1:] if term[0] in results else term
        if _matches(ip, mechanism, domain, lookup, counter):
            return results[qualifier]
    if redirect is not None:
        _count(counter)
        return _check_host(ip, redirect, lookup, counter)
    return "neutral"


def _split_cidr(spec: str, domain: str) -> tuple[str, int | None, int | None]:
    target, _, rest = spec.partition("/")
    cidr4: int | None = None
    cidr6: int | None = None
    if rest:
        parts = rest.split("/")  # a/24//64 -> ["24", "", "64"]
        cidr4 = int(parts[0]) if parts[0] else None
        if len(parts) == 3 and parts[2]:
            cidr6 = int(parts[2])
    return target or domain, cidr4, cidr6


def _in(ip: Any, addresses: Iterable[str], cidr4: int | None, cidr6: int | None) -> bool:
    for address in addresses:
        net = ipaddress.ip_address(address)
        if net.version != ip.version:
            continue
        prefix = cidr4 if ip.version == 4 else cidr6
        network = ipaddress.ip_network(
            f"{net}/{prefix if prefix is not None else net.max_prefixlen}", strict=False
        )
        if ip in network:
            return True
    return False


def _addresses(name: str, ip: Any, lookup: Lookup) -> list[str]:
    return lookup(name.rstrip(".") + ".", "A" if ip.version == 4 else "AAAA") or []


def _matches(ip: Any, mechanism: str, domain: str, lookup: Lookup, counter: list[int]) -> bool:
    name, _, arg = mechanism.partition(":")
    base = name.split("/", 1)[0].lower()
    suffix = name[len(base) :]  # "a/24" keeps "/24"; "a:host/24" has it in arg
    if base == "all":
        return True
    if base in ("ip4", "ip6"):
        network = ipaddress.ip_network(arg, strict=False)
        return bool(ip.version == network.version and ip in network)
    if base == "a":
        _count(counter)
        target, cidr4, cidr6 = _split_cidr((arg or domain) + suffix, domain)
        return _in(ip, _addresses(target, ip, lookup), cidr4, cidr6)
    if base == "mx":
        _count(counter)
        target, cidr4, cidr6 = _split_cidr((arg or domain) + suffix, domain)
        hosts = [v.split()[-1] for v in lookup(target.rstrip(".") + ".", "MX") or []]
        return any(_in(ip, _addresses(h, ip, lookup), cidr4, cidr6) for h in hosts[:10])
    if base == "include":
        _count(counter)
        result = _check_host(ip, arg, lookup, counter)
        if result == "none":
            raise _SpfError(f"include:{arg} has no SPF record")
        return result == "pass"
    if base in ("exists", "ptr"):
        _count(counter)
        return False
    raise _SpfError(f"unknown mechanism {mechanism!r}")


# --- running -----------------------------------------------------------------


def run(
    checks: Sequence[tuple[str, Sequence[Record], str, Sequence[str]]],
    nameserver: dnslookup.Nameserver | None,
) -> list[Row]:
    """Check every domain's records concurrently (bounded), in the given order."""
    res = dnslookup.resolver(nameserver)
    lookup = make_lookup(res)
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
