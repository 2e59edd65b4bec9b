"""Mailboxes: rows in virtual_users with a {SCHEME}-prefixed Dovecot hash."""

from __future__ import annotations

from mailctl.core.config import Settings
from mailctl.errors import AlreadyExists, Conflict, NotFound
from mailctl.model.names import parse_address
from mailctl.model.rules import catchall_mailbox_warning, mailbox_problem
from mailctl.model.schemes import scheme_label
from mailctl.services import Tx, limits
from mailctl.services.aliases import (
    AliasInfo,
    alias_destinations,
    aliases_pointing_to,
    delete_alias,
    warn_still_pointing,
)
from mailctl.services.domains import hosted_domain
from mailctl.store import guide, policy
from mailctl.store.connection import Db
from mailctl.store.guide import User


def check_new_password(settings: Settings, password: str, scheme: str | None = None) -> str:
    """Apply the password policy for the requested or configured scheme; returns the scheme."""
    from mailctl.passwords.hashing import check_password_policy

    chosen = (scheme or settings.passwords.scheme).upper()
    check_password_policy(password, min_length=settings.passwords.min_length, scheme=chosen)
    return chosen


def hash_new_password(settings: Settings, password: str, scheme: str | None = None) -> str:
    """Apply the password policy, then hash with the requested or configured scheme."""
    from mailctl.passwords.hashing import hash_password

    chosen = check_new_password(settings, password, scheme)
    return hash_password(password, chosen, bcrypt_cost=settings.passwords.bcrypt_cost)


def get_user(db: Db, value: str) -> User:
    email = str(parse_address(value))
    user = guide.find_user(db, email)
    if user is None:
        raise NotFound(f"user {email} does not exist (see: mailctl user list)")
    return user


def check_new_user(db: Db, value: str, *, force: bool = False) -> tuple[str, int]:
    """Everything `add_user` checks before hashing: returns (email, domain id)."""
    address = parse_address(value)
    email = str(address)
    domain = hosted_domain(db, address)
    if guide.find_user(db, email) is not None:
        raise AlreadyExists(f"user {email} exists already")
    row = policy.domain_policy(db, domain.id)
    limits.check_room(db, domain, "virtual_users", row=row)
    limits.check_quota(db, domain.id, None, email, row=row)  # the default must fit max-quota
    if not force:
        problem = mailbox_problem(email, alias_destinations(db, email), offer_force=True)
        if problem:
            raise Conflict(problem)
    return email, domain.id


def add_user(tx: Tx, value: str, password_hash: str, *, force: bool = False) -> User:
    email, domain_id = check_new_user(tx.db, value, force=force)
    user = guide.insert_user(tx.db, domain_id, email, password_hash)
    record_created(tx, email, password_hash)
    domain = email.rpartition("@")[2]
    if alias_destinations(tx.db, "@" + domain):
        tx.warn(catchall_mailbox_warning(domain, email))
    _warn_kept_maildir(tx, email)
    return user


def _warn_kept_maildir(tx: Tx, email: str) -> None:
    """A maildir kept from a deleted mailbox of the same name hands its old mail to
    the new one: mailctl keeps it (deleting mail needs --purge-maildir), but says so."""
    from mailctl.system.maildirs import maildir_path

    if not tx.settings.vmail.create_maildirs:
        return
    path = maildir_path(tx.settings.vmail, email)
    if path.is_dir():
        tx.warn(
            f"maildir {path} exists already (kept from a deleted mailbox?): the mail in it"
            f" now belongs to {email}"
        )


def record_created(tx: Tx, email: str, password_hash: str) -> None:
    """A new mailbox: its change record and its maildir (single rows and imports alike)."""
    scheme = stored_scheme(tx.settings, password_hash)
    tx.record("insert", "virtual_users", email, f"password {scheme}")
    tx.maildirs_to_create.append(email)


def record_password(tx: Tx, email: str, old_hash: str, new_hash: str) -> None:
    old, new = stored_scheme(tx.settings, old_hash), stored_scheme(tx.settings, new_hash)
    tx.record("update", "virtual_users", email, f"password {old} -> {new}")


def set_password(tx: Tx, value: str, password_hash: str) -> User:
    user = get_user(tx.db, value)
    old = user.password
    guide.set_password(tx.db, user.id, password_hash)
    user.password = password_hash
    record_password(tx, user.email, old, password_hash)
    return user


def delete_user(tx: Tx, value: str, *, purge_maildir: bool = False) -> list[AliasInfo]:
    """Delete a mailbox (`purge_maildir`: and its maildir, after the commit);
    returns the aliases that still point to it."""
    user = get_user(tx.db, value)
    pointing = aliases_pointing_to(tx.db, user.email)
    warn_still_pointing(tx, pointing, f"still point to {user.email}")
    guide.delete_user(tx.db, user)  # its policy and send-as grants go with it (CASCADE)
    policy.forget_login(tx.db, user.email)
    tx.record("delete", "virtual_users", user.email)
    if user.email in alias_destinations(tx.db, user.email):
        # A forward with a local copy keeps the mailbox among its destinations;
        # without the mailbox that copy would bounce, so drop it from the alias.
        delete_alias(tx, user.email, [user.email])
    if purge_maildir:
        tx.maildirs_to_remove.append(user.email)
    return pointing


def stored_scheme(settings: Settings, stored: str) -> str:
    """The scheme of a stored hash, read as Dovecot reads it with this configuration."""
    return scheme_label(stored, settings.passwords.default_scheme)
