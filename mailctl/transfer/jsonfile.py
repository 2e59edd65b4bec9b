"""JSON and JSON Lines: reading into records, writing from them.

JSON is one document with a section per kind, one row per line so a file
diffs and greps well; JSON Lines is the same objects one per line, each with
its "kind" (domain, user, alias) first. Policy fields appear where they differ
from the default, between a domain's name and its keys, after a user's
password. A row's location is an index path such as `users[17]` in JSON, a
line number in JSON Lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from mailctl.transfer.records import VERSION, Document, RowError
from mailctl.transfer.rows import (
    BadRow,
    Collector,
    alias_from,
    dkim_fields,
    domain_from,
    object_of,
    policy_fields,
    user_from,
)

# section -> (the kind of its rows in JSON Lines, the reader of one row)
SECTIONS: dict[str, tuple[str, Callable[[dict[str, Any], str], Any]]] = {
    "domains": ("domain", domain_from),
    "users": ("user", user_from),
    "aliases": ("alias", alias_from),
}
_KINDS = {kind: section for section, (kind, _build) in SECTIONS.items()}


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object with a key twice is refused: which value would count is a guess."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _loads(text: str) -> Any:
    """json.loads, with duplicate keys and absurd nesting as ValueError (one line)."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def parse_json(text: str) -> tuple[Document, list[RowError]]:
    out = Collector()
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        out.errors.append(
            RowError(f"line {exc.lineno}", f"invalid JSON: {exc.msg} (column {exc.colno})")
        )
        return out.doc, out.errors
    except ValueError as exc:
        out.errors.append(RowError("document", f"invalid JSON: {exc}"))
        return out.doc, out.errors
    if not isinstance(data, dict):
        out.errors.append(RowError("document", "must be an object with version, domains, ..."))
        return out.doc, out.errors
    unknown = sorted(set(data) - {"version", *SECTIONS})
    if unknown:
        out.errors.append(RowError("document", f"unknown key(s): {', '.join(unknown)}"))
    if data.get("version") != VERSION:
        out.errors.append(
            RowError("version", f"is {data.get('version')!r}; this mailctl reads version 1")
        )
    for section_no, (section, (_kind, build)) in enumerate(SECTIONS.items()):
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
                target.append(build(object_of(row), where))

            out.add(where, (section_no, i), one)
    return out.doc, out.errors


def parse_jsonl(text: str) -> tuple[Document, list[RowError]]:
    out = Collector()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"

        def one(line: str = line, where: str = where) -> None:
            try:
                row = object_of(_loads(line))
            except json.JSONDecodeError as exc:
                raise BadRow(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
            except ValueError as exc:
                raise BadRow(f"invalid JSON: {exc}") from None
            kind = row.pop("kind", None)
            if kind == "version":
                if row.get("version") != VERSION:
                    raise BadRow(f"version {row.get('version')!r}; this mailctl reads version 1")
            elif isinstance(kind, str) and kind in _KINDS:
                section = _KINDS[kind]
                getattr(out.doc, section).append(SECTIONS[section][1](row, where))
            else:
                raise BadRow(f"kind {kind!r}; expected domain, user or alias")

        out.add(where, (number, 0), one)
    return out.doc, out.errors


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------


def _objects(doc: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    for d in doc.domains:
        keys = [dkim_fields(k) for k in d.dkim]
        yield "domains", {"name": d.name, **policy_fields(d), "dkim": keys}
    for u in doc.users:
        yield "users", {"email": u.email, "password": u.password, **policy_fields(u)}
    for a in doc.aliases:
        yield "aliases", {"source": a.source, "destinations": list(a.destinations)}


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


def render_json(doc: Document) -> str:
    grouped: dict[str, list[str]] = {section: [] for section in SECTIONS}
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
    return "".join(
        _dump({"kind": SECTIONS[section][0], **obj}) + "\n" for section, obj in _objects(doc)
    )
