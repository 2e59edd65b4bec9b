"""Checks of the DNS record templates in [dns]: each is empty (no record) or
parses as the record it becomes, with {domain} standing for a hosted domain.

SPF follows RFC 7208's syntax (the evaluator in mailctl.dns.spf reads the
same grammar), DMARC RFC 7489's tags (plus DMARCbis' np, psd and t), TLS-RPT
RFC 8460's report URIs. Like mailctl.core.checks: None, or what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailctl.core.checks import EXAMPLE_DOMAIN, address
from mailctl.model import spfsyntax

_RE = spfsyntax.FLAGS


def _template(value: str, what: str) -> tuple[str, str | None]:
    text = value.replace("{domain}", EXAMPLE_DOMAIN)
    if not text.isascii() or not text.isprintable():
        return text, f"must be printable ASCII (a {what} record)"
    return text, None


def _cidr(bits: str | None, longest: int) -> bool:
    if bits is None:
        return True
    return re.fullmatch(r"0|[1-9][0-9]{0,2}", bits) is not None and int(bits) <= longest


def _spf_mechanism(term: str) -> bool:
    import ipaddress

    body = term[1:] if term[0] in "+-~?" else term
    parts = re.fullmatch(r"([a-z0-9]+)(:?)(.*)", body, _RE | re.DOTALL)
    if parts is None:
        return False
    kind, colon, rest = parts[1].lower(), parts[2], parts[3]
    if kind == "all":
        return not colon and not rest
    if kind in ("include", "exists"):
        return bool(colon) and spfsyntax.is_domain_spec(rest)
    if kind == "ptr":
        return (not colon and not rest) or (bool(colon) and spfsyntax.is_domain_spec(rest))
    if kind in ("a", "mx"):
        split = re.fullmatch(r"(.*?)(?:/([0-9]+))?(?://([0-9]+))?", rest, re.DOTALL)
        assert split is not None  # noqa: S101 - (.*?) takes anything
        target = split[1]
        return (
            bool(colon) == bool(target)
            and (not target or spfsyntax.is_domain_spec(target))
            and _cidr(split[2], 32)
            and _cidr(split[3], 128)
        )
    if kind in ("ip4", "ip6") and colon:
        address_, slash, bits = rest.partition("/")
        try:
            if kind == "ip4":
                ipaddress.IPv4Address(address_)
            elif re.fullmatch(r"[0-9a-f:.]+", address_, _RE):
                ipaddress.IPv6Address(address_)
            else:
                return False
        except ValueError:
            return False
        return _cidr(bits if slash else None, 32 if kind == "ip4" else 128)
    return False


def spf(value: str) -> str | None:
    """Empty (no record), or an SPF record (RFC 7208 syntax); {domain} allowed."""
    if not value:
        return None
    text, problem = _template(value, "SPF")
    if problem:
        return problem
    if not spfsyntax.is_spf(text):
        return f"must start with 'v=spf1 ' (an SPF record): {value!r}"
    modifiers: set[str] = set()
    for term in text.split(" ")[1:]:
        if not term:
            continue
        modifier = re.fullmatch(r"([a-z][a-z0-9_.-]*)=(.*)", term, _RE | re.DOTALL)
        if modifier is not None:
            name = modifier[1].lower()
            if name in modifiers and name in ("redirect", "exp"):
                return f"has more than one {name}= modifier"
            modifiers.add(name)
            valid = (
                spfsyntax.is_domain_spec(modifier[2])
                if name in ("redirect", "exp")
                else spfsyntax.is_macro_string(modifier[2])
            )
        else:
            valid = _spf_mechanism(term)
        if not valid:
            return f"invalid SPF term {term!r}"
    return None


_POLICY = ("none", "quarantine", "reject")
_DMARC_VALUES: dict[str, Callable[[str], bool]] = {
    "p": lambda v: v.lower() in _POLICY,
    "sp": lambda v: v.lower() in _POLICY,
    "np": lambda v: v.lower() in _POLICY,
    "adkim": lambda v: v.lower() in ("r", "s"),
    "aspf": lambda v: v.lower() in ("r", "s"),
    "pct": lambda v: v.isdigit() and int(v) <= 100,
    "fo": lambda v: re.fullmatch(r"[01ds](?::[01ds])*", v, _RE) is not None,
    "rf": lambda v: re.fullmatch(r"[a-z0-9-]+(?::[a-z0-9-]+)*", v, _RE) is not None,
    "ri": lambda v: v.isdigit() and len(v) <= 32,
    "psd": lambda v: v.lower() in ("y", "n", "u"),
    "t": lambda v: v.lower() in ("y", "n"),
}


def _report_uri(uri: str, *, https: bool, size: bool) -> str | None:
    """A `mailto:` (or, for TLS-RPT, `https:`) report URI; None if fine."""
    uri = uri.strip()
    if https and re.fullmatch(r"https://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[!-~]*)?", uri):
        return None
    if not uri.lower().startswith("mailto:"):
        return f"{uri!r} is not a mailto:{' or https:' if https else ''} URI"
    mailbox = uri[len("mailto:") :]
    if size:
        mailbox, bang, limit = mailbox.partition("!")
        if bang and not re.fullmatch(r"[0-9]+[kmgt]?", limit, _RE):
            return f"{uri!r} has an invalid size limit"
    if not mailbox or address(mailbox):
        return f"{uri!r} is not a mailto: address"
    return None


def dmarc(value: str) -> str | None:
    """Empty (no record), or a DMARC record (RFC 7489 tags); {domain} allowed."""
    if not value:
        return None
    text, problem = _template(value, "DMARC")
    if problem:
        return problem
    pairs: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        tag, sep, tag_value = part.partition("=")
        if not sep:
            return f"{part!r} is not a tag=value pair"
        pairs.append((tag.strip().lower(), tag_value.strip()))
    if not pairs or pairs[0] != ("v", "DMARC1"):
        return f"must start with v=DMARC1 (a DMARC record): {value!r}"
    seen = {"v"}
    for tag, tag_value in pairs[1:]:
        if tag in seen:
            return f"has the tag {tag}= twice"
        seen.add(tag)
        if tag in ("rua", "ruf"):
            for uri in tag_value.split(","):
                if problem := _report_uri(uri, https=False, size=True):
                    return f"{tag}=: {problem}"
        elif tag not in _DMARC_VALUES:
            return f"unknown DMARC tag {tag!r}"
        elif not _DMARC_VALUES[tag](tag_value):
            return f"invalid {tag}={tag_value!r}"
    if "p" not in seen:
        return "needs a policy tag p=none, p=quarantine or p=reject"
    return None


def tlsrpt_rua(value: str) -> str | None:
    """Empty (no record), or TLS-RPT report URIs (RFC 8460: mailto: or https:, comma-separated)."""
    if not value:
        return None
    text, problem = _template(value, "TLS-RPT")
    if problem:
        return problem
    for uri in text.split(","):
        if problem := _report_uri(uri, https=True, size=False):
            return problem
    return None
