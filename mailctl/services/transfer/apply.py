"""Applying an import's plan in the caller's transaction: new domains through
`domain add` (with the file's keys where it has them), users and aliases in bulk
statements, then the account policy rows and send-as grants, each row recorded
as the single-row services record it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from mailctl.dkim.paths import NewKey
from mailctl.model.dkimstates import DkimState
from mailctl.model.rules import split_destinations, weak_key_warning
from mailctl.services import Tx, aliases, users
from mailctl.services.domains import add_domain, add_report_aliases
from mailctl.services.transfer.keys import KeyImport, parse_time
from mailctl.services.transfer.plan import Plan
from mailctl.services.transfer.policy import PolicyChange
from mailctl.store import dkimkeys, guide, policy
from mailctl.store.dkimkeys import DkimKey
from mailctl.store.guide import Domain
from mailctl.store.policy import UserPolicy

BATCH = 1000  # rows per bulk statement

T = TypeVar("T")
Progress = Callable[[int], None]


def apply_import(tx: Tx, plan: Plan, progress: Progress | None = None) -> None:
    """Write the plan in the caller's transaction; managed files follow via `tx`."""
    tick: Progress = progress or (lambda _n: None)
    ids = dict(plan.domain_ids)
    for new in plan.new_domains:
        # `domain add`; the file's own aliases stand in for the role aliases.
        keys = partial(_import_keys, keys=new.keys) if new.keys else None
        domain = add_domain(tx, new.name, role_aliases=False, keys=keys)
        ids[domain.name] = domain.id
        tick(1)
    db = tx.db
    for batch in _batches(plan.new_users):
        guide.insert_users(db, [(ids[d], e, h) for e, d, h in batch])
        for email, _domain, stored in batch:
            users.record_created(tx, email, stored)
        tick(len(batch))
    for changed in _batches(plan.changed_users):
        guide.set_passwords(db, [(h, i) for i, _e, _o, h in changed])
        for _id, email, old, new_hash in changed:
            users.record_password(tx, email, old, new_hash)
        tick(len(changed))
    for created in _batches(plan.new_aliases):
        guide.insert_aliases(db, [(ids[d], s, t) for s, d, t in created])
        for source, _domain, destination in created:
            aliases.record_created(tx, source, split_destinations(destination))
        tick(len(created))
    for extended in _batches(plan.extended_aliases):
        guide.set_destinations(db, [(t, i) for i, _s, t, _a in extended])
        for _id, source, _text, added in extended:
            aliases.record_extended(tx, source, added)
        tick(len(extended))
    _apply_policy(tx, plan, ids)
    for new in plan.new_domains:
        # as `domain add` does: report addresses the file's aliases leave unreceived
        add_report_aliases(tx, new.name)
    for message in plan.warnings:
        tx.warn(message)


def _apply_policy(tx: Tx, plan: Plan, domain_ids: dict[str, int]) -> None:
    """Policy rows (a new mailbox's in bulk) and grants, once the rows they belong to exist."""
    db = tx.db
    for domain in plan.domain_policies:
        policy.save_domain_policy(
            db, dataclasses.replace(domain.row, domain_id=domain_ids[domain.key])
        )
        _record(tx, "mailctl_domain_policy", domain)
    if not plan.user_policies and not plan.new_grants:
        return
    user_ids = {user.email: user.id for user in guide.users(db)}  # with the new ones
    new_rows: list[UserPolicy] = []
    for change in plan.user_policies:
        row = dataclasses.replace(change.row, user_id=user_ids[change.key])
        if change.stored:
            policy.save_user_policy(db, row)
        else:
            new_rows.append(row)
        _record(tx, "mailctl_user_policy", change)
    for batch in _batches(new_rows):
        policy.insert_user_policies(db, batch)
    for grants in _batches(plan.new_grants):
        policy.add_grants(db, [(user_ids[login], address) for login, address in grants])
        for login, address in grants:
            tx.record("insert", "mailctl_sender_grants", login, f"may send as {address}")
    tx.logins_to_kick.extend(plan.logins_to_kick)


def _record(tx: Tx, table: str, change: PolicyChange[Any]) -> None:
    tx.record("update" if change.stored else "insert", table, change.key, change.details())


def _import_keys(tx: Tx, domain: Domain, keys: Sequence[KeyImport]) -> None:
    """A new domain's keys from the file, in place of the ones `domain add` makes."""
    from mailctl.services.dkim import key_file

    for key in keys:
        record = key.record
        created = parse_time(record.created_at)
        assert created is not None  # noqa: S101 - checked when the file was read
        row = dkimkeys.insert_key(
            tx.db,
            DkimKey(
                id=0,
                domain_id=domain.id,
                selector=record.selector,
                algorithm=record.algorithm,
                bits=record.bits,
                state=record.state,
                created_at=created,
                activated_at=parse_time(record.activated_at),
                retired_at=parse_time(record.retired_at),
            ),
        )
        if key.pem is not None:  # every host writes its key file from the database
            dkimkeys.save_secret(tx.db, row.id, key.pem)
        path = key_file(tx.settings, domain.name, record.selector)
        archived = record.state == DkimState.ARCHIVED
        if key.write and key.pem is not None:
            tx.new_keys.append(NewKey(domain.name, record.selector, key.pem))
            detail = f"imported key {path}"
        elif key.pem is not None and not archived:
            detail = f"same key as existing file {path}"
        else:
            detail = "archived, metadata only"
        weak = None if archived else weak_key_warning(path, record.algorithm, record.bits)
        if weak:
            tx.warn(weak)
        tx.record(
            "insert",
            "mailctl_dkim_keys",
            f"{record.selector}._domainkey.{domain.name}",
            f"{record.state}, {detail}",
        )


def _batches(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
