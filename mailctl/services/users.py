"""Mailboxes: rows in virtual_users with a {SCHEME}-prefixed Dovecot hash."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailctl.core.config import Settings
from mailctl.core.tables import VirtualAlias, VirtualDomain, VirtualUser
from mailctl.errors import AlreadyExists, Conflict, DomainNotHosted, InvalidInput, NotFound
from mailctl.model.names import parse_address
from mailctl.services import Tx
from mailctl.services.aliases import AliasInfo, aliases_pointing_to


@dataclass(frozen=True)
class UserInfo:
    email: str
    domain: str
    scheme: str


def hash_new_password(settings: Settings, password: str, scheme: str | None = None) -> str:
    """Apply the password policy, then hash with the requested or configured scheme."""
    from mailctl.passwords import hashing as passwords

    chosen = (scheme or settings.passwords.scheme).upper()
    passwords.check_password_policy(
        password, min_length=settings.passwords.min_length, scheme=chosen
    )
    return passwords.hash_password(password, chosen, bcrypt_cost=settings.passwords.bcrypt_cost)


def find_user(session: Session, email: str) -> VirtualUser | None:
    return session.scalars(select(VirtualUser).where(VirtualUser.email == email)).first()


def get_user(session: Session, value: str) -> VirtualUser:
    email = str(parse_address(value))
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"user {email} does not exist (see: mailctl user list)")
    return user


def check_new_user(session: Session, value: str, *, force: bool = False) -> tuple[str, int]:
    """Everything `add_user` checks before hashing: returns (email, domain id)."""
    address = parse_address(value)
    email = str(address)
    domain_id = session.scalar(select(VirtualDomain.id).where(VirtualDomain.name == address.domain))
    if domain_id is None:
        raise DomainNotHosted(
            f"{email}: domain {address.domain} is not hosted here"
            f" (add it first: mailctl domain add {address.domain})"
        )
    if find_user(session, email) is not None:
        raise AlreadyExists(f"user {email} exists already")
    alias = session.scalars(select(VirtualAlias).where(VirtualAlias.source == email)).first()
    if alias is not None and email not in alias.destinations and not force:
        raise Conflict(
            f"{email} is an alias (-> {alias.destination}); remove it first"
            f" (mailctl alias del {email}) or use --force"
        )
    return email, domain_id


def add_user(tx: Tx, value: str, password_hash: str, *, force: bool = False) -> VirtualUser:
    email, domain_id = check_new_user(tx.session, value, force=force)
    user = VirtualUser(domain_id=domain_id, email=email, password=password_hash)
    tx.session.add(user)
    tx.session.flush()
    tx.record("insert", "virtual_users", email, f"password {_scheme(tx.settings, password_hash)}")
    tx.maildirs_to_create.append(email)
    domain = email.rpartition("@")[2]
    catchall = tx.session.scalar(
        select(func.count()).select_from(VirtualAlias).where(VirtualAlias.source == "@" + domain)
    )
    if catchall:
        tx.warn(
            f"@{domain} has a catch-all: with the guide's alias query it takes {email}'s mail"
            " too; mailctl setup render --catchall-fix writes the map that fixes it"
            " (README: Catch-all)"
        )
    return user


def set_password(tx: Tx, value: str, password_hash: str) -> VirtualUser:
    user = get_user(tx.session, value)
    old = _scheme(tx.settings, user.password)
    user.password = password_hash
    tx.session.flush()
    tx.record(
        "update",
        "virtual_users",
        user.email,
        f"password {old} -> {_scheme(tx.settings, password_hash)}",
    )
    return user


def delete_user(tx: Tx, value: str) -> list[AliasInfo]:
    """Delete a mailbox; returns the aliases that still point to it."""
    user = get_user(tx.session, value)
    pointing = aliases_pointing_to(tx.session, user.email)
    if pointing:
        tx.warn(
            f"{len(pointing)} alias(es) still point to {user.email}: "
            + ", ".join(sorted(a.source for a in pointing))
        )
    tx.session.delete(user)
    tx.session.flush()
    tx.record("delete", "virtual_users", user.email)
    own = tx.session.scalars(select(VirtualAlias).where(VirtualAlias.source == user.email)).all()
    if any(user.email in row.destinations for row in own):
        # A forward with a local copy keeps the mailbox among its destinations;
        # without the mailbox that copy would bounce, so drop it from the alias.
        from mailctl.services.aliases import delete_alias

        delete_alias(tx, user.email, [user.email])
    return pointing


def list_users(session: Session, settings: Settings, domain: str | None = None) -> list[UserInfo]:
    # Only the hash's head is fetched: the scheme is all a listing shows, and the
    # full hashes are most of the bytes a 100,000-row listing would move.
    head = func.substr(VirtualUser.password, 1, 24)
    query = select(VirtualUser.email, head).order_by(VirtualUser.email)
    if domain is not None:
        query = query.join(VirtualDomain, VirtualDomain.id == VirtualUser.domain_id).where(
            VirtualDomain.name == domain
        )
    default = settings.passwords.default_scheme
    return [
        UserInfo(email, email.rpartition("@")[2], scheme_label(prefix, default))
        for email, prefix in session.execute(query)
    ]


def _scheme(settings: Settings, stored: str) -> str:
    return scheme_label(stored, settings.passwords.default_scheme)


def scheme_label(stored: str, default: str) -> str:
    """The scheme to show for a stored hash (or just its head); "unknown" when unparseable.

    Only the `{SCHEME}` prefix (or the first three characters of an unprefixed
    hash) decides, so the lookup is cached on that: a listing of 100,000 users
    repeats a handful of prefixes.
    """
    end = stored.find("}") + 1 if stored.startswith("{") else 3
    return _label(stored[:end] if end > 0 else stored, default)


@functools.lru_cache(maxsize=256)
def _label(prefix: str, default: str) -> str:
    from mailctl.passwords.hashing import scheme_of

    try:
        return scheme_of(prefix, default)
    except InvalidInput:  # a foreign hash must not break a listing
        return "unknown"
