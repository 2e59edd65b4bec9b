"""The file's rows after every check that needs no database, done once: names,
addresses, hashes, the password policy, account policy values and duplicates
within the file."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from mailctl.core.config import Settings
from mailctl.errors import InvalidInput
from mailctl.model.names import Address, normalize_domain, parse_address
from mailctl.passwords.parallel import check_stored_hash
from mailctl.services.policy import MAX_REASON, parse_limit, parse_quota
from mailctl.transfer.records import Document, DomainRecord, RowError, UserRecord

T = TypeVar("T")
# A policy row's columns the file gives a value for (store.policy's names).
Changes = Mapping[str, Any]
_LIMITS = (  # a domain record's field, its column, whether it is a size
    ("default_quota", "default_quota_bytes", True),
    ("max_quota", "max_quota_bytes", True),
    ("max_users", "max_users", False),
    ("max_aliases", "max_aliases", False),
)
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
    policy: Changes = field(default_factory=dict)
    send_as: tuple[Address, ...] = ()  # checked addresses and @domains, each once


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
    domain_policies: dict[str, Changes] = field(default_factory=dict)  # by stored name


def check_rows(doc: Document, settings: Settings, read_errors: Sequence[RowError] = ()) -> Checked:
    """Names, addresses, hashes, password policy and duplicates, row by row."""
    from mailctl.services.aliases import parse_destinations

    checked = Checked(errors=RowErrors(read_errors))
    seen: dict[str, str] = {}
    for record in doc.domains:
        name = _first(checked, seen, "domain", record.where, partial(normalize_domain, record.name))
        if name is None:
            continue
        checked.domains.append((name, record))  # also when its policy is wrong: one error
        try:
            if changes := _domain_policy(record):
                checked.domain_policies[name] = changes
        except InvalidInput as exc:
            checked.errors.add(record.where, f"{name}: {exc}")
    for user in doc.users:
        address = _first(checked, seen, "user", user.where, partial(parse_address, user.email))
        if address is None:
            continue
        try:
            _check_password(user, settings)
        except InvalidInput as exc:
            checked.errors.add(user.where, f"{address}: {exc}")
            continue
        try:
            policy, send_as = _user_policy(user), _send_as(address, user.send_as)
        except InvalidInput as exc:
            checked.errors.add(user.where, f"{address}: {exc}")
            policy, send_as = {}, ()
        checked.users.append(
            CheckedUser(
                user.where,
                str(address),
                address.domain,
                user.password,
                user.plaintext,
                policy,
                send_as,
            )
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


# ------------------------------------------------------------------ account policy


def _user_policy(user: UserRecord) -> Changes:
    changes = _suspension(user)
    for service in ("imap", "pop3", "smtp", "receive"):
        on = getattr(user, service)
        if on is not None:
            changes[service] = int(on)
    if user.quota is not None:
        changes["quota_bytes"] = _parsed("quota", parse_quota, user.quota)
    return changes


def _domain_policy(record: DomainRecord) -> Changes:
    changes = _suspension(record)
    if record.receive is not None:
        changes["receive"] = int(record.receive)
    for name, column, size in _LIMITS:
        text = getattr(record, name)
        if text is not None:
            changes[column] = _parsed(name, partial(parse_limit, size=size), text)
    return changes


def _suspension(record: DomainRecord | UserRecord) -> dict[str, int | str | None]:
    """`suspended` with its reason; false clears the reason, as `resume` does."""
    reason = record.suspend_reason
    if reason is not None and not record.suspended:
        raise InvalidInput("suspend_reason: only with suspended: true")
    if record.suspended is None:
        return {}
    if reason is not None and (len(reason) > MAX_REASON or not reason.isprintable()):
        raise InvalidInput(f"suspend_reason: at most {MAX_REASON} printable characters")
    return {"suspended": int(record.suspended), "suspend_reason": reason or None}


def _parsed(name: str, parse: Callable[[str], int | None], text: str) -> int | None:
    """A size or count read as `user set` and `domain set` read it; errors name the field."""
    try:
        return parse(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc}") from None
    except ValueError:  # str.isdigit() takes '²', which int() does not
        raise InvalidInput(f"{name}: invalid count {text!r}: a whole number, or 'none'") from None


def _send_as(login: Address, values: Sequence[str]) -> tuple[Address, ...]:
    """The grants' addresses and @domains, as `sender allow` stores them, each once."""
    found: dict[str, Address] = {}
    for value in values:
        try:
            target = parse_address(value, allow_catchall=True)
        except InvalidInput as exc:
            raise InvalidInput(f"send_as: {exc}") from None
        if target == login:
            raise InvalidInput(f"send_as: {login} may always send as itself")
        found.setdefault(str(target), target)
    return tuple(found.values())
