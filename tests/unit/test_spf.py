"""mailctl's in-house SPF evaluator (mailctl.dns.spf.spf_check) against RFC 7208, table-driven.

Every row runs check_host() for one client address against a policy published in a fake
resolver built from a plain dict. The fake answers like dnslookup.make_lookup does: a list of
presentation strings, [] for a name without that type (NODATA), None for a name that does not
exist (NXDOMAIN), and dnslookup.LookupFailed for a server failure (test_fake_matches_make_lookup
holds it to that). Every row expects the RFC's answer; comments name the section where it is
easy to get wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dns.exception
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest

from mailctl.dns.check import check_domain
from mailctl.dns.lookup import Lookup, LookupFailed, make_lookup
from mailctl.dns.records import Record, RecordKind
from mailctl.dns.spf import _split_cidr, spf_check

Zone = Mapping[tuple[str, str], list[str]]

DOMAIN = "example.nl"
BROKEN = "broken.example.nl"  # every query for this name fails (SERVFAIL / timeout)

ZONE: dict[tuple[str, str], list[str]] = {
    ("example.nl", "A"): ["192.0.2.10"],
    ("example.nl", "AAAA"): ["2001:db8::10"],
    ("example.nl", "MX"): ["10 mx.example.nl."],
    ("mx.example.nl", "A"): ["198.51.100.20"],
    ("mx.example.nl", "AAAA"): ["2001:db8:20::20"],
    ("other.example.nl", "A"): ["203.0.113.30"],
    ("other.example.nl", "AAAA"): ["2001:db8:30::30"],
    ("other.example.nl", "MX"): ["10 mx1.other.example.nl.", "20 mx2.other.example.nl."],
    ("mx1.other.example.nl", "A"): ["203.0.113.40"],
    ("mx2.other.example.nl", "AAAA"): ["2001:db8:40::40"],
    # eleven MX hosts: one more than RFC 7208 4.6.4 lets an mx mechanism resolve
    ("many.example.nl", "MX"): [f"{i} h{i}.many.example.nl." for i in range(1, 12)],
    **{(f"h{i}.many.example.nl", "A"): [f"198.51.100.{100 + i}"] for i in range(1, 12)},
    ("mxbroken.example.nl", "MX"): [f"10 {BROKEN}."],
    ("inc-pass.example.nl", "TXT"): ["v=spf1 ip4:192.0.2.99 ip6:2001:db8::99 -all"],
    ("inc-fail.example.nl", "TXT"): ["v=spf1 -all"],
    ("inc-softfail.example.nl", "TXT"): ["v=spf1 ~all"],
    ("inc-neutral.example.nl", "TXT"): ["v=spf1 ?all"],
    ("inc-permerror.example.nl", "TXT"): ["v=spf1 foo:bar -all"],
    ("nospf.example.nl", "TXT"): ["google-site-verification=abc123"],
    ("nospf.example.nl", "A"): ["192.0.2.10"],
    ("redir.example.nl", "TXT"): ["v=spf1 a ip4:198.51.100.0/24 -all"],
    ("redir.example.nl", "A"): ["203.0.113.77"],
    ("exists-yes.example.nl", "A"): ["127.0.0.2"],
    ("nodata.example.nl", "TXT"): ["not an spf record"],  # exists, but has no A, AAAA or MX
}


class FakeDns:
    """A dnslookup.Lookup over a dict: (name, type) -> values, like make_lookup's."""

    def __init__(self, zone: Zone, broken: Iterable[str] = (BROKEN,)) -> None:
        self.zone = {(name.lower(), rdtype.upper()): list(v) for (name, rdtype), v in zone.items()}
        self.names = {name for name, _ in self.zone}
        self.broken = {name.lower() for name in broken}
        self.queries: list[tuple[str, str]] = []

    def __call__(self, name: str, rdtype: str) -> list[str] | None:
        key = (name.lower().rstrip("."), rdtype.upper())
        self.queries.append(key)
        if key[0] in self.broken:
            raise LookupFailed(f"DNS lookup of {name} {rdtype} timed out after 5s")
        if key in self.zone:
            return list(self.zone[key])
        return [] if key[0] in self.names else None  # NODATA vs NXDOMAIN


