"""Export and import of everything in the database: domains (with DKIM key
metadata and, on request, the keys), mailboxes with their hashes, aliases.

An import is an idempotent upsert planned in full before anything is
written: every row is checked against the database as it is plus the rest of
the file, with the rules of `domain add`, `user add` and `alias add`, and
every problem is collected with its row's location. One bad row means
nothing is written. The plan is then applied in one transaction: domains
through the same service as `domain add` (one at a time: each has a key and
managed-file entries), users and aliases in bulk statements, since row-by-row
ORM work would cost more than hashing on an import of 10,000 mailboxes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from mailctl.core.config import Settings
from mailctl.core.tables import DkimKey, VirtualAlias, VirtualDomain, VirtualUser
from mailctl.dkim.keyfiles import NewKey
from mailctl.errors import InvalidInput
from mailctl.model.dkimstates import DkimState
from mailctl.model.names import Address, normalize_domain, parse_address
from mailctl.passwords.parallel import HashJob, check_stored_hash
from mailctl.services import Tx
from mailctl.transfer.fileformat import (
    AliasRecord,
    DkimRecord,
    Document,
    DomainRecord,
    ImportRejected,
    RowError,
    UserRecord,
)

KEY_STATES = tuple(DkimState)
KEY_ALGORITHMS = ("rsa", "ed25519")
BATCH = 1000  # rows per bulk statement
KINDS = ("domains", "users", "aliases")

T = TypeVar("T")
Progress = Callable[[int], None]


# --------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------


def export_document(
    session: Session, settings: Settings, *, with_keys: bool = False
) -> tuple[Document, list[str]]:
    """Everything, sorted by name (the same on every backend); warnings for unreadable keys."""
    from mailctl.services.aliases import list_aliases

    warnings: list[str] = []
    names: dict[int, str] = {
        id_: name for id_, name in session.execute(select(VirtualDomain.id, VirtualDomain.name))
    }
    keys: dict[int, list[DkimRecord]] = {}
    columns = (
        DkimKey.domain_id,
        DkimKey.selector,
        DkimKey.algorithm,
        DkimKey.bits,
        DkimKey.state,
        DkimKey.created_at,
        DkimKey.activated_at,
        DkimKey.retired_at,
    )
    for domain_id, selector, algorithm, bits, state, created, activated, retired in session.execute(
        select(*columns)
    ):
        pem = None
        if with_keys and state != DkimState.ARCHIVED:  # an archived key's file has moved away
            pem = _read_key(settings, names[domain_id], selector, warnings)
        keys.setdefault(domain_id, []).append(
            DkimRecord(
                selector=selector,
                algorithm=algorithm,
                bits=bits,
                state=state,
                created_at=_iso(created) or "",
                activated_at=_iso(activated),
                retired_at=_iso(retired),
                private_key=pem,
            )
        )
    domains = [
        DomainRecord(
            name, tuple(sorted(keys.get(id_, []), key=lambda k: (k.created_at, k.selector)))
        )
        for id_, name in names.items()
    ]
    users = [
        UserRecord(email, password)
        for email, password in session.execute(select(VirtualUser.email, VirtualUser.password))
    ]
    aliases = [AliasRecord(a.source, a.destinations) for a in list_aliases(session)]
    document = Document(
        domains=sorted(domains, key=lambda d: d.name),
        users=sorted(users, key=lambda u: u.email),
        aliases=sorted(aliases, key=lambda a: a.source),
    )
    return document, warnings


def _read_key(settings: Settings, domain: str, selector: str, warnings: list[str]) -> str | None:
    from mailctl.dkim import keyfiles as dkim
    from mailctl.services.dkim import key_file

    try:
        return dkim.load_existing_key(key_file(settings, domain, selector)).decode("ascii")
    except (InvalidInput, UnicodeDecodeError) as exc:
        warnings.append(f"{domain}: {exc}; its key {selector} is exported without the private key")
        return None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --------------------------------------------------------------------------
# import: the database as it is
# --------------------------------------------------------------------------


@dataclass
class Current:
    """What the import is compared with, read in three queries."""

    domains: dict[str, int]  # name -> id
    users: dict[str, tuple[int, str]]  # email -> (id, stored hash)
    aliases: dict[str, list[tuple[int, str]]]  # source -> [(row id, destination)], by id

    def destinations(self, source: str) -> list[str]:
        result: list[str] = []
        for _id, destination in self.aliases.get(source, []):
            for part in _split(destination):
                if part not in result:
                    result.append(part)
        return result


def read_current(session: Session) -> Current:
    aliases: dict[str, list[tuple[int, str]]] = {}
    rows = session.execute(
        select(VirtualAlias.id, VirtualAlias.source, VirtualAlias.destination).order_by(
            VirtualAlias.id
        )
    )
    for id_, source, destination in rows:
        aliases.setdefault(source, []).append((id_, destination))
    return Current(
        domains={
            name: id_ for id_, name in session.execute(select(VirtualDomain.id, VirtualDomain.name))
        },
        users={
            email: (id_, password)
            for id_, email, password in session.execute(
                select(VirtualUser.id, VirtualUser.email, VirtualUser.password)
            )
        },
        aliases=aliases,
    )


def _split(destination: str) -> list[str]:
    return [d.strip() for d in destination.split(",") if d.strip()]


# --------------------------------------------------------------------------
# import: the plan
# --------------------------------------------------------------------------


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class KeyImport:
    record: DkimRecord
    pem: bytes | None  # None: an archived key, metadata only
    write: bool  # False: the very same key file is there already


@dataclass(frozen=True)
class NewDomain:
    name: str
    keys: tuple[KeyImport, ...]  # empty: a key is made as `domain add` makes it


@dataclass
class Plan:
    domain_ids: dict[str, int]
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})
    new_domains: list[NewDomain] = field(default_factory=list)
    new_users: list[tuple[str, str, str]] = field(default_factory=list)  # email, domain, hash
    # id, email, old hash, new hash
    changed_users: list[tuple[int, str, str, str]] = field(default_factory=list)
    new_aliases: list[tuple[str, str, str]] = field(default_factory=list)  # source, domain, dest
    # row id, source, destination after the merge, destinations added
    extended_aliases: list[tuple[int, str, str, tuple[str, ...]]] = field(default_factory=list)
    # Users given a plaintext password whose hash is not known yet (email -> job).
    hash_jobs: dict[str, HashJob] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return (
            len(self.new_domains)
            + len(self.new_users)
            + len(self.changed_users)
            + len(self.new_aliases)
            + len(self.extended_aliases)
        )


class _RowProblem(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


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
    def add(self, where: str, message: str) -> None:
        self.append(RowError(where, message, _order(where)))


@dataclass(frozen=True)
class CheckedUser:
    where: str
    email: str
    domain: str
    password: str | None  # a well-formed hash to store as is
    plaintext: str | None  # or a password that meets the policy, to hash


@dataclass(frozen=True)
class CheckedAlias:
    where: str
    source: Address
    wanted: tuple[str, ...]  # validated destinations, in order


@dataclass
class Checked:
    """The file's rows after every check that needs no database, done once."""

    domains: list[tuple[str, DomainRecord]] = field(default_factory=list)  # stored name
    users: list[CheckedUser] = field(default_factory=list)
    aliases: list[CheckedAlias] = field(default_factory=list)
    errors: RowErrors = field(default_factory=RowErrors)


