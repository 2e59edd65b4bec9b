"""The export/import file: JSON, JSON Lines or CSV, read into plain records and
written back from them. Pure: text in, records out (and the reverse).

Reading checks the shape of every row (required fields, types, unknown
fields) and reports each problem with where it is: an index path such as
`users[17]` in a JSON document, a line number in JSON Lines and CSV. Whether
an address is valid or a domain hosted is for the import service to decide.

JSON, one row per line so a file diffs and greps well:

    {
      "version": 1,
      "domains": [
        {"name": "example.nl", "max_users": 50, "dkim": [{"selector": "mail", ...}]}
      ],
      "users": [
        {"email": "joe@example.nl", "password": "{SHA512-CRYPT}$6$...", "quota": "2G",
         "send_as": ["@example.nl"]}
      ],
      "aliases": [
        {"source": "info@example.nl", "destinations": ["joe@example.nl"]}
      ]
    }

Account policy (records.DOMAIN_POLICY_FIELDS, USER_POLICY_FIELDS) is written
only where it differs from the default, so a file without it reads as before;
a field a row leaves out is left as it is by an import.

JSON Lines: the same objects one per line, each with a "kind" (domain, user,
alias) first. CSV: one table with a `kind` column (domain, dkim, user, alias)
and the columns in CSV_COLUMNS, then the policy columns in use; a dkim row
belongs to the domain row of the same `domain`, destinations and send_as are
comma-separated in one cell.

The formats live in `jsonfile` and `csvfile`, the records in `records`; this
module picks the format and is what callers import.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from mailctl.errors import InvalidInput
from mailctl.transfer import FORMATS
from mailctl.transfer.csvfile import (
    CSV_COLUMNS,
    CSV_IMPORT_COLUMNS,
    CSV_POLICY_COLUMNS,
    parse_csv,
    render_csv,
)
from mailctl.transfer.jsonfile import parse_json, parse_jsonl, render_json, render_jsonl
from mailctl.transfer.records import (
    DKIM_FIELDS,
    DOMAIN_POLICY_FIELDS,
    MAX_ERRORS_SHOWN,
    USER_POLICY_FIELDS,
    VERSION,
    AliasRecord,
    DkimRecord,
    Document,
    DomainRecord,
    ImportRejected,
    RowError,
    UserRecord,
)

__all__ = [
    "CSV_COLUMNS",
    "CSV_IMPORT_COLUMNS",
    "CSV_POLICY_COLUMNS",
    "DKIM_FIELDS",
    "DOMAIN_POLICY_FIELDS",
    "FORMATS",
    "MAX_ERRORS_SHOWN",
    "USER_POLICY_FIELDS",
    "VERSION",
    "AliasRecord",
    "DkimRecord",
    "Document",
    "DomainRecord",
    "ImportRejected",
    "RowError",
    "UserRecord",
    "detect_format",
    "format_from_name",
    "parse",
    "render",
]

_READERS: dict[str, Callable[[str], tuple[Document, list[RowError]]]] = {
    "json": parse_json,
    "jsonl": parse_jsonl,
    "csv": parse_csv,
}
_WRITERS: dict[str, Callable[[Document], str]] = {
    "json": render_json,
    "jsonl": render_jsonl,
    "csv": render_csv,
}
_SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def format_from_name(filename: str) -> str | None:
    for suffix, fmt in _SUFFIXES.items():
        if filename.lower().endswith(suffix):
            return fmt
    return None


def detect_format(filename: str | None, text: str) -> str:
    """json, jsonl or csv: from the file name's suffix, else from the content."""
    if filename and (fmt := format_from_name(filename)):
        return fmt
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return "csv"
    first_line = stripped.split("\n", 1)[0].strip()
    try:
        json.loads(first_line)
    except json.JSONDecodeError:
        return "json"
    # A first line that is a complete object with a kind: JSON Lines.
    return "jsonl" if '"kind"' in first_line else "json"


def _known(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")


def parse(text: str, fmt: str) -> tuple[Document, list[RowError]]:
    """Read a whole file; every row that is malformed becomes a RowError."""
    _known(fmt)
    text = text.removeprefix("\ufeff")  # a BOM, as spreadsheet programs write
    document, errors = _READERS[fmt](text)
    return document, sorted(errors, key=lambda e: e.order)


def render(doc: Document, fmt: str) -> str:
    _known(fmt)
    return _WRITERS[fmt](doc)
