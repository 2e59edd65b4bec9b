"""`mailctl sender ...`: send-as grants."""

from __future__ import annotations

import click

from mailctl.cli.app import App, emit_rows, mutating, output_format, pass_app
from mailctl.cli.commandtypes import Group
from mailctl.cli.complete import complete_users


@click.group(cls=Group)
def sender() -> None:
    """Send-as: the addresses (or @domains) a login may send as beyond its own."""


@sender.command("allow")
@click.argument("login", shell_complete=complete_users)
@click.argument("address", metavar="ADDRESS|@DOMAIN")
@mutating
@pass_app
def allow(a: App, login: str, address: str) -> None:
    """Let LOGIN send as ADDRESS, or as every address of @DOMAIN."""
    from mailctl.services import senders

    who, target = a.change(lambda tx: senders.allow(tx, login, address))
    if not a.dry_run:
        a.note(f"{who} may send as {target}")


@sender.command("deny")
@click.argument("login", shell_complete=complete_users)
@click.argument("address", metavar="ADDRESS|@DOMAIN")
@mutating
@pass_app
def deny(a: App, login: str, address: str) -> None:
    """Withdraw a grant (a login always keeps its own address)."""
    from mailctl.services import senders

    who, target = a.change(lambda tx: senders.deny(tx, login, address))
    if not a.dry_run:
        a.note(f"{who} may no longer send as {target}")


@sender.command("list")
@click.argument("login", required=False, shell_complete=complete_users)
@output_format
@pass_app
def list_(a: App, login: str | None, fmt: str | None) -> None:
    """List grants, of every login or of one."""
    from mailctl.services import senders

    with a.reading() as db:
        rows = [{"login": who, "may_send_as": target} for who, target in senders.listing(db, login)]
    emit_rows(rows, ("login", "may_send_as"), fmt)
