"""The file's rows after every check that needs no database, done once: names,
addresses, hashes, the password policy and duplicates within the file."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from mailctl.core.config import Settings
from mailctl.errors import InvalidInput
from mailctl.model.names import Address, normalize_domain, parse_address
from mailctl.passwords.parallel import check_stored_hash
from mailctl.transfer.records import Document, DomainRecord, RowError, UserRecord

T = TypeVar("T")
_SECTION_ORDER = {"domains": 0, "users": 1, "aliases": 2}
_WHERE_RE = re.compile(r"line (\d+)|(\w+)\[(\d+)\]")


def _order(where: str) -> tuple[int, int]:
    match = _WHERE_RE.match(where)
    if match is None:
        return (-1, 0)
    if match.group(1):
        return (int(match.group(1)), 0)
    return (_SECTION_ORDER.get(match.group(2), 3), int(match.group(3)))


class RowErrors(list[RowError]):
    """Errors of an import, each listed in file order wherever it was found."""

    def add(self, where: str, message: str) -> None:
        self.append(RowError(where, message, _order(where)))


@dataclass(frozen=True)
class CheckedUser:
    """A user row of an import file, validated."""

    where: str
    email: str
    domain: str
    password: str | None  # a well-formed hash to store as is
    plaintext: str | None  # or a password that meets the policy, to hash


@dataclass(frozen=True)
class CheckedAlias:
    """An alias row of an import file, validated."""

    where: str
    source: Address
    wanted: tuple[str, ...]  # validated destinations, in order


@dataclass
class Checked:
    """An import file's rows, validated and grouped."""

    domains: list[tuple[str, DomainRecord]] = field(default_factory=list)  # stored name
    users: list[CheckedUser] = field(default_factory=list)
    aliases: list[CheckedAlias] = field(default_factory=list)
    errors: RowErrors = field(default_factory=RowErrors)


def check_rows(doc: Document, settings: Settings, read_errors: Sequence[RowError] = ()) -> Checked:
    """Names, addresses, hashes, password policy and duplicates, row by row."""
    from mailctl.services.aliases import parse_destinations

    checked = Checked(errors=RowErrors(read_errors))
    seen: dict[str, str] = {}
    for record in doc.domains:
        name = _first(checked, seen, "domain", record.where, partial(normalize_domain, record.name))
        if name is not None:
            checked.domains.append((name, record))
    for user in doc.users:
        address = _first(checked, seen, "user", user.where, partial(parse_address, user.email))
        if address is None:
            continue
        try:
            _check_password(user, settings)
        except InvalidInput as exc:
            checked.errors.add(user.where, f"{address}: {exc}")
            continue
        checked.users.append(
            CheckedUser(user.where, str(address), address.domain, user.password, user.plaintext)
        )
    for alias in doc.aliases:
        read = partial(parse_address, alias.source, allow_catchall=True)
        source = _first(checked, seen, "alias", alias.where, read)
        if source is None:
            continue
        try:
            wanted = parse_destinations(source, list(alias.destinations))
        except InvalidInput as exc:
            checked.errors.add(alias.where, str(exc))
            continue
        checked.aliases.append(CheckedAlias(alias.where, source, tuple(wanted)))
    return checked


def _first(
    checked: Checked, seen: dict[str, str], kind: str, where: str, read: Callable[[], T]
) -> T | None:
    """A row's name or address in its stored form; None if it is invalid or was
    seen before in the file (the error is added)."""
    try:
        value = read()
    except InvalidInput as exc:
        checked.errors.add(where, str(exc))
        return None
    what = f"{kind} {value}"
    if what in seen:
        checked.errors.add(where, f"duplicate: {what} is also at {seen[what]}")
        return None
    seen[what] = where
    return value


def _check_password(user: UserRecord, settings: Settings) -> None:
    """A hash must be well-formed; a plaintext password must meet the policy."""
    from mailctl.services.users import check_new_password

    if user.password is not None:
        check_stored_hash(user.password, settings.passwords.default_scheme)
        return
    assert user.plaintext is not None  # noqa: S101 - the reader insists
    check_new_password(settings, user.plaintext)
