"""Export: everything in the database as file records, sorted by name (the same
on every backend); the private keys of the DKIM keys on request."""

from __future__ import annotations

from datetime import datetime

from mailctl.core.config import Settings
from mailctl.errors import InvalidInput
from mailctl.model.dkimstates import DkimState
from mailctl.store import dkimkeys, guide
from mailctl.store.connection import Db
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
        if with_keys and state != DkimState.ARCHIVED:  # an archived key's file has moved away
            pem = _read_key(settings, names[domain_id], selector, warnings)
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
    domains = [
        DomainRecord(
            name, tuple(sorted(keys.get(id_, []), key=lambda k: (k.created_at, k.selector)))
        )
        for id_, name in names.items()
    ]
    users = [UserRecord(user.email, user.password) for user in guide.users(db)]
    aliases = [AliasRecord(a.source, a.destinations) for a in list_aliases(db)]
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
