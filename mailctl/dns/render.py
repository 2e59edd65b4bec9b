"""The renderings of `Record`s: a table for registrars' web forms, zone-file lines,
a complete zone, and the objects `dns show --format json` prints.

A TXT value longer than 255 bytes is ONE record of several <character-string>s
(RFC 1035 §3.3.14), cut by `txt_strings()`: the zone file quotes each of them,
the JSON lists them under `strings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailctl.dns.names import absolute, bare, relative_name, within
from mailctl.dns.records import Record

TXT_CHUNK = 255  # RFC 1035 §3.3.14: a <character-string> holds at most 255 bytes
# Zone placeholders: RFC 5737 documentation address for the placeholder NS.
NS_PLACEHOLDER_ADDRESS = "192.0.2.53"
COLUMNS = ("name", "type", "ttl", "value", "status", "why")


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


def render_table(records: Sequence[Record], zone: str) -> list[dict[str, Any]]:
    """Rows for a registrar's web form: names relative to `zone`, values unquoted."""
    return [_columns(r, relative_name(r.name, zone)) for r in records]


def _columns(record: Record, name: str) -> dict[str, Any]:
    """The COLUMNS of one record, with `name` as given."""
    return {
        "name": name,
        "type": record.type,
        "ttl": record.ttl,
        "value": record.value,
        "status": record.status,
        "why": record.why,
    }


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
        item: dict[str, Any] = {} if domain is None else {"domain": bare(domain)}
        item |= _columns(r, r.name)
        if r.type == "TXT":
            item["strings"] = txt_strings(r.value)
        objects.append(item)
    return objects
