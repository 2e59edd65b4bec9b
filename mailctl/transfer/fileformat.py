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
        {"name": "example.nl", "dkim": [{"selector": "mail", "algorithm": "rsa", ...}]}
      ],
      "users": [
        {"email": "joe@example.nl", "password": "{SHA512-CRYPT}$6$..."}
      ],
      "aliases": [
        {"source": "info@example.nl", "destinations": ["joe@example.nl"]}
      ]
    }

JSON Lines: the same objects one per line, each with a "kind" (domain, user,
alias) first. CSV: one table with a `kind` column (domain, dkim, user, alias)
and the columns in CSV_COLUMNS; a dkim row belongs to the domain row of the
same `domain`, destinations are comma-separated in one cell.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mailctl.errors import InvalidInput

VERSION = 1
FORMATS = ("json", "jsonl", "csv")
DKIM_FIELDS = (
    "selector",
    "algorithm",
    "bits",
    "state",
    "created_at",
    "activated_at",
    "retired_at",
    "private_key",
)
CSV_COLUMNS = (
    "kind",
    "domain",
    "email",
    "password",
    "source",
    "destinations",
    *DKIM_FIELDS,
)
# Accepted on import only: a password to hash (never exported, mailctl has none).
CSV_IMPORT_COLUMNS = (*CSV_COLUMNS, "plaintext")
MAX_ERRORS_SHOWN = 20

_SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


# --------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DkimRecord:
    selector: str
    algorithm: str
    bits: int
    state: str
    created_at: str  # ISO 8601, as stored (UTC, no zone)
    activated_at: str | None = None
    retired_at: str | None = None
    private_key: str | None = field(default=None, repr=False)  # PEM, with --with-keys only
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class DomainRecord:
    name: str
    dkim: tuple[DkimRecord, ...] = ()
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class UserRecord:
    email: str
    password: str | None = None  # a Dovecot hash, stored as is
    plaintext: str | None = field(default=None, repr=False)  # import only: hashed first
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class AliasRecord:
    source: str
    destinations: tuple[str, ...]
    where: str = field(default="", compare=False)


@dataclass
class Document:
    domains: list[DomainRecord] = field(default_factory=list)
    users: list[UserRecord] = field(default_factory=list)
    aliases: list[AliasRecord] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.domains) + len(self.users) + len(self.aliases)

    @property
    def has_private_keys(self) -> bool:
        return any(k.private_key for d in self.domains for k in d.dkim)


@dataclass(frozen=True)
class RowError:
    where: str  # "users[17]", "domains[2].dkim[0]" or "line 18"
    message: str
    order: tuple[int, int] = (0, 0)  # for listing errors in file order

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ImportRejected(InvalidInput):
    """Rows of an import file are wrong; nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = sorted(errors, key=lambda e: e.order)
        shown = [f"  {e}" for e in self.errors[:MAX_ERRORS_SHOWN]]
        if len(self.errors) > MAX_ERRORS_SHOWN:
            shown.append(f"  ... and {len(self.errors) - MAX_ERRORS_SHOWN} more")
        super().__init__(
            f"{len(self.errors)} error(s) in the import file; nothing was imported:\n"
            + "\n".join(shown)
        )


class _Bad(Exception):
    """One row's problem, turned into a RowError where the row's location is known;
    `at` narrows the location inside the row (".dkim[1]")."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.at = at


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


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


