"""`mailctl host ...`: the mail hosts on this database, as their syncs recorded them."""

from __future__ import annotations

import click

from mailctl.cli.app import App, app, emit_rows, mutating, output_format, pass_app
from mailctl.cli.commandtypes import Group
from mailctl.cli.complete import complete_hosts

COLUMNS = ("name", "roles", "last_sync", "ago", "stale", "version", "files")
DETAIL = ("age_seconds", "digest")  # in json and csv only: for scripts, not for eyes


@click.group(cls=Group)
def host() -> None:
    """Mail hosts on this database and when each last synced."""


@host.command("list")
@output_format
def list_(fmt: str | None) -> None:
    """List every host: roles, last sync, version, files in sync.

    Each host's `mailctl sync` records itself in mailctl_hosts: its roles
    (host.roles), the time of its last successful sync (the database's clock)
    and how long ago that was, its mailctl version, and whether its files were
    then what the database implies. A host is stale when its last sync is
    older than host.sync_stale_after seconds."""
    from datetime import UTC, datetime

    from mailctl.services import hosts

    a = app()
    with a.reading() as db:
        found = hosts.list_hosts(db, a.settings)
    rows = [
        {
            "name": h.name,
            "roles": list(h.roles) if fmt == "json" else hosts.roles_text(h.roles),
            "last_sync": datetime.fromtimestamp(h.synced_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "ago": hosts.ago(h.age),
            "stale": h.stale,
            "version": h.version,
            "files": h.files,
            "age_seconds": h.age,
            "digest": h.digest,
        }
        for h in found
    ]
    emit_rows(rows, COLUMNS + DETAIL if fmt in ("json", "csv") else COLUMNS, fmt)


@host.command("del")
@click.argument("name", shell_complete=complete_hosts)
@mutating
@pass_app
def delete(a: App, name: str) -> None:
    """Forget a host that was removed (asks first). Its row comes back if it syncs again."""
    from mailctl.services import hosts

    with a.reading() as db:
        found = hosts.get_host(db, name)
    a.confirm(f"Forget host {found}?")
    a.change(lambda tx: hosts.forget(tx, found))
    if not a.dry_run:
        a.note(f"forgot host {found}")
