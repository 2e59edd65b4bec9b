"""One row of any format, as a dict of fields: checked and read into a record, or
written from one. The JSON, JSON Lines and CSV readers and writers share these."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from mailctl.transfer.records import (
    COUNT_FIELDS,
    DKIM_FIELDS,
    DOMAIN_POLICY_FIELDS,
    FLAG_FIELDS,
    USER_POLICY_FIELDS,
    AliasRecord,
    DkimRecord,
    Document,
    DomainRecord,
    RowError,
    UserRecord,
)


class BadRow(Exception):
    """One row's problem, turned into a RowError where the row's location is known;
    `at` narrows the location inside the row (".dkim[1]")."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.at = at


class Collector:
    """The document read so far and the rows that could not be read."""

    def __init__(self) -> None:
        self.doc = Document()
        self.errors: list[RowError] = []

    def add(self, where: str, order: tuple[int, int], build: Callable[[], None]) -> None:
        try:
            build()
        except BadRow as exc:
            self.errors.append(RowError(where + exc.at, str(exc), order))


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


def object_of(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRow("must be an object")
    return dict(value)


def _text(row: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None:
        if required:
            raise BadRow(f"'{key}' is missing")
        return None
    if not isinstance(value, str):
        raise BadRow(f"'{key}' must be a string")
    return value


def _required(row: dict[str, Any], key: str) -> str:
    value = _text(row, key)
    assert value is not None  # noqa: S101 - required=True
    return value


def _keys(row: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(row) - set(allowed))
    if unknown:
        raise BadRow(f"unknown field(s) {', '.join(unknown)}")


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")  # a CSV cell
    raise BadRow(f"'{key}' must be true or false")


def _amount(value: Any, key: str) -> str:
    """A size or a count as the file has it (a CSV cell, `500M`, or a JSON number);
    what it says is the import's to check."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise BadRow(f"'{key}' must be a string or a whole number")
    return value


def _addresses(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRow(f"'{key}' must be a list of addresses")
    return tuple(value)


def _policy(row: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The policy fields a row gives (null or absent: not given), read by kind."""
    found: dict[str, Any] = {}
    for key in names:
        value = row.get(key)
        if value is None:
            continue
        if key in FLAG_FIELDS:
            found[key] = _flag(value, key)
        elif key == "send_as":
            found[key] = _addresses(value, key)
        elif key == "suspend_reason":
            found[key] = _text(row, key)
        else:
            found[key] = _amount(value, key)
    return found


def domain_from(row: dict[str, Any], where: str) -> DomainRecord:
    _keys(row, ("name", "dkim", *DOMAIN_POLICY_FIELDS))
    name = _required(row, "name")
    keys = row.get("dkim", [])
    if not isinstance(keys, list):
        raise BadRow("'dkim' must be a list")
    dkim = []
    for i, key in enumerate(keys):
        try:
            dkim.append(dkim_from(object_of(key), f"{where}.dkim[{i}]"))
        except BadRow as exc:
            raise BadRow(str(exc), f".dkim[{i}]") from None
    return DomainRecord(name, tuple(dkim), where, **_policy(row, DOMAIN_POLICY_FIELDS))


def dkim_from(row: dict[str, Any], where: str) -> DkimRecord:
    _keys(row, DKIM_FIELDS)
    bits = row.get("bits")
    if isinstance(bits, str) and re.fullmatch(r"\d{1,6}", bits.strip()):
        bits = int(bits)  # a CSV cell
    if not isinstance(bits, int) or isinstance(bits, bool):
        raise BadRow("'bits' must be an integer")
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


def user_from(row: dict[str, Any], where: str) -> UserRecord:
    _keys(row, ("email", "password", "plaintext", *USER_POLICY_FIELDS))
    email = _required(row, "email")
    password = _text(row, "password", required=False)
    plaintext = _text(row, "plaintext", required=False)
    if (password is None) == (plaintext is None):
        raise BadRow("give either 'password' (a Dovecot hash) or 'plaintext', not both or neither")
    return UserRecord(email, password, plaintext, where, **_policy(row, USER_POLICY_FIELDS))


def alias_from(row: dict[str, Any], where: str) -> AliasRecord:
    _keys(row, ("source", "destinations"))
    source = _required(row, "source")
    dests = row.get("destinations")
    if dests is None:
        raise BadRow("'destinations' is missing")
    if not isinstance(dests, list) or not all(isinstance(d, str) for d in dests):
        raise BadRow("'destinations' must be a list of addresses")
    if not dests:
        raise BadRow("'destinations' is empty")
    return AliasRecord(source, tuple(dests), where)


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------


def dkim_fields(key: DkimRecord) -> dict[str, Any]:
    """A key's fields; the private key only where the record has it."""
    fields: dict[str, Any] = {
        "selector": key.selector,
        "algorithm": key.algorithm,
        "bits": key.bits,
        "state": key.state,
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retired_at": key.retired_at,
    }
    if key.private_key is not None:
        fields["private_key"] = key.private_key
    return fields


def policy_fields(record: DomainRecord | UserRecord) -> dict[str, Any]:
    """The policy fields a record gives, in file order; a count as a number."""
    names = DOMAIN_POLICY_FIELDS if isinstance(record, DomainRecord) else USER_POLICY_FIELDS
    fields: dict[str, Any] = {}
    for key in names:
        value = getattr(record, key)
        if value is None or value == ():
            continue
        if key in COUNT_FIELDS and re.fullmatch(r"[0-9]{1,18}", value):
            value = int(value)
        fields[key] = list(value) if isinstance(value, tuple) else value
    return fields
