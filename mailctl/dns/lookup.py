"""Live DNS lookups (dnspython): one resolver factory and plain-value queries.

`--nameserver HOST[:PORT]` aims every query at one server (a registrar's, or
a test BIND on a high port); without it the system resolver is used.
`make_lookup()` wraps a resolver into the cached `Lookup` that `dns check`
and the SPF evaluation ask.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mailctl.errors import MailctlError, UsageError

TIMEOUT = 5.0

Lookup = Callable[[str, str], list[str] | None]


class LookupFailed(MailctlError):
    """The DNS server could not be asked or did not answer in time."""


@dataclass(frozen=True)
class Nameserver:
    """A DNS server to ask: an IP address and a port."""

    host: str
    port: int = 53


def parse_nameserver(value: str) -> Nameserver:
    """`192.0.2.1`, `192.0.2.1:5353`, `::1`, `[::1]:5353` (names are not accepted:
    resolving the resolver would need a resolver)."""
    text = value.strip(" ")
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53"
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        if not text.isprintable():  # ipaddress takes "fe80::1%eth\n0", int() "53\n"
            raise ValueError(text)
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise UsageError(
            f"invalid --nameserver {value!r}: expected an IP address with an optional port,"
            " like 192.0.2.1, 192.0.2.1:5353 or [::1]:5353"
        ) from None
    if not 0 < number < 65536:
        raise UsageError(f"invalid --nameserver {value!r}: port must be 1-65535")
    return Nameserver(host, number)


def resolver(nameserver: Nameserver | None, timeout: float = TIMEOUT) -> Any:
    import dns.resolver

    res = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        res.nameservers = [nameserver.host]
        res.port = nameserver.port
    res.timeout = timeout
    res.lifetime = timeout
    return res


def query(res: Any, name: str, rdtype: str) -> list[Any] | None:
    """The answer's rdata, None when the name or type does not exist."""
    import dns.exception
    import dns.resolver

    try:
        return list(res.resolve(name, rdtype, raise_on_no_answer=False) or [])
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except dns.resolver.NoNameservers as exc:
        raise LookupFailed(f"no DNS server answered for {name} {rdtype}: {exc}") from None
    except dns.exception.Timeout:
        raise LookupFailed(
            f"DNS lookup of {name} {rdtype} timed out after {res.lifetime:g}s"
        ) from None


def txt_values(res: Any, name: str) -> list[str]:
    """Each TXT record at `name` as one string (its character-strings joined)."""
    return [_presentation("TXT", r) for r in query(res, name, "TXT") or []]


def _presentation(rdtype: str, rdata: Any) -> str:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return str(rdata.to_text())


def make_lookup(res: Any) -> Lookup:
    """(name, type) -> presentation values, None when absent; cached per run."""
    cache: dict[tuple[str, str], list[str] | None | LookupFailed] = {}

    def lookup(name: str, rdtype: str) -> list[str] | None:
        key = (name.lower(), rdtype)
        if key not in cache:
            try:
                answer = query(res, name, rdtype)
                cache[key] = None if answer is None else [_presentation(rdtype, r) for r in answer]
            except LookupFailed as exc:
                cache[key] = exc  # a timeout is not retried for every row that needs it
        found = cache[key]
        if isinstance(found, LookupFailed):
            raise found
        return found

    return lookup
