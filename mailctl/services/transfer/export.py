"""Export: everything in the database as file records, sorted by name (the same
on every backend); the private keys of the DKIM keys on request. Account policy
is written where it differs from the default, sizes in the largest unit that
holds them whole (`1536M`), so an import reads back the very same values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailctl.core.config import Settings
from mailctl.model.dkimstates import DkimState
from mailctl.model.sizes import exact_size
from mailctl.store import dkimkeys, guide, policy
from mailctl.store.connection import Db
from mailctl.store.policy import DomainPolicy, UserPolicy
from mailctl.transfer.records import AliasRecord, DkimRecord, Document, DomainRecord, UserRecord


def export_document(
    db: Db, settings: Settings, *, with_keys: bool = False
) -> tuple[Document, list[str]]:
    """Everything, sorted by name; warnings for unreadable keys."""
    from mailctl.services.aliases import list_aliases

    warnings: list[str] = []
    names = {d.id: d.name for d in guide.domains(db)}
    keys: dict[int, list[DkimRecord]] = {}
    for key in dkimkeys.all_keys(db):
        domain_id, selector, state = key.domain_id, key.selector, key.state
        pem = None
        if with_keys and state != DkimState.ARCHIVED:  # an archived key is not exported
            pem = _stored_key(db, key.id, f"{selector}._domainkey.{names[domain_id]}", warnings)
        keys.setdefault(domain_id, []).append(
            DkimRecord(
                selector=selector,
                algorithm=key.algorithm,
                bits=key.bits,
                state=state,
                created_at=_iso(key.created_at) or "",
                activated_at=_iso(key.activated_at),
                retired_at=_iso(key.retired_at),
                private_key=pem,
            )
        )
    domain_policies = {p.domain_id: p for p in policy.domain_policies(db)}
    domains = [
        DomainRecord(
            name,
            tuple(sorted(keys.get(id_, []), key=lambda k: (k.created_at, k.selector))),
            **_domain_policy(domain_policies.get(id_)),
        )
        for id_, name in names.items()
    ]
    user_policies = {p.user_id: p for p in policy.user_policies(db)}
    grants: dict[str, list[str]] = {}
    for login, address in policy.grants(db):  # by login and address
        grants.setdefault(login, []).append(address)
    users = [
        UserRecord(
            user.email,
            user.password,
            send_as=tuple(grants.get(user.email, ())),
            **_user_policy(user_policies.get(user.id)),
        )
        for user in guide.users(db)
    ]
    aliases = [AliasRecord(a.source, a.destinations) for a in list_aliases(db)]
    document = Document(
        domains=sorted(domains, key=lambda d: d.name),
        users=sorted(users, key=lambda u: u.email),
        aliases=sorted(aliases, key=lambda a: a.source),
    )
    return document, warnings


def _suspension(row: UserPolicy | DomainPolicy) -> dict[str, Any]:
    if not row.suspended:  # a reason left without the suspension means nothing
        return {}
    return {"suspended": True, "suspend_reason": row.suspend_reason or None}


def _domain_policy(row: DomainPolicy | None) -> dict[str, Any]:
    """A domain's policy fields that differ from the default (no row: none do)."""
    if row is None:
        return {}
    found = _suspension(row)
    if not row.receive:
        found["receive"] = False
    for name in ("default_quota", "max_quota"):
        size = getattr(row, f"{name}_bytes")
        if size is not None:
            found[name] = exact_size(size)
    for name in ("max_users", "max_aliases"):
        count = getattr(row, name)
        if count is not None:
            found[name] = str(count)
    return found


def _user_policy(row: UserPolicy | None) -> dict[str, Any]:
    """A mailbox's policy fields that differ from the default."""
    if row is None:
        return {}
    found = _suspension(row)
    for service in ("imap", "pop3", "smtp", "receive"):
        if not getattr(row, service):
            found[service] = False
    if row.quota_bytes is not None:
        found["quota"] = "unlimited" if row.quota_bytes == 0 else exact_size(row.quota_bytes)
    return found


def _stored_key(db: Db, key_id: int, record: str, warnings: list[str]) -> str | None:
    """A key's private key as the database holds it (the source of every host's file)."""
    pem = dkimkeys.secret_of(db, key_id)
    if pem is None:
        warnings.append(
            f"{record}: the database holds no private key for it (mailctl db upgrade takes"
            " it from its key file); exported without the private key"
        )
        return None
    return pem.decode("ascii")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
