"""RFC 7208's SPF record syntax, shared by the [dns] spf template check
(core.recordchecks) and the evaluator behind `dns check` (dns.spf)."""

from __future__ import annotations

import re

FLAGS = re.IGNORECASE | re.ASCII  # ASCII: with IGNORECASE alone, [a-z] also matches 'ſ' and 'K'
# 7.1 macro-expand in a domain-spec (c, r and t are for explanation text only).
MACRO = r"%(?:\{[slodiphv][0-9]*r?[-.+,/_=]*\}|[%_-])"
MACRO_STRING = rf"(?:[!-$&-~]|{MACRO})*"  # visible characters, each % starting a macro
TOPLABEL = r"(?![0-9]+\.?\Z)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"  # not all digits


def is_spf(txt: str) -> bool:
    """4.5: an SPF record starts with exactly `v=spf1` (any case), then a space or the
    end; `v=spf10` is not one."""
    return re.match(r"v=spf1(?: |\Z)", txt, FLAGS) is not None


def is_domain(name: str) -> bool:
    """4.3: labels of 1-63 visible characters, at least two, 253 characters in all, the last
    not all digits; no backslash either (dnspython would read it as an escape)."""
    labels = name.removesuffix(".").split(".")
    return (
        len(labels) > 1
        and len(name.removesuffix(".")) <= 253
        and all(re.fullmatch(r"[!-\[\]-~]{1,63}", label) for label in labels)
        and re.fullmatch(TOPLABEL, labels[-1], FLAGS) is not None
    )


def is_domain_spec(spec: str) -> bool:
    """7.1 domain-spec: a domain, or a macro-string ending in a macro or a top label."""
    if "%" in spec:
        return re.fullmatch(rf"{MACRO_STRING}(?:{MACRO}|\.{TOPLABEL}\.?)", spec, FLAGS) is not None
    return is_domain(spec)


def is_macro_string(value: str) -> bool:
    return re.fullmatch(MACRO_STRING, value, FLAGS) is not None