def parse(text: str, fmt: str) -> tuple[Document, list[RowError]]:
    """Read a whole file; every row that is malformed becomes a RowError."""
    text = text.removeprefix("\ufeff")  # a BOM, as spreadsheet programs write
    readers = {"json": _parse_json, "jsonl": _parse_jsonl, "csv": _parse_csv}
    if fmt not in readers:
        raise InvalidInput(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    document, errors = readers[fmt](text)
    return document, sorted(errors, key=lambda e: e.order)


class _Collector:
    def __init__(self) -> None:
        self.doc = Document()
        self.errors: list[RowError] = []

    def add(self, where: str, order: tuple[int, int], build: Callable[[], None]) -> None:
        try:
            build()
        except _Bad as exc:
            self.errors.append(RowError(where + exc.at, str(exc), order))


def _parse_json(text: str) -> tuple[Document, list[RowError]]:
    out = _Collector()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        out.errors.append(
            RowError(f"line {exc.lineno}", f"invalid JSON: {exc.msg} (column {exc.colno})")
        )
        return out.doc, out.errors
    if not isinstance(data, dict):
        out.errors.append(RowError("document", "must be an object with version, domains, ..."))
        return out.doc, out.errors
    unknown = sorted(set(data) - {"version", "domains", "users", "aliases"})
    if unknown:
        out.errors.append(RowError("document", f"unknown key(s): {', '.join(unknown)}"))
    if data.get("version") != VERSION:
        out.errors.append(
            RowError("version", f"is {data.get('version')!r}; this mailctl reads version 1")
        )
    builders: dict[str, Callable[[dict[str, Any], str], Any]] = {
        "domains": _domain_from,
        "users": _user_from,
        "aliases": _alias_from,
    }
    for section_no, (section, build) in enumerate(builders.items()):
        rows = data.get(section, [])
        if not isinstance(rows, list):
            out.errors.append(RowError(section, "must be a list", (section_no, -1)))
            continue
        target: list[Any] = getattr(out.doc, section)
        for i, row in enumerate(rows):
            where = f"{section}[{i}]"

            def one(
                row: Any = row, where: str = where, build: Any = build, target: list[Any] = target
            ) -> None:
                target.append(build(_object(row), where))

            out.add(where, (section_no, i), one)
    return out.doc, out.errors


def _parse_jsonl(text: str) -> tuple[Document, list[RowError]]:
    out = _Collector()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"

        def one(line: str = line, where: str = where) -> None:
            try:
                row = _object(json.loads(line))
            except json.JSONDecodeError as exc:
                raise _Bad(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
            kind = row.pop("kind", None)
            if kind == "domain":
                out.doc.domains.append(_domain_from(row, where))
            elif kind == "user":
                out.doc.users.append(_user_from(row, where))
            elif kind == "alias":
                out.doc.aliases.append(_alias_from(row, where))
            elif kind == "version":
                if row.get("version") != VERSION:
                    raise _Bad(f"version {row.get('version')!r}; this mailctl reads version 1")
            else:
                raise _Bad(f"kind {kind!r}; expected domain, user or alias")

        out.add(where, (number, 0), one)
    return out.doc, out.errors


def _parse_csv(text: str) -> tuple[Document, list[RowError]]:
    out = _Collector()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        out.errors.append(RowError("line 1", f"invalid CSV: {exc}"))
        return out.doc, out.errors
    if header is None:
        return out.doc, out.errors
    columns = [c.strip().lower() for c in header]
    unknown = [c for c in columns if c not in CSV_IMPORT_COLUMNS]
    if "kind" not in columns or unknown:
        why = f"unknown column(s) {', '.join(unknown)}" if unknown else "no 'kind' column"
        out.errors.append(
            RowError("line 1", f"{why}; the header names columns from: {', '.join(CSV_COLUMNS)}")
        )
        return out.doc, out.errors
    dkim_rows: list[tuple[str, tuple[int, int], dict[str, str]]] = []
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.errors.append(RowError(f"line {start}", f"invalid CSV: {exc}", (start, 0)))
            break
        where, order = f"line {start}", (start, 0)
        start = reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            out.errors.append(
                RowError(where, f"{len(cells)} cells; the header has {len(columns)}", order)
            )
            continue
        row = {k: v for k, v in zip(columns, cells, strict=True) if v != ""}
        kind = row.pop("kind", "").strip().lower()
        if kind == "dkim":
            dkim_rows.append((where, order, row))
            continue

        def one(row: dict[str, str] = row, kind: str = kind, where: str = where) -> None:
            _csv_row(out.doc, row, kind, where)

        out.add(where, order, one)
    _attach_dkim(out, dkim_rows)
    return out.doc, out.errors


def _csv_row(doc: Document, row: dict[str, str], kind: str, where: str) -> None:
    if kind == "domain":
        _only(row, {"domain"}, kind)
        doc.domains.append(_domain_from({"name": row.get("domain")}, where))
    elif kind == "user":
        _only(row, {"email", "password", "plaintext"}, kind)
        doc.users.append(_user_from(row, where))
    elif kind == "alias":
        _only(row, {"source", "destinations"}, kind)
        if "destinations" in row:
            dests: Any = [d.strip() for d in row["destinations"].split(",") if d.strip()]
            row = {**row, "destinations": dests}
        doc.aliases.append(_alias_from(row, where))
    else:
        raise _Bad(f"kind {kind!r}; expected domain, dkim, user or alias")


def _attach_dkim(out: _Collector, rows: list[tuple[str, tuple[int, int], dict[str, str]]]) -> None:
    """CSV dkim rows join the domain row of the same name, wherever they stand."""
    by_name = {d.name.strip().lower(): i for i, d in enumerate(out.doc.domains)}
    extra: dict[int, list[DkimRecord]] = {}
    for where, order, row in rows:

        def one(row: dict[str, str] = row, where: str = where) -> None:
            name = row.pop("domain", "").strip().lower()
            _only(row, set(DKIM_FIELDS), "dkim")
            if name not in by_name:
                raise _Bad(f"dkim row for {name or '(no domain)'} without a domain row for it")
            extra.setdefault(by_name[name], []).append(_dkim_from(row, where))

        out.add(where, order, one)
    for index, keys in extra.items():
        domain = out.doc.domains[index]
        out.doc.domains[index] = DomainRecord(domain.name, domain.dkim + tuple(keys), domain.where)


def _only(row: dict[str, str], allowed: set[str], kind: str) -> None:
    extra = sorted(set(row) - allowed)
    if extra:
        raise _Bad(
            f"{', '.join(extra)}: not a column of {kind} rows"
            f" (they use {', '.join(sorted(allowed))})"
        )


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad("must be an object")
    return dict(value)


def _text(row: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None:
        if required:
            raise _Bad(f"'{key}' is missing")
        return None
    if not isinstance(value, str):
        raise _Bad(f"'{key}' must be a string")
    return value


def _keys(row: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(row) - set(allowed))
    if unknown:
        raise _Bad(f"unknown field(s) {', '.join(unknown)}")


def _domain_from(row: dict[str, Any], where: str) -> DomainRecord:
    _keys(row, ("name", "dkim"))
    name = _text(row, "name")
    assert name is not None  # noqa: S101 - required=True
    keys = row.get("dkim", [])
    if not isinstance(keys, list):
        raise _Bad("'dkim' must be a list")
    dkim = []
    for i, key in enumerate(keys):
        try:
            dkim.append(_dkim_from(_object(key), f"{where}.dkim[{i}]"))
        except _Bad as exc:
            raise _Bad(str(exc), f".dkim[{i}]") from None
    return DomainRecord(name, tuple(dkim), where)


def _dkim_from(row: dict[str, Any], where: str) -> DkimRecord:
    _keys(row, DKIM_FIELDS)
    bits = row.get("bits")
    if isinstance(bits, str) and re.fullmatch(r"\d{1,6}", bits.strip()):
        bits = int(bits)  # a CSV cell
    if not isinstance(bits, int) or isinstance(bits, bool):
        raise _Bad("'bits' must be an integer")
    return DkimRecord(
        selector=_required(row, "selector"),
        algorithm=_required(row, "algorithm"),
        bits=bits,
        state=_required(row, "state"),
        created_at=_required(row, "created_at"),
        activated_at=_text(row, "activated_at", required=False),
        retired_at=_text(row, "retired_at", required=False),
        private_key=_text(row, "private_key", required=False),
        where=where,
    )


def _required(row: dict[str, Any], key: str) -> str:
    value = _text(row, key)
    assert value is not None  # noqa: S101 - required=True
    return value


def _user_from(row: dict[str, Any], where: str) -> UserRecord:
    _keys(row, ("email", "password", "plaintext"))
    email = _required(row, "email")
    password = _text(row, "password", required=False)
    plaintext = _text(row, "plaintext", required=False)
    if (password is None) == (plaintext is None):
        raise _Bad("give either 'password' (a Dovecot hash) or 'plaintext', not both or neither")
    return UserRecord(email, password, plaintext, where)


def _alias_from(row: dict[str, Any], where: str) -> AliasRecord:
    _keys(row, ("source", "destinations"))
    source = _required(row, "source")
    dests = row.get("destinations")
    if dests is None:
        raise _Bad("'destinations' is missing")
    if not isinstance(dests, list) or not all(isinstance(d, str) for d in dests):
        raise _Bad("'destinations' must be a list of addresses")
    if not dests:
        raise _Bad("'destinations' is empty")
    return AliasRecord(source, tuple(dests), where)


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------


def render(doc: Document, fmt: str) -> str:
    if fmt == "json":
        return render_json(doc)
    if fmt == "jsonl":
        return render_jsonl(doc)
    if fmt == "csv":
        return render_csv(doc)
    raise InvalidInput(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")


def _dkim_obj(key: DkimRecord) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "selector": key.selector,
        "algorithm": key.algorithm,
        "bits": key.bits,
        "state": key.state,
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retired_at": key.retired_at,
    }
    if key.private_key is not None:
        obj["private_key"] = key.private_key
    return obj


def _objects(doc: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    for d in doc.domains:
        yield "domains", {"name": d.name, "dkim": [_dkim_obj(k) for k in d.dkim]}
    for u in doc.users:
        yield "users", {"email": u.email, "password": u.password}
    for a in doc.aliases:
        yield "aliases", {"source": a.source, "destinations": list(a.destinations)}


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


def render_json(doc: Document) -> str:
    grouped: dict[str, list[str]] = {"domains": [], "users": [], "aliases": []}
    for section, obj in _objects(doc):
        grouped[section].append(_dump(obj))
    parts = [f'{{\n  "version": {VERSION}']
    for section, lines in grouped.items():
        if lines:
            body = ",\n".join(f"    {line}" for line in lines)
            parts.append(f'  "{section}": [\n{body}\n  ]')
        else:
            parts.append(f'  "{section}": []')
    return ",\n".join(parts) + "\n}\n"


def render_jsonl(doc: Document) -> str:
    kinds = {"domains": "domain", "users": "user", "aliases": "alias"}
    return "".join(_dump({"kind": kinds[section], **obj}) + "\n" for section, obj in _objects(doc))


def render_csv(doc: Document) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def row(**cells: Any) -> None:
        writer.writerow(["" if cells.get(c) is None else cells[c] for c in CSV_COLUMNS])

    for d in doc.domains:
        row(kind="domain", domain=d.name)
        for k in d.dkim:
            row(kind="dkim", domain=d.name, **_dkim_obj(k))
    for u in doc.users:
        row(kind="user", email=u.email, password=u.password)
    for a in doc.aliases:
        row(kind="alias", source=a.source, destinations=",".join(a.destinations))
    return buffer.getvalue()