def check_rows(doc: Document, settings: Settings, read_errors: Sequence[RowError] = ()) -> Checked:
    """Names, addresses, hashes, password policy and duplicates, row by row."""
    from mailctl.passwords.hashing import check_password_policy
    from mailctl.services.aliases import parse_destinations

    checked = Checked(errors=RowErrors(read_errors))
    seen: dict[str, str] = {}
    for record in doc.domains:
        try:
            name = normalize_domain(record.name)
        except InvalidInput as exc:
            checked.errors.add(record.where, str(exc))
            continue
        if _duplicate(checked, seen, f"domain {name}", record.where):
            continue
        checked.domains.append((name, record))
    for user in doc.users:
        try:
            address = parse_address(user.email)
        except InvalidInput as exc:
            checked.errors.add(user.where, str(exc))
            continue
        email = str(address)
        if _duplicate(checked, seen, f"user {email}", user.where):
            continue
        try:
            if user.password is not None:
                check_stored_hash(user.password, settings.passwords.default_scheme)
            else:
                assert user.plaintext is not None  # noqa: S101 - the reader insists
                check_password_policy(
                    user.plaintext,
                    min_length=settings.passwords.min_length,
                    scheme=settings.passwords.scheme,
                )
        except InvalidInput as exc:
            checked.errors.add(user.where, f"{email}: {exc}")
            continue
        checked.users.append(
            CheckedUser(user.where, email, address.domain, user.password, user.plaintext)
        )
    for alias in doc.aliases:
        try:
            source = parse_address(alias.source, allow_catchall=True)
            if _duplicate(checked, seen, f"alias {source}", alias.where):
                continue
            wanted = parse_destinations(source, list(alias.destinations))
        except InvalidInput as exc:
            checked.errors.add(alias.where, str(exc))
            continue
        checked.aliases.append(CheckedAlias(alias.where, source, tuple(wanted)))
    return checked


