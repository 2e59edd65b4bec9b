"""`mailctl sync`: render every managed file from the database."""

from __future__ import annotations

import click

from mailctl.cli.app import App, mutating, pass_app


@click.command()
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
    configured checks and the reloads for just those files. Running it twice
    changes nothing the second time.
    """
    from mailctl.services.sync import sync as run_sync

    run_sync(a.work(), a.reading, check=check, diff=diff, adopt=adopt)