def _verdict(result: str) -> str:
    """'permerror (reason)' -> 'permerror'; plain results unchanged."""
    return result.split(" (", 1)[0]


def _check(ip: str, record: str | list[str], zone: Zone = ZONE) -> str:
    records = [record] if isinstance(record, str) else record
    fake = FakeDns({**zone, (DOMAIN, "TXT"): records} if records else zone)
    return _verdict(spf_check(ip, DOMAIN, fake))


def row(id: str, ip: str, record: str | list[str], expected: str) -> object:
    return pytest.param(ip, record, expected, id=id)


IP_ROWS = [
    row("ip4-exact-match", "192.0.2.10", "v=spf1 ip4:192.0.2.10 -all", "pass"),
    row("ip4-exact-miss", "192.0.2.11", "v=spf1 ip4:192.0.2.10 -all", "fail"),
    row("ip4-32-match", "192.0.2.10", "v=spf1 ip4:192.0.2.10/32 -all", "pass"),
    row("ip4-32-miss", "192.0.2.11", "v=spf1 ip4:192.0.2.10/32 -all", "fail"),
    row("ip4-24-match", "192.0.2.200", "v=spf1 ip4:192.0.2.0/24 -all", "pass"),
    row("ip4-24-miss", "192.0.3.1", "v=spf1 ip4:192.0.2.0/24 -all", "fail"),
    row("ip4-never-matches-ipv6", "2001:db8::10", "v=spf1 ip4:0.0.0.0/0 -all", "fail"),
    row("ip6-exact-match", "2001:db8::10", "v=spf1 ip6:2001:db8::10 -all", "pass"),
    row("ip6-exact-miss", "2001:db8::11", "v=spf1 ip6:2001:db8::10 -all", "fail"),
    row("ip6-128-match", "2001:db8::10", "v=spf1 ip6:2001:db8::10/128 -all", "pass"),
    row("ip6-128-miss", "2001:db8::11", "v=spf1 ip6:2001:db8::10/128 -all", "fail"),
    row("ip6-64-match", "2001:db8::ffff:1", "v=spf1 ip6:2001:db8::/64 -all", "pass"),
    row("ip6-64-miss", "2001:db8:0:1::1", "v=spf1 ip6:2001:db8::/64 -all", "fail"),
    row("ip6-never-matches-ipv4", "192.0.2.10", "v=spf1 ip6:::/0 -all", "fail"),
    row("ip6-uppercase-address", "2001:db8::10", "v=spf1 ip6:2001:DB8::10 -all", "pass"),
]

