"""SPF evaluation for `dns check`: does the published policy pass the server's addresses?

RFC 7208 check_host(): the whole record is parsed first, so a syntax error
anywhere is a permerror; mechanisms ip4, ip6, a, mx, include, exists and all,
modifiers redirect and exp, the limits of 10 DNS-querying terms, 2 void lookups
and 10 MX hosts. Written here rather than taken from pyspf or checkdmarc: only
"does the policy pass these two addresses" is needed, pyspf has no release
since 2020 and checkdmarc pulls in a dozen packages for mail-domain audits we
do not do. Not done: macros (`%{i}` and the like) are checked for syntax but
not expanded, so a term whose domain needs one is a permerror saying so when
evaluation reaches it (terms before it decide as usual); `ptr` (which RFC 7208
says not to publish) counts as a lookup but never matches; exp= is not fetched.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mailctl.dns.lookup import Lookup, LookupFailed
from mailctl.model import spfsyntax

SPF_LOOKUP_LIMIT = 10
SPF_VOID_LIMIT = 2
SPF_MX_LIMIT = 10


class _SpfError(Exception):
    pass


_RE = spfsyntax.FLAGS
_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}


@dataclass(frozen=True)
class _Mechanism:
    """One term of an SPF record."""

    result: str  # what a match gives: pass, fail, softfail or neutral
    kind: str  # all, include, a, mx, ptr, ip4, ip6 or exists
    target: str = ""  # the domain-spec, or the address for ip4/ip6
    cidr4: int | None = None
    cidr6: int | None = None


@dataclass
class _Evaluation:
    """One check_host() run, includes and redirects included, with the RFC 7208 4.6.4 limits:
    at most 10 terms that query DNS and 2 of their queries answered void (NXDOMAIN or no data)."""

    lookup: Lookup
    terms: int = 0
    voids: int = 0

    def term(self) -> None:
        self.terms += 1
        if self.terms > SPF_LOOKUP_LIMIT:
            raise _SpfError(f"more than {SPF_LOOKUP_LIMIT} DNS lookups")

    def query(self, name: str, rdtype: str) -> list[str]:
        """A term's own query (not the address lookups of MX hosts)."""
        found = self.lookup(name.rstrip(".") + ".", rdtype)
        if not found:
            self.voids += 1
            if self.voids > SPF_VOID_LIMIT:
                raise _SpfError(f"more than {SPF_VOID_LIMIT} void DNS lookups")
        return found or []


is_spf = spfsyntax.is_spf


def spf_check(ip: str, domain: str, lookup: Lookup) -> str:
    """RFC 7208 check_host() for the mechanisms mail setups use; returns the result name."""
    try:
        return _check_host(ipaddress.ip_address(ip), domain.rstrip("."), _Evaluation(lookup))
    except _SpfError as exc:
        return f"permerror ({exc})"
    except LookupFailed as exc:
        return f"temperror ({exc})"


def _check_host(ip: Any, domain: str, ev: _Evaluation) -> str:
    if not spfsyntax.is_domain(domain):
        return "none"  # RFC 7208 4.3
    records = [v for v in ev.query(domain, "TXT") if is_spf(v)]
    if len(records) > 1:
        raise _SpfError(f"{domain} has {len(records)} SPF records")
    if not records:
        return "none"
    mechanisms, redirect = _parse(records[0], domain)
    for mechanism in mechanisms:
        if _matches(ip, mechanism, ev):
            return mechanism.result
    if redirect is not None:  # never reached when the record has `all`, as 6.1 wants
        return _included(ip, "redirect=", redirect, ev)
    return "neutral"


def _included(ip: Any, how: str, target: str, ev: _Evaluation) -> str:
    """check_host() of an include: or redirect= target, which must have an SPF record."""
    ev.term()
    result = _check_host(ip, _name(target), ev)
    if result == "none":
        raise _SpfError(f"{how}{target} has no SPF record")
    return result


def _parse(record: str, domain: str) -> tuple[list[_Mechanism], str | None]:
    """The record's mechanisms and its redirect= target; a syntax error anywhere in it is a
    permerror before anything is evaluated (4.6)."""
    mechanisms = []
    modifiers: dict[str, str] = {}
    for term in record.split(" ")[1:]:
        modifier = re.fullmatch(r"([a-z][a-z0-9_.-]*)=(.*)", term, _RE | re.DOTALL)
        if modifier is None:
            if term:
                mechanisms.append(_mechanism(term, domain))
            continue
        name, value = modifier[1].lower(), modifier[2]
        if name in ("redirect", "exp"):
            if name in modifiers:
                raise _SpfError(f"more than one {name}= modifier")
            modifiers[name] = _domain_spec(value)
        elif not spfsyntax.is_macro_string(value):
            raise _SpfError(f"invalid modifier {term!r}")  # other modifiers are ignored (6)
    return mechanisms, modifiers.get("redirect")