def _duplicate(checked: Checked, seen: dict[str, str], what: str, where: str) -> bool:
    if what in seen:
        checked.errors.add(where, f"duplicate: {what} is also at {seen[what]}")
        return True
    seen[what] = where
    return False


def plan_import(
    checked: Checked,
    current: Current,
    settings: Settings,
    hashes: Mapping[str, str] | None = None,
) -> Plan:
    """Compare the checked rows with the database; ImportRejected lists every bad row.

    `hashes` holds the hash to store for each plaintext password (by address);
    a plaintext without one becomes a `hash_jobs` entry and counts as a change.
    """
    plan = Plan(domain_ids=dict(current.domains))
    errors = RowErrors(checked.errors)
    new_names = _plan_domains(checked, current, settings, plan, errors)
    hosted = set(current.domains) | new_names
    mailboxes = _plan_users(checked, current, hosted, hashes or {}, plan, errors)
    _plan_aliases(checked, current, hosted, mailboxes, plan, errors)
    _warn_catchalls(current, plan)
    if errors:
        raise ImportRejected(errors)
    return plan


def _plan_domains(
    checked: Checked, current: Current, settings: Settings, plan: Plan, errors: RowErrors
) -> set[str]:
    kept_keys = 0
    tally = plan.tallies["domains"]
    for name, record in checked.domains:
        if name in current.domains:
            tally.unchanged += 1
            kept_keys += _other_keys(settings, name, record)
            continue
        try:
            keys = _plan_keys(settings, name, record, plan)
        except _RowProblem as exc:
            errors.add(exc.where, str(exc))
            continue
        except InvalidInput as exc:
            errors.add(record.where, str(exc))
            continue
        plan.new_domains.append(NewDomain(name, keys))
        tally.created += 1
    if kept_keys:
        plan.warnings.append(
            f"{kept_keys} domain(s) exist already and keep their own DKIM keys;"
            " the file's other keys for them were not imported"
        )
    return {d.name for d in plan.new_domains}


def _other_keys(settings: Settings, name: str, record: DomainRecord) -> bool:
    """Whether the file carries private keys an existing domain does not have on disk."""
    from mailctl.services.dkim import key_file

    for key in record.dkim:
        if key.private_key is None or key.state == DkimState.ARCHIVED:
            continue
        try:
            on_disk = key_file(settings, name, key.selector).read_bytes()
        except OSError:
            return True
        if on_disk.strip() != key.private_key.encode("ascii", "replace").strip():
            return True
    return False


