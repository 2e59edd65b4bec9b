"""`mailctl sync`: render every managed file from the database."""

from __future__ import annotations

import click

from mailctl.cli.app import App, mutating, pass_app
from mailctl.cli.commandtypes import Command


@click.command(cls=Command)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if any file would change.")
@click.option("--diff", is_flag=True, help="Show unified diffs of what changes.")
@click.option(
    "--adopt", is_flag=True, help="Move entries that duplicate managed ones into the managed block."
)
@mutating
@pass_app
def sync(a: App, check: bool, diff: bool, adopt: bool) -> None:
    """Render KeyTable, SigningTable, SNI map, HELO checks and Dovecot SNI from the database.

    Writes only the files that changed (atomically), then runs postmap, the
    configured checks and the reloads for just those files. DKIM key files
    come from the database too: one that is missing on this host or differs
    from the stored key is written (0600) and its signer reloaded. Running it
    twice changes nothing the second time.

    With web.root set, also each domain's MTA-STS policy, autoconfig and
    autodiscover files there (0644), and removes those of domains no longer
    hosted.
    """
    from mailctl.services.sync import sync as run_sync

    run_sync(a.work(), a.reading, check=check, diff=diff, adopt=adopt)
