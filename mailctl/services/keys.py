"""DKIM keys of a domain: metadata rows in mailctl_dkim_keys, key material in files."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailctl.config import Settings
from mailctl.models import DkimKey, VirtualDomain
from mailctl.render import DkimEntry
from mailctl.services import NewKey, Tx


def key_file(settings: Settings, domain: str, selector: str) -> Path:
    return Path(settings.dkim.key_dir) / domain / f"{selector}.private"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def ensure_domain_key(tx: Tx, domain: VirtualDomain) -> DkimKey:
    """Give a new domain its active key: an existing key file is reused, never overwritten."""
    from mailctl import dkim

    selector = tx.settings.dkim.selector
    path = key_file(tx.settings, domain.name, selector)
    if path.exists():
        pem = dkim.load_existing_key(path)
        detail = f"reused existing key file {path}"
    else:
        pem = dkim.generate_rsa_key(tx.settings.dkim.bits)
        tx.new_keys.append(NewKey(domain.name, selector, pem))
        detail = f"new {tx.settings.dkim.bits}-bit RSA key {path}"
    bits = dkim.key_bits(pem)
    if dkim.key_algorithm(pem) == "rsa" and bits < 2048:
        tx.warn(f"DKIM key {path} has {bits} bits; 2048 or more is recommended")
    stamp = now()
    row = DkimKey(
        domain_id=domain.id,
        selector=selector,
        algorithm=dkim.key_algorithm(pem),
        bits=bits,
        state="active",
        created_at=stamp,
        activated_at=stamp,
    )
    tx.session.add(row)
    tx.session.flush()
    tx.record("insert", "mailctl_dkim_keys", f"{selector}._domainkey.{domain.name}", detail)
    tx.files_dirty = True
    return row


def signing_entries(session: Session, settings: Settings) -> list[DkimEntry]:
    """KeyTable/SigningTable input: every active key."""
    rows = session.execute(
        select(VirtualDomain.name, DkimKey.selector)
        .join(DkimKey, DkimKey.domain_id == VirtualDomain.id)
        .where(DkimKey.state == "active")
    )
    key_dir = settings.dkim.key_dir
    # os.path.join, not Path: this runs once per domain on every change.
    return [
        DkimEntry(name, selector, os.path.join(key_dir, name, f"{selector}.private"))
        for name, selector in rows
    ]


def keys_of(session: Session, domain_id: int) -> list[DkimKey]:
    return list(
        session.scalars(
            select(DkimKey).where(DkimKey.domain_id == domain_id).order_by(DkimKey.created_at)
        )
    )


def purge_key_dir(settings: Settings, domain: str) -> Path | None:
    """Delete key_dir/{domain} (after `domain del --purge-keys`), never via a symlink."""
    from mailctl.files import remove_tree_inside
    from mailctl.names import normalize_domain

    key_dir = Path(settings.dkim.key_dir)
    return remove_tree_inside(key_dir / normalize_domain(domain), key_dir)


def domain_id(session: Session, name: str) -> int:
    found = session.scalar(select(VirtualDomain.id).where(VirtualDomain.name == name))
    assert found is not None  # noqa: S101 - callers looked the domain up first
    return found


def active_selectors(session: Session) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    rows = session.execute(
        select(VirtualDomain.name, DkimKey.selector)
        .join(DkimKey, DkimKey.domain_id == VirtualDomain.id)
        .where(DkimKey.state == "active")
        .order_by(VirtualDomain.name, DkimKey.selector)
    )
    for name, selector in rows:
        result.setdefault(name, []).append(selector)
    return result