A_MX_ROWS = [
    row("a-match", "192.0.2.10", "v=spf1 a -all", "pass"),
    row("a-miss", "192.0.2.11", "v=spf1 a -all", "fail"),
    row("a-aaaa-match", "2001:db8::10", "v=spf1 a -all", "pass"),
    row("a-24-match", "192.0.2.11", "v=spf1 a/24 -all", "pass"),
    row("a-24-miss", "192.0.3.10", "v=spf1 a/24 -all", "fail"),
    row("a-24-not-applied-to-ipv6", "2001:db8::11", "v=spf1 a/24 -all", "fail"),
    row("a-other-match", "203.0.113.30", "v=spf1 a:other.example.nl -all", "pass"),
    row("a-other-miss", "192.0.2.10", "v=spf1 a:other.example.nl -all", "fail"),
    row("a-other-24-match", "203.0.113.99", "v=spf1 a:other.example.nl/24 -all", "pass"),
    row("a-other-24-miss", "203.0.114.30", "v=spf1 a:other.example.nl/24 -all", "fail"),
    # 5.6 dual-cidr-length: '//64' alone is an ip6-cidr-length
    row("a-other-dual-64-ipv6", "2001:db8:30::ffff", "v=spf1 a:other.example.nl//64 -all", "pass"),
    row("a-other-dual-64-ipv4-exact", "203.0.113.99", "v=spf1 a:other.example.nl//64 -all", "fail"),
    row("a-dual-64-own-domain", "2001:db8::ffff", "v=spf1 a//64 -all", "pass"),
    row(
        "a-other-24-64-ipv6-match",
        "2001:db8:30::ffff",
        "v=spf1 a:other.example.nl/24//64 -all",
        "pass",
    ),
    row(
        "a-other-24-64-ipv6-miss",
        "2001:db8:31::30",
        "v=spf1 a:other.example.nl/24//64 -all",
        "fail",
    ),
    row("a-other-24-64-ipv4-match", "203.0.113.1", "v=spf1 a:other.example.nl/24//64 -all", "pass"),
    row("a-nxdomain-no-match", "192.0.2.10", "v=spf1 a:nxdomain.example.nl -all", "fail"),
    # 5.6/4.6: an out-of-range CIDR length is a syntax error
    row("a-bad-cidr", "192.0.2.10", "v=spf1 a:other.example.nl/33 -all", "permerror"),
    row("mx-match", "198.51.100.20", "v=spf1 mx -all", "pass"),
    row("mx-own-a-is-not-mx", "192.0.2.10", "v=spf1 mx -all", "fail"),
    row("mx-aaaa-match", "2001:db8:20::20", "v=spf1 mx -all", "pass"),
    row("mx-24-match", "198.51.100.99", "v=spf1 mx/24 -all", "pass"),
    row("mx-other-first-host", "203.0.113.40", "v=spf1 mx:other.example.nl -all", "pass"),
    row("mx-other-second-host-ipv6", "2001:db8:40::40", "v=spf1 mx:other.example.nl -all", "pass"),
    row("mx-other-miss", "203.0.113.41", "v=spf1 mx:other.example.nl -all", "fail"),
    row("mx-other-target-a-is-not-mx", "203.0.113.30", "v=spf1 mx:other.example.nl -all", "fail"),
    row("mx-other-24-match", "203.0.113.99", "v=spf1 mx:other.example.nl/24 -all", "pass"),
    row("mx-other-24-miss", "203.0.114.40", "v=spf1 mx:other.example.nl/24 -all", "fail"),
    row("mx-other-24-64-ipv6", "2001:db8:40::1", "v=spf1 mx:other.example.nl/24//64 -all", "pass"),
    row("mx-other-dual-64-ipv6", "2001:db8:40::1", "v=spf1 mx:other.example.nl//64 -all", "pass"),
    row("mx-nxdomain-no-match", "192.0.2.10", "v=spf1 mx:nxdomain.example.nl -all", "fail"),
    # 4.6.4: an mx mechanism needing more than 10 address lookups MUST be permerror
    row("mx-more-than-10-hosts", "192.0.2.10", "v=spf1 mx:many.example.nl -all", "permerror"),
]

INCLUDE_ROWS = [
    row("include-pass", "192.0.2.99", "v=spf1 include:inc-pass.example.nl -all", "pass"),
    row("include-pass-ipv6", "2001:db8::99", "v=spf1 include:inc-pass.example.nl -all", "pass"),
    row(
        "include-inner-fail-continues",
        "192.0.2.99",
        "v=spf1 include:inc-fail.example.nl ip4:192.0.2.99 -all",
        "pass",
    ),
    row(
        "include-inner-fail-is-not-fail",
        "192.0.2.99",
        "v=spf1 include:inc-fail.example.nl ~all",
        "softfail",
    ),
    row(
        "include-inner-softfail-no-match",
        "192.0.2.99",
        "v=spf1 include:inc-softfail.example.nl ?all",
        "neutral",
    ),
    row(
        "include-inner-neutral-no-match",
        "192.0.2.99",
        "v=spf1 include:inc-neutral.example.nl -all",
        "fail",
    ),
    row(
        "include-miss-falls-through",
        "192.0.2.98",
        "v=spf1 include:inc-pass.example.nl ~all",
        "softfail",
    ),
    row("include-no-spf-record", "192.0.2.99", "v=spf1 include:nospf.example.nl -all", "permerror"),
    row("include-nxdomain", "192.0.2.99", "v=spf1 include:nxdomain.example.nl -all", "permerror"),
    row(
        "include-inner-permerror",
        "192.0.2.99",
        "v=spf1 include:inc-permerror.example.nl -all",
        "permerror",
    ),
]

