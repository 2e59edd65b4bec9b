"""Send-as grants: the addresses, or whole domains (@domain), a login may use as
its envelope sender beyond its own address (Postfix's smtpd_sender_login_maps,
rendered by `setup render`, reads them)."""

from __future__ import annotations

from mailctl.errors import AlreadyExists, NotFound
from mailctl.model.names import normalize_domain, parse_address
from mailctl.services import Tx
from mailctl.services.domains import get_domain, hosted_domain
from mailctl.services.users import get_user
from mailctl.store import policy
from mailctl.store.connection import Db


def _target(db: Db, value: str) -> str:
    """A hosted address, or @ and a hosted domain, as the grant stores it."""
    if value.startswith("@"):
        return "@" + get_domain(db, normalize_domain(value[1:])).name
    address = parse_address(value)
    hosted_domain(db, address)  # sending as a domain mailctl does not host fails SPF/DMARC
    return str(address)


def allow(tx: Tx, login: str, value: str) -> tuple[str, str]:
    user = get_user(tx.db, login)
    target = _target(tx.db, value)
    if target == user.email:
        raise AlreadyExists(f"{user.email} may always send as itself")
    if policy.has_grant(tx.db, user.id, target):
        raise AlreadyExists(f"{user.email} may send as {target} already")
    policy.add_grant(tx.db, user.id, target)
    tx.record("insert", "mailctl_sender_grants", user.email, f"may send as {target}")
    return user.email, target


def deny(tx: Tx, login: str, value: str) -> tuple[str, str]:
    user = get_user(tx.db, login)
    target = value if value.startswith("@") else str(parse_address(value))
    if value.startswith("@"):
        target = "@" + normalize_domain(value[1:])
    if not policy.delete_grant(tx.db, user.id, target):
        raise NotFound(f"{user.email} has no grant for {target} (see: mailctl sender list)")
    tx.record("delete", "mailctl_sender_grants", user.email, f"may no longer send as {target}")
    return user.email, target


def listing(db: Db, login: str | None = None) -> list[tuple[str, str]]:
    """(login, address) pairs; a login's own address is implied, not listed."""
    if login is None:
        return policy.grants(db)
    return policy.grants(db, get_user(db, login).id)