def _mechanism(term: str, domain: str) -> _Mechanism:
    result = _QUALIFIERS.get(term[0])
    parts = re.fullmatch(r"([a-z0-9]+)(:?)(.*)", term[1:] if result else term, _RE | re.DOTALL)
    if parts is None:
        raise _SpfError(f"invalid term {term!r}")
    kind, colon, rest = parts[1].lower(), parts[2], parts[3]
    result = result or "pass"
    if kind == "all" and not colon and not rest:
        return _Mechanism(result, kind)
    if kind in ("include", "exists") and colon:
        return _Mechanism(result, kind, _domain_spec(rest))
    if kind == "ptr" and bool(colon) == bool(rest):
        return _Mechanism(result, kind, _domain_spec(rest) if rest else domain)
    if kind in ("a", "mx"):
        target, cidr4, cidr6 = _split_cidr(rest, "")
        if bool(colon) == bool(target):  # `a:name/24` or `a/24`, not `a:/24` or `a/x`
            target = _domain_spec(target) if target else domain
            return _Mechanism(result, kind, target, cidr4, cidr6)
    if kind in ("ip4", "ip6") and colon:
        address, slash, bits = rest.partition("/")
        try:
            if kind == "ip4":
                ipaddress.IPv4Address(address)
                return _Mechanism(result, kind, address, cidr4=_cidr(bits if slash else None, 32))
            if re.fullmatch(r"[0-9a-f:.]+", address, _RE):  # no %scope
                ipaddress.IPv6Address(address)
                return _Mechanism(result, kind, address, cidr6=_cidr(bits if slash else None, 128))
        except ValueError:
            pass
    raise _SpfError(f"invalid or unknown mechanism {term!r}")


def _split_cidr(spec: str, domain: str) -> tuple[str, int | None, int | None]:
    """`name/24//64` -> (name, 24, 64) (5.6 dual-cidr-length): either length may be left out,
    and the name, which then is `domain`."""
    parts = re.fullmatch(r"(.*?)(?:/([0-9]+))?(?://([0-9]+))?", spec, re.DOTALL)
    if parts is None:  # cannot happen: (.*?) takes anything
        raise _SpfError(f"invalid {spec!r}")
    return parts[1] or domain, _cidr(parts[2], 32), _cidr(parts[3], 128)


def _cidr(bits: str | None, longest: int) -> int | None:
    if bits is None:
        return None
    if not re.fullmatch(r"0|[1-9][0-9]{0,2}", bits) or int(bits) > longest:
        raise _SpfError(f"invalid CIDR length /{bits}")
    return int(bits)


def _domain_spec(spec: str) -> str:
    """A domain-spec (7.1), checked; macros are kept, and refused only if evaluated."""
    if not spfsyntax.is_domain_spec(spec):
        raise _SpfError(f"invalid domain {spec!r}")
    return spec


def _name(spec: str) -> str:
    """The name a domain-spec stands for; mailctl does not expand macros (see the docstring)."""
    if "%" in spec:
        raise _SpfError(f"{spec!r} needs macro expansion, which mailctl does not do")
    return spec


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


def _matches(ip: Any, m: _Mechanism, ev: _Evaluation) -> bool:
    if m.kind == "all":
        return True
    if m.kind in ("ip4", "ip6"):
        return _in(ip, [m.target], m.cidr4, m.cidr6)
    if m.kind == "include":
        return _included(ip, "include:", m.target, ev) == "pass"
    ev.term()
    if m.kind == "a":
        found = ev.query(_name(m.target), "A" if ip.version == 4 else "AAAA")
        return _in(ip, found, m.cidr4, m.cidr6)
    if m.kind == "mx":
        hosts = [v.split()[-1] for v in ev.query(_name(m.target), "MX")]
        if len(hosts) > SPF_MX_LIMIT:
            raise _SpfError(f"mx:{m.target} has more than {SPF_MX_LIMIT} MX records")
        return any(_in(ip, _addresses(h, ip, ev.lookup), m.cidr4, m.cidr6) for h in hosts)
    if m.kind == "exists":
        return bool(ev.query(_name(m.target), "A"))  # an A query also for IPv6 clients (5.7)
    return False  # ptr: counted, never evaluated (see the docstring)
