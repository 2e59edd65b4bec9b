"""`mailctl alias ...`"""

from __future__ import annotations

import click

from mailctl.cli.app import App, app, emit_rows, mutating, output_format, pass_app
from mailctl.cli.commandtypes import Group
from mailctl.cli.complete import complete_addresses, complete_aliases, complete_domains


@click.group(cls=Group)
def alias() -> None:
    """Aliases, catch-alls (@domain) and alias domains (@a.tld -> @b.tld)."""


@alias.command("add")
@click.argument("source", shell_complete=complete_aliases)
@click.argument(
    "destinations", nargs=-1, required=True, metavar="DEST...", shell_complete=complete_addresses
)
@click.option("--force", is_flag=True, help="Allow an alias that hides a mailbox.")
@mutating
@pass_app
def add(a: App, source: str, destinations: tuple[str, ...], force: bool) -> None:
    """Create an alias or add destinations to it (merged, never doubled)."""
    from mailctl.services import aliases

    result = a.change(lambda tx: aliases.add_alias(tx, source, list(destinations), force=force))
    if a.dry_run:
        return
    a.note(f"{result.source} -> {','.join(result.destinations)}")


@alias.command("del")
@click.argument("source", shell_complete=complete_aliases)
@click.argument("destinations", nargs=-1, metavar="[DEST...]", shell_complete=complete_addresses)
@mutating
@pass_app
def delete(a: App, source: str, destinations: tuple[str, ...]) -> None:
    """Remove an alias, or only the named destinations."""
    from mailctl.services import aliases

    result = a.change(lambda tx: aliases.delete_alias(tx, source, list(destinations) or None))
    if a.dry_run:
        return
    if result.deleted:
        a.note(f"deleted alias {result.source}")
    else:
        a.note(f"{result.source} -> {','.join(result.destinations)}")


@alias.command("list")
@click.argument("domain", required=False, shell_complete=complete_domains)
@output_format
def list_(domain: str | None, fmt: str | None) -> None:
    """List aliases with their destinations, optionally of one domain."""
    from mailctl.services import aliases, domains

    with app().reading() as db:
        name = domains.get_domain(db, domain).name if domain else None
        rows = [
            {"source": a.source, "destinations": list(a.destinations)}
            for a in aliases.list_aliases(db, name)
        ]
    emit_rows(rows, ("source", "destinations"), fmt)