REDIRECT_ROWS = [
    row("redirect-pass", "198.51.100.5", "v=spf1 redirect=redir.example.nl", "pass"),
    row("redirect-fail", "192.0.2.10", "v=spf1 redirect=redir.example.nl", "fail"),
    row(
        "redirect-a-means-target-domain", "203.0.113.77", "v=spf1 redirect=redir.example.nl", "pass"
    ),
    row(
        "redirect-after-non-match",
        "198.51.100.5",
        "v=spf1 ip4:192.0.2.10 redirect=redir.example.nl",
        "pass",
    ),
    row(
        "redirect-unused-on-match", "192.0.2.10", f"v=spf1 ip4:192.0.2.10 redirect={BROKEN}", "pass"
    ),
    row(
        "redirect-first-unused-on-match",
        "192.0.2.10",
        f"v=spf1 redirect={BROKEN} ip4:192.0.2.10",
        "pass",
    ),
    row(
        "redirect-ignored-with-all",
        "198.51.100.5",
        "v=spf1 ~all redirect=redir.example.nl",
        "softfail",
    ),
    # 6.1: a redirect target without an SPF record is permerror, not none
    row("redirect-no-spf-record", "192.0.2.10", "v=spf1 redirect=nospf.example.nl", "permerror"),
    row("redirect-nxdomain", "192.0.2.10", "v=spf1 redirect=nxdomain.example.nl", "permerror"),
    # 6: redirect= MUST NOT appear more than once
    row(
        "redirect-twice",
        "198.51.100.5",
        "v=spf1 redirect=redir.example.nl redirect=inc-pass.example.nl",
        "permerror",
    ),
]

EXISTS_ROWS = [
    # 5.7: exists: matches when an A lookup of the name returns any record
    row("exists-match", "192.0.2.10", "v=spf1 exists:exists-yes.example.nl -all", "pass"),
    row(
        "exists-match-uses-a-for-ipv6",
        "2001:db8::10",
        "v=spf1 exists:exists-yes.example.nl -all",
        "pass",
    ),
    row("exists-nxdomain-no-match", "192.0.2.10", "v=spf1 exists:nxdomain.example.nl -all", "fail"),
    # macros are checked (7.1) but not expanded: permerror only once evaluation needs one
    row("macro-not-expanded", "192.0.2.10", "v=spf1 exists:%{i}.example.nl -all", "permerror"),
    row(
        "macro-after-match-not-reached",
        "192.0.2.10",
        "v=spf1 ip4:192.0.2.10 exists:%{ir}.%{v}._spf.%{d2} -all",
        "pass",
    ),
    row(
        "macro-bad-syntax-after-match",
        "192.0.2.10",
        "v=spf1 ip4:192.0.2.10 exists:%{q}.example.nl -all",
        "permerror",
    ),
]