def _plan_keys(
    settings: Settings, name: str, record: DomainRecord, plan: Plan
) -> tuple[KeyImport, ...]:
    """The file's keys for a new domain, checked; none: `domain add` makes one."""
    if not any(k.private_key for k in record.dkim):
        return ()
    from mailctl.dkim import keyfiles as dkim

    result: list[KeyImport] = []
    selectors: set[str] = set()
    for key in record.dkim:
        where = key.where or record.where
        if key.selector in selectors:
            raise _RowProblem(where, f"selector {key.selector!r} appears twice for {name}")
        selectors.add(key.selector)
        if key.state not in KEY_STATES:
            raise _RowProblem(where, f"state {key.state!r}; accepted: {', '.join(KEY_STATES)}")
        if key.algorithm not in KEY_ALGORITHMS:
            raise _RowProblem(
                where, f"algorithm {key.algorithm!r}; accepted: {', '.join(KEY_ALGORITHMS)}"
            )
        for stamp in (key.created_at, key.activated_at, key.retired_at):
            _parse_time(stamp, where)
        try:
            dkim.key_paths(Path(settings.dkim.key_dir), name, key.selector)
        except InvalidInput as exc:
            raise _RowProblem(where, str(exc)) from None
        if key.private_key is None:
            if key.state == DkimState.ARCHIVED:
                result.append(KeyImport(key, None, False))
            else:
                plan.warnings.append(
                    f"{name}: the {key.state} key {key.selector} has no private key in the"
                    " file and was not imported"
                )
            continue
        result.append(_checked_key(settings, name, key, where))
    if not any(k.record.state == DkimState.ACTIVE and k.pem for k in result):
        raise _RowProblem(record.where, f"{name}: no active DKIM key with its private key")
    return tuple(result)


def _checked_key(settings: Settings, name: str, key: DkimRecord, where: str) -> KeyImport:
    from mailctl.dkim import keyfiles as dkim
    from mailctl.services.dkim import key_file

    assert key.private_key is not None  # noqa: S101 - callers checked
    pem = key.private_key.encode("ascii", "replace")
    try:
        algorithm, bits = dkim.key_algorithm(pem), dkim.key_bits(pem)
    except InvalidInput as exc:
        raise _RowProblem(where, f"private key of {key.selector}: {exc}") from None
    if (algorithm, bits) != (key.algorithm, key.bits):
        raise _RowProblem(
            where,
            f"the private key is {algorithm} {bits} bits; the row says {key.algorithm} {key.bits}",
        )
    if key.state == DkimState.ARCHIVED:
        return KeyImport(key, pem, False)  # the archive is not a key_dir entry
    path = key_file(settings, name, key.selector)
    if path.exists() or path.is_symlink():
        try:
            existing = dkim.load_existing_key(path)
        except InvalidInput as exc:
            raise _RowProblem(where, str(exc)) from None
        if existing.strip() != pem.strip():
            raise _RowProblem(where, f"{path} exists and holds another key")
        return KeyImport(key, pem, False)
    return KeyImport(key, pem, True)


