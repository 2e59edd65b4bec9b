"""The operations on domains, users and aliases.

Services take a `Tx` (the store's connection + settings + what changed) and return plain
data; they know nothing of click or output. Every row they insert, update or
delete is recorded as a `Change`, which is what `--dry-run` shows and what the
audit log and the managed-file step read after commit.
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING

from mailctl.core.config import Settings
from mailctl.model.datarecord import datarecord

if TYPE_CHECKING:  # cryptography loads only for commands that make keys
    from mailctl.dkim.paths import NewKey
    from mailctl.store.connection import Db


@datarecord(frozen=True)
class Change:
    """One row inserted, updated or deleted, as --dry-run and the audit log show it."""

    action: str  # "insert" | "update" | "delete"
    table: str
    key: str  # the natural key: domain name, email or alias source
    detail: str = ""

    def describe(self) -> str:
        verb = {"insert": "INSERT INTO", "update": "UPDATE", "delete": "DELETE FROM"}[self.action]
        text = f"{verb} {self.table}: {self.key}"
        return f"{text} ({self.detail})" if self.detail else text


@datarecord
class Tx:
    """One command's changes: the connection, the settings, and the effects to carry out."""

    db: Db
    settings: Settings
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # File effects the services ask for; the unit of work (services.unit) carries them out.
    new_keys: list[NewKey] = field(default_factory=list)
    files_dirty: bool = False  # domains or keys changed: re-render the managed files
    maildirs_to_create: list[str] = field(default_factory=list)  # addresses
    maildirs_to_remove: list[str] = field(default_factory=list)
    domain_trees_to_remove: list[str] = field(default_factory=list)
    key_dirs_to_remove: list[str] = field(default_factory=list)
    keys_to_archive: list[tuple[str, str]] = field(default_factory=list)  # (domain, selector)
    logins_to_kick: list[str] = field(default_factory=list)  # a login, or *@domain

    def record(self, action: str, table: str, key: str, detail: str = "") -> None:
        self.changes.append(Change(action, table, key, detail))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def described(self) -> list[str]:
        """The changes as the audit log and --verbose show them."""
        return [change.describe() for change in self.changes]
