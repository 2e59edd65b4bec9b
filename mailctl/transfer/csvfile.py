"""CSV: one table with a `kind` column (domain, dkim, user, alias) and the columns
in CSV_COLUMNS, then those of CSV_POLICY_COLUMNS that some row has a value for
(a file without policy reads as before). A dkim row belongs to the domain row of
the same `domain`, wherever it stands; destinations and send_as are
comma-separated in one cell, flags `true` or `false`. A row's location is its
line number (a quoted cell may span lines)."""

from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

from mailctl.model.rules import join_destinations, split_destinations
from mailctl.transfer.records import (
    DKIM_FIELDS,
    DOMAIN_POLICY_FIELDS,
    USER_POLICY_FIELDS,
    DkimRecord,
    Document,
    DomainRecord,
    RowError,
    UserRecord,
)
from mailctl.transfer.rows import (
    BadRow,
    Collector,
    alias_from,
    dkim_fields,
    dkim_from,
    domain_from,
    policy_fields,
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
# Written when some row has a value for them: suspended, suspend_reason and receive
# serve domain and user rows alike.
CSV_POLICY_COLUMNS = tuple(dict.fromkeys((*USER_POLICY_FIELDS, *DOMAIN_POLICY_FIELDS)))
# Accepted on import only: a password to hash (never exported, mailctl has none).
CSV_IMPORT_COLUMNS = (*CSV_COLUMNS, *CSV_POLICY_COLUMNS, "plaintext")

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
            RowError(
                "line 1",
                f"{why}; the header names columns from:"
                f" {', '.join((*CSV_COLUMNS, *CSV_POLICY_COLUMNS))}",
            )
        )
        return out.doc, out.errors
    dkim_rows: _DkimRows = []
    refused: set[str] = set()  # domain rows with an error: their dkim rows say nothing more
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

        errors, name = len(out.errors), row.get("domain", "").strip().lower()
        out.add(where, order, one)
        if kind == "domain" and len(out.errors) > errors:
            refused.add(name)
    _attach_dkim(out, dkim_rows, refused)
    return out.doc, out.errors


def _row(doc: Document, row: dict[str, str], kind: str, where: str) -> None:
    if kind == "domain":
        _only(row, {"domain", *DOMAIN_POLICY_FIELDS}, kind)
        name = row.pop("domain", None)
        doc.domains.append(domain_from({**row, "name": name}, where))
    elif kind == "user":
        _only(row, {"email", "password", "plaintext", *USER_POLICY_FIELDS}, kind)
        fields: dict[str, Any] = dict(row)
        if "send_as" in row:
            fields["send_as"] = split_destinations(row["send_as"])
        doc.users.append(user_from(fields, where))
    elif kind == "alias":
        _only(row, {"source", "destinations"}, kind)
        if "destinations" in row:
            dests: Any = split_destinations(row["destinations"])
            row = {**row, "destinations": dests}
        doc.aliases.append(alias_from(row, where))
    else:
        raise BadRow(f"kind {kind!r}; expected domain, dkim, user or alias")


def _attach_dkim(out: Collector, rows: _DkimRows, refused: set[str]) -> None:
    """CSV dkim rows join the domain row of the same name, wherever they stand."""
    by_name = {d.name.strip().lower(): i for i, d in enumerate(out.doc.domains)}
    extra: dict[int, list[DkimRecord]] = {}
    for where, order, row in rows:

        def one(row: dict[str, str] = row, where: str = where) -> None:
            name = row.pop("domain", "").strip().lower()
            if name in refused:
                return
            _only(row, set(DKIM_FIELDS), "dkim")
            if name not in by_name:
                raise BadRow(f"dkim row for {name or '(no domain)'} without a domain row for it")
            extra.setdefault(by_name[name], []).append(dkim_from(row, where))

        out.add(where, order, one)
    for index, keys in extra.items():
        domain = out.doc.domains[index]
        out.doc.domains[index] = dataclasses.replace(domain, dkim=domain.dkim + tuple(keys))


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


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return join_destinations(value)
    return value


def render_csv(doc: Document) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    records: list[DomainRecord | UserRecord] = [*doc.domains, *doc.users]
    policies = [policy_fields(record) for record in records]
    used = {key for fields in policies for key in fields}
    columns = (*CSV_COLUMNS, *(c for c in CSV_POLICY_COLUMNS if c in used))
    writer.writerow(columns)

    def row(**cells: Any) -> None:
        writer.writerow([_cell(cells.get(c)) for c in columns])

    domain_policies, user_policies = policies[: len(doc.domains)], policies[len(doc.domains) :]
    for d, policy in zip(doc.domains, domain_policies, strict=True):
        row(kind="domain", domain=d.name, **policy)
        for k in d.dkim:
            row(kind="dkim", domain=d.name, **dkim_fields(k))
    for u, policy in zip(doc.users, user_policies, strict=True):
        row(kind="user", email=u.email, password=u.password, **policy)
    for a in doc.aliases:
        row(kind="alias", source=a.source, destinations=join_destinations(a.destinations))
    return buffer.getvalue()