QUALIFIER_ROWS = [
    row("qualifier-none-is-pass", "192.0.2.10", "v=spf1 ip4:192.0.2.10 -all", "pass"),
    row("qualifier-plus", "192.0.2.10", "v=spf1 +ip4:192.0.2.10 -all", "pass"),
    row("qualifier-minus", "192.0.2.10", "v=spf1 -ip4:192.0.2.10 +all", "fail"),
    row("qualifier-tilde", "192.0.2.10", "v=spf1 ~ip4:192.0.2.10 +all", "softfail"),
    row("qualifier-question", "192.0.2.10", "v=spf1 ?ip4:192.0.2.10 +all", "neutral"),
    row("qualifier-minus-a", "192.0.2.10", "v=spf1 -a +all", "fail"),
    row("qualifier-tilde-mx", "198.51.100.20", "v=spf1 ~mx +all", "softfail"),
    row(
        "qualifier-minus-include", "192.0.2.99", "v=spf1 -include:inc-pass.example.nl +all", "fail"
    ),
    row("all-bare", "192.0.2.10", "v=spf1 all", "pass"),
    row("all-plus", "192.0.2.10", "v=spf1 +all", "pass"),
    row("all-minus", "192.0.2.10", "v=spf1 -all", "fail"),
    row("all-tilde", "192.0.2.10", "v=spf1 ~all", "softfail"),
    row("all-question", "192.0.2.10", "v=spf1 ?all", "neutral"),
    row("all-stops-evaluation", "192.0.2.10", "v=spf1 -all ip4:192.0.2.10", "fail"),
    row("no-match-default-neutral", "192.0.2.10", "v=spf1 ip4:198.51.100.1", "neutral"),
    row("empty-record-neutral", "192.0.2.10", "v=spf1", "neutral"),
    row("mechanism-names-case-insensitive", "192.0.2.10", "v=spf1 IP4:192.0.2.10 -ALL", "pass"),
]

RECORD_ROWS = [
    row("no-txt-none", "192.0.2.10", [], "none"),
    row("only-other-txt-none", "192.0.2.10", ["google-site-verification=abc123"], "none"),
    row(
        "spf-among-other-txt",
        "192.0.2.10",
        ["google-site-verification=abc123", "v=spf1 ip4:192.0.2.10 -all"],
        "pass",
    ),
    row(
        "two-spf-records", "192.0.2.10", ["v=spf1 ip4:192.0.2.10 -all", "v=spf1 -all"], "permerror"
    ),
    row("version-uppercase", "192.0.2.10", "V=SPF1 ip4:192.0.2.10 -all", "pass"),
    row("version-mixed-case", "192.0.2.10", "v=Spf1 ip4:192.0.2.10 -all", "pass"),
    # 4.5: the version must be exactly 'v=spf1' ended by a space or the end
    row("version-spf10-not-spf", "192.0.2.10", "v=spf10 ip4:192.0.2.10 -all", "none"),
    row(
        "version-spf10-beside-spf1",
        "192.0.2.10",
        ["v=spf1 ip4:192.0.2.10 -all", "v=spf10 -all"],
        "pass",
    ),
    row("unknown-mechanism", "192.0.2.10", "v=spf1 foo:bar -all", "permerror"),
    # 4.6: a syntax error anywhere in the record is permerror before any evaluation
    row(
        "unknown-mechanism-after-match",
        "192.0.2.10",
        "v=spf1 ip4:192.0.2.10 foo:bar -all",
        "permerror",
    ),
    row("unknown-modifier-ignored", "192.0.2.10", "v=spf1 foo=bar ip4:192.0.2.10 -all", "pass"),
    row(
        "exp-modifier-ignored",
        "192.0.2.11",
        "v=spf1 ip4:192.0.2.10 -all exp=explain.example.nl",
        "fail",
    ),
    # 5.6/4.6: an out-of-range CIDR length, or ip4: with anything but a dotted quad, is a
    # syntax error
    row("ip4-cidr-33", "192.0.2.10", "v=spf1 ip4:192.0.2.0/33 -all", "permerror"),
    row("ip6-cidr-129", "2001:db8::10", "v=spf1 ip6:2001:db8::/129 -all", "permerror"),
    row("ip4-with-ipv6-address", "192.0.2.10", "v=spf1 ip4:2001:db8::1 -all", "permerror"),
    row("ip4-cidr-leading-zero", "192.0.2.10", "v=spf1 ip4:192.0.2.0/024 -all", "permerror"),
    row("ip6-scope-id", "2001:db8::10", "v=spf1 ip6:2001:db8::10%eth0 -all", "permerror"),
    row(
        "exp-twice",
        "192.0.2.10",
        "v=spf1 ip4:192.0.2.10 exp=a.example.nl exp=b.example.nl",
        "permerror",
    ),
    # 7.1: a domain-spec ends in a top label that is not all digits; 4.3: labels are 1-63 long
    row("domain-ip-literal", "192.0.2.10", "v=spf1 a:192.0.2.10 -all", "permerror"),
    row("domain-empty-label", "192.0.2.10", "v=spf1 a:other..example.nl -all", "permerror"),
    row("domain-backslash", "192.0.2.10", "v=spf1 a:x\\1.example.nl -all", "permerror"),
]

