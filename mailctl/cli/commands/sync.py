"""`mailctl sync`: render every managed file from the database."""

from __future__ import annotations

from contextlib import nullcontext

import click

from mailctl.cli.app import app, mutating


@click.command()
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if any file would change.")
@click.option("--diff", is_flag=True, help="Show unified diffs of what changes.")
@click.option(
    "--adopt", is_flag=True, help="Move entries that duplicate managed ones into the managed block."
)
@mutating
def sync(check: bool, diff: bool, adopt: bool) -> None:
    """Render KeyTable, SigningTable, SNI map, HELO checks and Dovecot SNI from the database.

    Writes only the files that changed (atomically), then runs postmap, the
    configured checks and the reloads for just those files. Running it twice
    changes nothing the second time.
    """
    from mailctl.core import audit
    from mailctl.errors import MailctlError
    from mailctl.serverfiles import managed

    a = app()
    settings = a.settings
    dry = a.dry_run or check
    with nullcontext() if dry else a.lock():
        with a.reading() as session:
            plan = managed.plan(session, settings, adopt=adopt)
        a.show_plan_warnings(plan)
        for status in plan.pending_tls:
            a.note(f"{status.domain}: {status.reason}")
        if not plan.changed:
            a.note("all managed files are in sync")
            return
        if dry:
            a.show_plan(plan, diffs=diff or a.dry_run)
            if check:
                raise MailctlError(
                    f"{len(plan.changed)} managed file(s) out of sync: "
                    + ", ".join(str(r.spec.path) for r in plan.changed)
                )
            return
        if diff:
            for rendered in plan.changed:
                click.echo(rendered.diff(), nl=False)
        applied = managed.apply(plan, settings)
        for message in applied.notes:
            a.note(message)
        written = [str(r.spec.path) for r in applied.written]
        try:
            applied.reload()
        except MailctlError as exc:
            audit.append_for(settings, changes=written, result=f"error: {exc}")
            raise MailctlError(f"files are written, but {exc}") from None
        audit.append_for(settings, changes=written, result="ok")
        for path in written:
            a.note(f"updated {path}")
