"""CSV: one table with a `kind` column (domain, dkim, user, alias) and the columns
in CSV_COLUMNS. A dkim row belongs to the domain row of the same `domain`,
wherever it stands; destinations are comma-separated in one cell. A row's
location is its line number (a quoted cell may span lines)."""

from __future__ import annotations

import csv
import io
from typing import Any

from mailctl.model.rules import join_destinations, split_destinations
from mailctl.transfer.records import DKIM_FIELDS, DkimRecord, Document, DomainRecord, RowError
from mailctl.transfer.rows import (
    BadRow,
    Collector,
    alias_from,
    dkim_fields,
    dkim_from,
    domain_from,
    user_from,
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

_DkimRows = list[tuple[str, tuple[int, int], dict[str, str]]]


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


def parse_csv(text: str) -> tuple[Document, list[RowError]]:
    out = Collector()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        out.errors.append(RowError("line 1", f"invalid CSV: {exc}"))
        return out.doc, out.errors
    if header is None:
        return out.doc, out.errors
    columns = [c.strip().lower() for c in header]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:  # which of two 'password' columns would count? Neither: refuse
        out.errors.append(RowError("line 1", f"column(s) named twice: {', '.join(repeated)}"))
        return out.doc, out.errors
    unknown = [c for c in columns if c not in CSV_IMPORT_COLUMNS]
    if "kind" not in columns or unknown:
        why = f"unknown column(s) {', '.join(unknown)}" if unknown else "no 'kind' column"
        out.errors.append(
            RowError("line 1", f"{why}; the header names columns from: {', '.join(CSV_COLUMNS)}")
        )
        return out.doc, out.errors
    dkim_rows: _DkimRows = []
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
            _row(out.doc, row, kind, where)

        out.add(where, order, one)
    _attach_dkim(out, dkim_rows)
    return out.doc, out.errors


def _row(doc: Document, row: dict[str, str], kind: str, where: str) -> None:
    if kind == "domain":
        _only(row, {"domain"}, kind)
        doc.domains.append(domain_from({"name": row.get("domain")}, where))
    elif kind == "user":
        _only(row, {"email", "password", "plaintext"}, kind)
        doc.users.append(user_from(row, where))
    elif kind == "alias":
        _only(row, {"source", "destinations"}, kind)
        if "destinations" in row:
            dests: Any = split_destinations(row["destinations"])
            row = {**row, "destinations": dests}
        doc.aliases.append(alias_from(row, where))
    else:
        raise BadRow(f"kind {kind!r}; expected domain, dkim, user or alias")


def _attach_dkim(out: Collector, rows: _DkimRows) -> None:
    """CSV dkim rows join the domain row of the same name, wherever they stand."""
    by_name = {d.name.strip().lower(): i for i, d in enumerate(out.doc.domains)}
    extra: dict[int, list[DkimRecord]] = {}
    for where, order, row in rows:

        def one(row: dict[str, str] = row, where: str = where) -> None:
            name = row.pop("domain", "").strip().lower()
            _only(row, set(DKIM_FIELDS), "dkim")
            if name not in by_name:
                raise BadRow(f"dkim row for {name or '(no domain)'} without a domain row for it")
            extra.setdefault(by_name[name], []).append(dkim_from(row, where))

        out.add(where, order, one)
    for index, keys in extra.items():
        domain = out.doc.domains[index]
        out.doc.domains[index] = DomainRecord(domain.name, domain.dkim + tuple(keys), domain.where)


def _only(row: dict[str, str], allowed: set[str], kind: str) -> None:
    extra = sorted(set(row) - allowed)
    if extra:
        raise BadRow(
            f"{', '.join(extra)}: not a column of {kind} rows"
            f" (they use {', '.join(sorted(allowed))})"
        )


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------


def render_csv(doc: Document) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def row(**cells: Any) -> None:
        writer.writerow(["" if cells.get(c) is None else cells[c] for c in CSV_COLUMNS])

    for d in doc.domains:
        row(kind="domain", domain=d.name)
        for k in d.dkim:
            row(kind="dkim", domain=d.name, **dkim_fields(k))
    for u in doc.users:
        row(kind="user", email=u.email, password=u.password)
    for a in doc.aliases:
        row(kind="alias", source=a.source, destinations=join_destinations(a.destinations))
    return buffer.getvalue()