DNS_ERROR_ROWS = [
    row("a-servfail", "192.0.2.10", f"v=spf1 a:{BROKEN} ip4:192.0.2.10 -all", "temperror"),
    row("mx-servfail", "192.0.2.10", f"v=spf1 mx:{BROKEN} -all", "temperror"),
    row("mx-host-servfail", "192.0.2.10", "v=spf1 mx:mxbroken.example.nl -all", "temperror"),
    row("include-servfail", "192.0.2.10", f"v=spf1 include:{BROKEN} -all", "temperror"),
    row("redirect-servfail", "192.0.2.10", f"v=spf1 redirect={BROKEN}", "temperror"),
    row(
        "servfail-after-match-not-reached",
        "192.0.2.10",
        f"v=spf1 ip4:192.0.2.10 a:{BROKEN} -all",
        "pass",
    ),
]

# 4.6.4: more than two void lookups (NXDOMAIN or no answer) is permerror
VOID_ROWS = [
    row(
        "void-two-nxdomain-allowed",
        "192.0.2.10",
        "v=spf1 a:void1.example.nl mx:void2.example.nl ip4:192.0.2.10 -all",
        "pass",
    ),
    row(
        "void-two-nodata-allowed",
        "192.0.2.10",
        "v=spf1 a:nodata.example.nl mx:nodata.example.nl ip4:192.0.2.10 -all",
        "pass",
    ),
    row(
        "void-three-nxdomain",
        "192.0.2.10",
        "v=spf1 a:void1.example.nl a:void2.example.nl a:void3.example.nl ip4:192.0.2.10 -all",
        "permerror",
    ),
    row(
        "void-three-mixed",
        "192.0.2.10",
        "v=spf1 a:void1.example.nl mx:nodata.example.nl a:nodata.example.nl ip4:192.0.2.10 -all",
        "permerror",
    ),
    row(
        "void-three-exists-include",
        "192.0.2.10",
        "v=spf1 exists:void1.example.nl exists:void2.example.nl include:nodata.example.nl -all",
        "permerror",
    ),
]


