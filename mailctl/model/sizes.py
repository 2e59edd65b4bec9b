"""Mailbox sizes as administrators type them (`500M`, `2G`) and Dovecot reads
them: binary units, 1K = 1024 bytes, as in Dovecot's quota rules."""

from __future__ import annotations

import re

from mailctl.errors import InvalidInput

UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
MAX_BYTES = 2**63 - 1  # a BIGINT
_SIZE = re.compile(r"([0-9]{1,19})([KMGT]?)(I?B)?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes for `500M`, `2G`, `1024K`, `10240` (bytes), `2GiB`; InvalidInput otherwise."""
    match = _SIZE.fullmatch(text.strip(" "))
    if match is None:
        raise InvalidInput(
            f"invalid size {text!r}: a whole number with K, M, G or T (1024-based), e.g. 500M"
        )
    number, unit, _suffix = match.groups()
    value = int(number) * UNITS[unit.upper()]
    if value > MAX_BYTES:
        raise InvalidInput(f"size {text!r} is too large")
    return value


_LARGEST_FIRST = tuple((UNITS[unit], unit) for unit in "TGMK")


def format_size(value: int | None) -> str:
    """`500M`, `2G`, `1.5G`; exact bytes below 1K; empty for None. (A listing calls
    this per mailbox: the scales are paired with their units once, here.)"""
    if value is None:
        return ""
    for scale, unit in _LARGEST_FIRST:
        if value >= scale:
            return f"{value / scale:.1f}{unit}" if value % scale else f"{value / scale:.0f}{unit}"
    return f"{value}B"


def exact_size(value: int) -> str:
    """The largest unit that holds `value` whole (`1536M` where format_size shows
    `1.5G`), so that parse_size reads back the very same bytes; plain bytes else."""
    for unit in ("T", "G", "M", "K"):
        scale = UNITS[unit]
        if value >= scale and value % scale == 0:
            return f"{value // scale}{unit}"
    return str(value)