def _parse_time(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _RowProblem(
            where, f"{value!r} is not a date and time like 2026-01-31T12:00:00"
        ) from None
    if parsed.tzinfo is not None:  # stored as naive UTC, like keys.now()
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


PENDING_HASH = "(not hashed yet)"


def _not_hosted(name: str, domain: str) -> str:
    return (
        f"{name}: domain {domain} is not hosted here"
        " (add it first, or give it a domain row in the file)"
    )


def _plan_users(
    checked: Checked,
    current: Current,
    hosted: set[str],
    hashes: Mapping[str, str],
    plan: Plan,
    errors: RowErrors,
) -> set[str]:
    """Returns every mailbox there will be."""
    mailboxes = set(current.users)
    file_sources = {str(a.source) for a in checked.aliases}
    tally = plan.tallies["users"]
    for user in checked.users:
        email = user.email
        if user.domain not in hosted:
            errors.add(user.where, _not_hosted(email, user.domain))
            continue
        existing = current.users.get(email)
        if existing is None and email in current.aliases and email not in file_sources:
            # `user add`'s rule; an alias in the file is checked with the mailboxes in mind.
            destinations = current.destinations(email)
            if email not in destinations:
                errors.add(
                    user.where,
                    f"{email} is an alias (-> {','.join(destinations)}); remove it first"
                    f" (mailctl alias del {email})",
                )
                continue
        if user.password is not None:
            stored = user.password
        else:
            assert user.plaintext is not None  # noqa: S101 - check_rows insists
            stored = hashes.get(email, PENDING_HASH)
            if stored == PENDING_HASH:
                plan.hash_jobs[email] = HashJob(user.plaintext, existing[1] if existing else None)
        if existing is None:
            plan.new_users.append((email, user.domain, stored))
            mailboxes.add(email)
            tally.created += 1
        elif existing[1] == stored:
            tally.unchanged += 1
        else:
            plan.changed_users.append((existing[0], email, existing[1], stored))
            tally.updated += 1
    return mailboxes


def _plan_aliases(
    checked: Checked,
    current: Current,
    hosted: set[str],
    mailboxes: set[str],
    plan: Plan,
    errors: RowErrors,
) -> None:
    """Merged into existing aliases like `alias add`."""
    tally = plan.tallies["aliases"]
    for alias in checked.aliases:
        source = alias.source
        name = str(source)
        if source.domain not in hosted:
            errors.add(alias.where, _not_hosted(name, source.domain))
            continue
        present = current.destinations(name)
        added = tuple(d for d in alias.wanted if d not in present)
        problem = _merge_problem(source, present + list(added), mailboxes)
        if problem:
            errors.add(alias.where, problem)
            continue
        rows = current.aliases.get(name, [])
        if not added:
            tally.unchanged += 1
        elif rows:
            first_id, first = rows[0]  # like `alias add`: extend the first row
            merged = ",".join(_split(first) + list(added))
            plan.extended_aliases.append((first_id, name, merged, added))
            tally.updated += 1
        else:
            plan.new_aliases.append((name, source.domain, ",".join(added)))
            tally.created += 1


def _merge_problem(source: Address, merged: list[str], mailboxes: set[str]) -> str | None:
    """The rules of `alias add` (without --force) for the destinations after the merge."""
    name = str(source)
    if any(d.startswith("@") for d in merged) and len(merged) > 1:
        return (
            f"alias domain {name}: it would get several destinations ({', '.join(merged)});"
            " an alias domain has exactly one"
        )
    if name in mailboxes:
        if name not in merged:
            return (
                f"{name} is a mailbox; an alias for it must keep {name} among its destinations"
                " (forward with a local copy)"
            )
    elif name in merged:
        return f"alias {name} would point to itself and it is not a mailbox"
    return None


def _check_mailboxes_hidden(
    records: Sequence[UserRecord],
    current: Current,
    file_sources: set[str],
    plan: Plan,
    fail: Callable[[str, str], None],
) -> None:
    """`user add`'s rule: a new mailbox must not hide behind an existing alias."""
    where = {}
    for record in records:
        try:
            where[str(parse_address(record.email))] = record.where
        except InvalidInput:
            continue
    for email, _domain, _hash in plan.new_users:
        if email in file_sources or email not in current.aliases:
            continue  # an alias in the file was checked with the mailboxes in mind
        destinations = current.destinations(email)
        if email not in destinations:
            fail(
                where[email],
                f"{email} is an alias (-> {','.join(destinations)}); remove it first"
                f" (mailctl alias del {email})",
            )


def _warn_catchalls(current: Current, plan: Plan) -> None:
    catchalls = {s for s in current.aliases if s.startswith("@")}
    catchalls |= {s for s, _d, _t in plan.new_aliases if s.startswith("@")}
    new_catchalls = {s for s, _d, _t in plan.new_aliases if s.startswith("@")}
    per_domain: dict[str, int] = {}
    for _email, domain, _hash in plan.new_users:
        per_domain[domain] = per_domain.get(domain, 0) + 1
    for source in sorted(catchalls):
        domain = source[1:]
        if source in new_catchalls or per_domain.get(domain):
            plan.warnings.append(
                f"catch-all {source}: with the guide's alias query it also takes the mail of"
                f" the domain's mailboxes ({per_domain.get(domain, 0)} new);"
                " use the alias query that also returns a mailbox's own address"
                " (README: Catch-all)"
            )


# --------------------------------------------------------------------------
# import: applying the plan
# --------------------------------------------------------------------------


def apply_import(tx: Tx, plan: Plan, progress: Progress | None = None) -> None:
    """Write the plan in the caller's transaction; managed files follow via `tx`."""
    from mailctl.services.domains import add_domain

    tick: Progress = progress or (lambda _n: None)
    ids = dict(plan.domain_ids)
    for new in plan.new_domains:
        if new.keys:
            domain = _add_domain_with_keys(tx, new)
        else:  # exactly `domain add`; the file's own aliases stand in for the role aliases
            domain = add_domain(tx, new.name, role_aliases=False)
        ids[domain.name] = domain.id
        tick(1)
    session = tx.session
    for batch in _batches(plan.new_users):
        session.execute(
            insert(VirtualUser),
            [{"domain_id": ids[d], "email": e, "password": h} for e, d, h in batch],
        )
        for email, _domain, stored in batch:
            tx.record("insert", "virtual_users", email, f"password {_scheme(tx, stored)}")
            tx.maildirs_to_create.append(email)
        tick(len(batch))
    for changed in _batches(plan.changed_users):
        session.execute(update(VirtualUser), [{"id": i, "password": h} for i, _e, _o, h in changed])
        for _id, email, old, new_hash in changed:
            tx.record(
                "update",
                "virtual_users",
                email,
                f"password {_scheme(tx, old)} -> {_scheme(tx, new_hash)}",
            )
        tick(len(changed))
    for aliases in _batches(plan.new_aliases):
        session.execute(
            insert(VirtualAlias),
            [{"domain_id": ids[d], "source": s, "destination": t} for s, d, t in aliases],
        )
        for source, _domain, destination in aliases:
            tx.record("insert", "virtual_aliases", source, "-> " + destination.replace(",", ", "))
        tick(len(aliases))
    for extended in _batches(plan.extended_aliases):
        session.execute(
            update(VirtualAlias), [{"id": i, "destination": t} for i, _s, t, _a in extended]
        )
        for _id, source, _text, added in extended:
            tx.record("update", "virtual_aliases", source, "+ " + ", ".join(added))
        tick(len(extended))
    for message in plan.warnings:
        tx.warn(message)


def _add_domain_with_keys(tx: Tx, new: NewDomain) -> VirtualDomain:
    """`domain add` with the file's keys instead of a new one."""
    from mailctl.services.dkim import key_file

    domain = VirtualDomain(name=new.name)
    tx.session.add(domain)
    tx.session.flush()
    tx.record("insert", "virtual_domains", new.name)
    tx.files_dirty = True
    for key in new.keys:
        record = key.record
        tx.session.add(
            DkimKey(
                domain_id=domain.id,
                selector=record.selector,
                algorithm=record.algorithm,
                bits=record.bits,
                state=record.state,
                created_at=_parse_time(record.created_at, ""),
                activated_at=_parse_time(record.activated_at, ""),
                retired_at=_parse_time(record.retired_at, ""),
            )
        )
        path = key_file(tx.settings, new.name, record.selector)
        if key.write and key.pem is not None:
            tx.new_keys.append(NewKey(new.name, record.selector, key.pem))
            detail = f"imported key {path}"
        elif key.pem is not None and record.state != DkimState.ARCHIVED:
            detail = f"same key as existing file {path}"
        else:
            detail = "archived, metadata only"
        if record.algorithm == "rsa" and record.bits < 2048 and record.state != DkimState.ARCHIVED:
            tx.warn(f"DKIM key {path} has {record.bits} bits; 2048 or more is recommended")
        tx.record(
            "insert",
            "mailctl_dkim_keys",
            f"{record.selector}._domainkey.{new.name}",
            f"{record.state}, {detail}",
        )
    tx.session.flush()
    return domain


def _batches(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _scheme(tx: Tx, stored: str) -> str:
    from mailctl.services.users import scheme_label

    return scheme_label(stored, tx.settings.passwords.default_scheme)


def summary(plan: Plan, *, dry_run: bool) -> list[str]:
    """One line per kind: what was (or would be) created, updated and left alone."""
    lines = []
    for kind in KINDS:
        t = plan.tallies[kind]
        if dry_run:
            lines.append(
                f"{kind}: {t.created} to create, {t.updated} to update, {t.unchanged} unchanged"
            )
        else:
            lines.append(
                f"{kind}: {t.created} created, {t.updated} updated, {t.unchanged} unchanged"
            )
    return lines
