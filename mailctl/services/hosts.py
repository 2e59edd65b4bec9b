"""Several mail hosts on one database: who they are, what they serve, when each last
converged (`mailctl host`, `sync`, `doctor --cluster`).

Each host's `sync` writes its own row of mailctl_hosts at the end of a successful
run: name (host.name), roles (host.roles), the database's time, mailctl's version,
and whether its files were then what the database implies. A host that stops
syncing keeps its old time, which `doctor --cluster` holds against
host.sync_stale_after.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mailctl.core.config import Settings
from mailctl.errors import NotFound
from mailctl.model.datarecord import datarecord
from mailctl.services import Tx
from mailctl.store import hosts as store
from mailctl.store.connection import Db

if TYPE_CHECKING:
    from mailctl.serverfiles.managed import Plan

IN_SYNC = "in sync"


def this_host(settings: Settings) -> str:
    """host.name, or else the machine's hostname."""
    if settings.host.name:
        return settings.host.name.lower()
    import socket

    return socket.gethostname().lower()


def serves_mailboxes(settings: Settings) -> bool:
    """Whether maildirs live here: only an imap host creates or removes them."""
    return "imap" in settings.host.roles


def missing_maildirs(db: Db, settings: Settings) -> list[str]:
    """The mailboxes whose maildir should be on this host and is not (none unless it
    serves mailboxes and vmail.create_maildirs is on)."""
    if not (serves_mailboxes(settings) and settings.vmail.create_maildirs):
        return []
    from mailctl.store.guide import emails
    from mailctl.system.maildirs import maildir_path

    return sorted(e for e in emails(db) if not maildir_path(settings.vmail, e).is_dir())


def differences(plan: Plan) -> str:
    """What `sync --check` would say of a plan: "" when every file is what the database
    implies, else the files (and key files) that differ."""
    paths = [f"{k.selector}._domainkey.{k.domain} key" for k in plan.keys]
    paths += [str(r.spec.path) for r in plan.outdated]
    return f"{len(paths)} file(s) differ: {', '.join(paths)}" if paths else ""


def digest(plan: Plan) -> str:
    """sha256 of every managed file as the plan renders it: hosts with the same roles
    and configuration show the same digest."""
    import hashlib

    sha = hashlib.sha256()
    for rendered in sorted(plan.files, key=lambda r: str(r.spec.path)):
        sha.update(f"{rendered.spec.path}\0{rendered.new or ''}\0".encode())
    return sha.hexdigest()


def record_sync(tx: Tx, files: str, rendered: str) -> Tx:
    """This host's row after a successful sync, and the maildirs it lacks (created
    after the commit by the unit of work). Runs again whole on a rerun: one row."""
    from mailctl import __version__

    settings = tx.settings
    store.save(tx.db, this_host(settings), tuple(settings.host.roles), __version__, files, rendered)
    tx.maildirs_to_create.extend(missing_maildirs(tx.db, settings))
    return tx


@datarecord(frozen=True)
class Host:
    """A host as `host list` shows it."""

    name: str
    roles: tuple[str, ...]
    synced_at: int
    age: int  # seconds since its last successful sync, by the database's clock
    version: str
    files: str  # IN_SYNC, or what differed
    digest: str
    stale: bool  # not synced within host.sync_stale_after


def list_hosts(db: Db, settings: Settings) -> list[Host]:
    now = store.now(db)
    limit = settings.host.sync_stale_after
    return [
        Host(
            row.name,
            row.roles,
            row.synced_at,
            max(0, now - row.synced_at),
            row.version,
            row.files or IN_SYNC,
            row.digest,
            now - row.synced_at > limit,
        )
        for row in store.hosts(db)
    ]


def get_host(db: Db, name: str) -> str:
    """The stored name of a host, or NotFound naming those there are."""
    from mailctl.core.checks import host_label
    from mailctl.errors import InvalidName

    problem = host_label(name) if name else "it is empty"
    if problem:
        raise InvalidName(f"invalid host name: {problem}")
    wanted = name.lower()
    names = [row.name for row in store.hosts(db)]
    if wanted in names:
        return wanted
    known = ", ".join(names) if names else "none: no host has synced yet"
    raise NotFound(f"no host {name!r} in mailctl_hosts (known: {known})")


def forget(tx: Tx, name: str) -> str:
    """Delete a removed host's row; it comes back if that host syncs again."""
    found = get_host(tx.db, name)
    store.delete(tx.db, found)
    tx.record("delete", "mailctl_hosts", found)
    return found


def ago(seconds: int) -> str:
    """A duration as people read it: 45 s, 12 min, 3 h, 2 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def roles_text(roles: Iterable[str]) -> str:
    return ",".join(roles) or "(none)"
