"""`mailctl report ...`: quota usage and inactive mailboxes."""

from __future__ import annotations

import click

from mailctl.cli.app import App, WholeNumber, emit_rows, output_format, pass_app
from mailctl.cli.commandtypes import Group
from mailctl.cli.complete import complete_domains


@click.group(cls=Group)
def report() -> None:
    """Reports over every mailbox, from what Dovecot records (usage, last login)."""


@report.command("usage")
@click.argument("domain", required=False, shell_complete=complete_domains)
@output_format
@pass_app
def usage(a: App, domain: str | None, fmt: str | None) -> None:
    """Mailboxes by % of quota used, highest first, then a total per domain."""
    from mailctl.cli.commands.user import mailbox_rows
    from mailctl.model.sizes import format_size
    from mailctl.services import domains, reports

    with a.reading() as db:
        name = domains.get_domain(db, domain).name if domain else None
        boxes, totals = reports.usage(db, name)
    columns = ("email", "quota", "used", "used_pct", "status")
    rows = mailbox_rows(boxes, a.settings.passwords.default_scheme)
    rows += [
        {
            "email": f"total @{name}",
            "quota": format_size(quota) if quota else "unlimited",
            "used": format_size(used),
            "used_pct": f"{100.0 * used / quota:.1f}" if quota else "",
            "status": "",
        }
        for name, (used, quota) in totals.items()
    ]
    emit_rows(rows, columns, fmt)


@report.command("inactive")
@click.option(
    "--days", type=WholeNumber(0, 36500), required=True, help="No login for this many days."
)
@output_format
@pass_app
def inactive(a: App, days: int, fmt: str | None) -> None:
    """Mailboxes with no login in DAYS days (since the start of that day, UTC; 0: not
    today), or never, the longest idle first."""
    from mailctl.cli.commands.user import mailbox_rows
    from mailctl.services import reports

    with a.reading() as db:
        boxes = reports.inactive(db, days)
    rows = mailbox_rows(boxes, a.settings.passwords.default_scheme)
    emit_rows(rows, ("email", "last_login", "status"), fmt)