@pytest.mark.parametrize(
    ("ip", "record", "expected"),
    [
        *IP_ROWS,
        *A_MX_ROWS,
        *INCLUDE_ROWS,
        *REDIRECT_ROWS,
        *EXISTS_ROWS,
        *QUALIFIER_ROWS,
        *RECORD_ROWS,
        *DNS_ERROR_ROWS,
        *VOID_ROWS,
    ],
)
def test_spf_check(ip: str, record: str | list[str], expected: str) -> None:
    assert _check(ip, record) == expected


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        pytest.param("example.nl", "pass", id="plain"),
        pytest.param("example.nl.", "pass", id="trailing-dot"),
        pytest.param("EXAMPLE.NL", "pass", id="uppercase"),
        pytest.param("nxdomain.example.nl", "none", id="nxdomain-none"),
        pytest.param("other..example.nl", "none", id="malformed-none"),  # 4.3
        pytest.param("nospf.example.nl", "none", id="txt-without-spf-none"),
        pytest.param(BROKEN, "temperror", id="txt-servfail-temperror"),
    ],
)
def test_spf_check_domain(domain: str, expected: str) -> None:
    fake = FakeDns({**ZONE, (DOMAIN, "TXT"): ["v=spf1 ip4:192.0.2.10 -all"]})
    assert _verdict(spf_check("192.0.2.10", domain, fake)) == expected


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        pytest.param("v=spf1 foo:bar -all", "permerror", id="permerror"),
        pytest.param(f"v=spf1 a:{BROKEN} -all", "temperror", id="temperror"),
    ],
)
def test_error_results_carry_a_reason(record: str, verdict: str) -> None:
    result = spf_check("192.0.2.10", DOMAIN, FakeDns({**ZONE, (DOMAIN, "TXT"): [record]}))
    assert result.startswith(f"{verdict} (") and result.endswith(")")
    assert len(result) > len(verdict) + 3


def test_dns_check_counts_spf_records_by_the_same_version_rule() -> None:
    spf = "v=spf1 ip4:192.0.2.10 -all"
    record = Record(f"{DOMAIN}.", "TXT", 3600, spf, "required", "SPF", RecordKind.SPF)
    fake = FakeDns({**ZONE, (DOMAIN, "TXT"): ["v=spf1 ip4:192.0.2.10 -all", "v=spf10 -all"]})
    rows = check_domain(DOMAIN, [record], f"mx.{DOMAIN}", ["192.0.2.10"], fake)
    assert [(r.status, r.found) for r in rows] == [("OK", "v=spf1 ip4:192.0.2.10 -all")]


# --- the 10-lookup limit (RFC 7208 4.6.4) -------------------------------------------------------

MATCH = "ip4:192.0.2.10 -all"
LIMIT_ZONE: dict[tuple[str, str], list[str]] = {
    ("h.example.nl", "A"): ["198.51.100.1"],
    ("h.example.nl", "MX"): ["10 h.example.nl."],
}


def _limit_zone(kind: str, lookups: int) -> dict[tuple[str, str], list[str]]:
    """A policy for example.nl that needs exactly `lookups` lookup-counting terms, none of them
    void, before the client (192.0.2.10) matches."""
    zone = dict(LIMIT_ZONE)
    if kind == "a-mx-terms":
        terms = [("a:h.example.nl", "mx:h.example.nl")[i % 2] for i in range(lookups)]
        zone[(DOMAIN, "TXT")] = [" ".join(["v=spf1", *terms, MATCH])]
    elif kind == "a-mx-include-chain":
        depth = lookups - 2
        zone[(DOMAIN, "TXT")] = ["v=spf1 a:h.example.nl mx:h.example.nl include:l1.example.nl -all"]
        for level in range(1, depth):
            zone[(f"l{level}.example.nl", "TXT")] = [f"v=spf1 include:l{level + 1}.example.nl"]
        zone[(f"l{depth}.example.nl", "TXT")] = [f"v=spf1 {MATCH}"]
    elif kind == "redirect-chain":
        zone[(DOMAIN, "TXT")] = ["v=spf1 redirect=r1.example.nl"]
        for level in range(1, lookups):
            zone[(f"r{level}.example.nl", "TXT")] = [f"v=spf1 redirect=r{level + 1}.example.nl"]
        zone[(f"r{lookups}.example.nl", "TXT")] = [f"v=spf1 {MATCH}"]
    else:
        raise AssertionError(kind)
    return zone


@pytest.mark.parametrize("kind", ["a-mx-terms", "a-mx-include-chain", "redirect-chain"])
@pytest.mark.parametrize(
    ("lookups", "expected"),
    [pytest.param(10, "pass", id="10-lookups"), pytest.param(11, "permerror", id="11-lookups")],
)
def test_lookup_limit(kind: str, lookups: int, expected: str) -> None:
    fake = FakeDns(_limit_zone(kind, lookups))
    assert _verdict(spf_check("192.0.2.10", DOMAIN, fake)) == expected


