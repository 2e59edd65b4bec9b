"""`mailctl db ...`: schema migrations and status."""

from __future__ import annotations

import click

from mailctl.cli.app import App, emit_record, mutating, output_format, pass_app
from mailctl.cli.commandtypes import Group


@click.group(cls=Group)
def db() -> None:
    """Database schema: migrate, adopt, inspect."""


@db.command("upgrade")
@mutating
@pass_app
def upgrade(a: App) -> None:
    """Migrate to the newest schema; adopt a database made with the guide's SQL.

    Also takes the DKIM key files of keys the database has no private key for yet
    (a database from before mailctl kept keys in it) into the database, leaving
    the files as they are; a key whose file is missing is reported.
    """
    from mailctl.core import db as database

    engine = a.engine(check_schema=False, create=not a.dry_run)
    status = database.schema_status(engine)
    if a.dry_run:
        if status.current is None and status.guide_tables:
            database.check_adoptable(status)  # what the real run would refuse, refused
        start = database.ADOPTED_REVISION if status.adoptable else status.current
        if status.adoptable:
            a.note(f"dry run: would adopt the guide's tables and stamp {start}", force=True)
        a.note(
            f"dry run: would upgrade from {start or 'empty'} to {status.head}"
            if start != status.head
            else f"dry run: already at {status.head}",
            force=True,
        )
        if start is not None and (start != status.head or _unstored_keys(a)):
            a.note(
                "dry run: would then take the key files of DKIM keys the database has no"
                " private key for into it (files unchanged)",
                force=True,
            )
        return
    from mailctl.dkim import stored

    with a.work().locked() as audited:
        before, adopted = database.upgrade(engine)
        if before.current != before.head or adopted:
            audited.append(f"schema {before.current or 'empty'} -> {before.head}")
        # Key files of a database from before 0004 move in; again on each run until
        # every key is in (another host may hold the files this one lacks).
        with a.reading() as db:
            imported = stored.import_key_files(db, a.settings.dkim.key_dir)
        audited.extend(f"took {path} into mailctl_dkim_secrets" for path in imported.taken)
    start = database.ADOPTED_REVISION if adopted else before.current
    if adopted:
        a.note(
            "adopted the existing guide tables (rows untouched);"
            f" stamped revision {database.ADOPTED_REVISION}"
        )
    if start != before.head:
        a.note(f"upgraded schema from {start or 'empty'} to {before.head}")
    else:
        a.note(f"schema already at {before.head}")
    if taken := stored.describe(imported):
        a.note(taken)
    for problem in imported.problems:
        a.warn(problem)


def _unstored_keys(a: App) -> int:
    """How many published keys the (current) database has no private key for."""
    from mailctl.model.dkimstates import PUBLISHED
    from mailctl.store.dkimkeys import stored_keys

    with a.reading() as db:
        return len(stored_keys(db, PUBLISHED, unstored=True))


@db.command("status")
@output_format
@pass_app
def status(a: App, fmt: str | None) -> None:
    """Show the backend, the schema revision and what is pending."""
    from mailctl.core import db as database
    from mailctl.store.url import masked

    state = database.schema_status(a.engine(check_schema=False))
    emit_record(
        {
            "backend": state.backend,
            "url": masked(a.settings.database.url),
            "revision": state.current or "none",
            "head": state.head,
            "pending": state.pending,
            "guide_tables": list(state.guide_tables),
            "adoptable": state.adoptable,
        },
        fmt,
    )