def test_mx_host_lookups_do_not_count_towards_the_limit() -> None:
    # 9 a: terms + one mx: whose two hosts need two more address lookups: still 10 terms.
    record = " ".join(["v=spf1", *["a:h.example.nl"] * 9, "mx:other.example.nl -all"])
    fake = FakeDns({**ZONE, **LIMIT_ZONE, (DOMAIN, "TXT"): [record]})
    assert _verdict(spf_check("203.0.113.40", DOMAIN, fake)) == "pass"


# --- _split_cidr ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("other.example.nl", ("other.example.nl", None, None), id="bare"),
        pytest.param("other.example.nl/24", ("other.example.nl", 24, None), id="ip4-cidr"),
        pytest.param("other.example.nl/24//64", ("other.example.nl", 24, 64), id="dual-cidr"),
        pytest.param("/24", (DOMAIN, 24, None), id="empty-target-is-domain"),
        pytest.param("other.example.nl//64", ("other.example.nl", None, 64), id="ip6-cidr-only"),
        pytest.param("//128", (DOMAIN, None, 128), id="ip6-cidr-only-own-domain"),
    ],
)
def test_split_cidr(spec: str, expected: tuple[str, int | None, int | None]) -> None:
    assert _split_cidr(spec, DOMAIN) == expected


# --- the fake answers like make_lookup over dnspython ------------------------------------------


class ZoneResolver:
    """A dns.resolver.Resolver stand-in that builds real dnspython Answers from a dict."""

    lifetime = 5.0

    def __init__(self, zone: Zone, broken: Iterable[str] = (BROKEN,)) -> None:
        self.fake = FakeDns(zone, broken)

    def resolve(self, name: str, rdtype: str, raise_on_no_answer: bool = True) -> object:
        key = (name.lower().rstrip("."), rdtype.upper())
        if key[0] in self.fake.broken:
            raise dns.exception.Timeout()
        if key[0] not in self.fake.names:
            raise dns.resolver.NXDOMAIN()
        qname = dns.name.from_text(name)
        qtype = dns.rdatatype.from_text(rdtype)
        response = dns.message.make_response(dns.message.make_query(qname, qtype))
        values = self.fake.zone.get(key, [])
        if values:
            rrset = response.find_rrset(
                response.answer, qname, dns.rdataclass.IN, qtype, create=True
            )
            for value in values:
                text = f'"{value}"' if rdtype == "TXT" else value
                rrset.add(dns.rdata.from_text(dns.rdataclass.IN, qtype, text), 300)
        elif raise_on_no_answer:
            raise dns.resolver.NoAnswer()
        return dns.resolver.Answer(qname, qtype, dns.rdataclass.IN, response)


@pytest.mark.parametrize(
    ("name", "rdtype"),
    [
        ("example.nl.", "A"),
        ("example.nl.", "AAAA"),
        ("other.example.nl.", "MX"),
        ("inc-pass.example.nl.", "TXT"),
        ("nospf.example.nl.", "TXT"),
        ("nodata.example.nl.", "A"),  # NODATA
        ("nxdomain.example.nl.", "TXT"),  # NXDOMAIN
        ("Other.Example.NL.", "A"),
    ],
)
def test_fake_matches_make_lookup(name: str, rdtype: str) -> None:
    real: Lookup = make_lookup(ZoneResolver(ZONE))
    assert FakeDns(ZONE)(name, rdtype) == real(name, rdtype)


def test_fake_fails_like_make_lookup() -> None:
    real: Lookup = make_lookup(ZoneResolver(ZONE))
    with pytest.raises(LookupFailed):
        real(f"{BROKEN}.", "TXT")
    with pytest.raises(LookupFailed):
        FakeDns(ZONE)(f"{BROKEN}.", "TXT")
