"""`mailctl sync`: make every managed file, and every key file, what the database implies."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from mailctl.errors import MailctlError, SavedButIncomplete
from mailctl.services.unit import Work
from mailctl.store.connection import Db

if TYPE_CHECKING:
    from pathlib import Path

    from mailctl.dkim.paths import NewKey
    from mailctl.serverfiles.managed import Plan


def sync(
    work: Work,
    reading: Callable[[], AbstractContextManager[Db]],
    *,
    check: bool = False,
    diff: bool = False,
    adopt: bool = False,
) -> list[str]:
    """Render, write what changed (key files from the database included),
    postmap/check/reload for just that; then, on an imap host, make the maildirs
    that are missing, and record this host's sync in mailctl_hosts. Returns what
    was written. `check` changes nothing and fails if anything would change."""
    from mailctl.serverfiles import managed
    from mailctl.services import hosts

    audited, plan = _converge(work, reading, check=check, diff=diff, adopt=adopt)
    if check:
        return audited
    with reading() as db:
        if work.dry_run:
            for email in hosts.missing_maildirs(db, work.settings):
                work.out.echo(f"would create maildir for {email}")
            return audited
        if audited:  # after the writes: what `sync --check` would answer now
            plan = managed.plan(db, work.settings)
        files, rendered = hosts.differences(plan), hosts.digest(plan)
        tx = work.run(db, lambda tx: hosts.record_sync(tx, files, rendered))
    created = [c.key for c in tx.changes if c.table == "maildir"]
    for path in created:
        work.out.note(f"created maildir {path}")
    return audited + [f"created maildir {path}" for path in created]


def _converge(
    work: Work,
    reading: Callable[[], AbstractContextManager[Db]],
    *,
    check: bool,
    diff: bool,
    adopt: bool,
) -> tuple[list[str], Plan]:
    """The managed files and key files: written where they differ. Returns what was
    written and the plan it acted on."""
    from mailctl.serverfiles import managed
    from mailctl.services.dkim import archive_left_key_files, complete_key_files

    out = work.out
    # --check only reads: no lock, no audit line.
    audited: list[str] = []
    with nullcontext(audited) if check else work.locked() as audited:
        with reading() as db:
            plan = managed.plan(db, work.settings, adopt=adopt)
            if not (check or work.dry_run):
                restoring = [(k.domain, k.selector) for k in plan.keys]
                for txt in complete_key_files(db, work.settings, skip=restoring):
                    audited.append(f"wrote {txt}")
                    out.note(f"wrote {txt}: the key had no record file, or another key's")
                for moved in archive_left_key_files(db, work.settings):
                    audited.append(f"archived {moved}")
                    out.note(f"archived {moved}: the key was retired")
        work.show_plan_warnings(plan)
        for status in plan.pending_tls:
            out.note(f"{status.domain}: {status.reason}")
        if not (plan.outdated or plan.keys):
            out.note("all managed files are in sync")
            return [], plan
        if check or work.dry_run:
            _show_keys(work, plan.keys)
            work.show_plan(plan, diffs=diff or work.dry_run)
            if check:
                paths = [str(_key_path(work, k)) for k in plan.keys]
                paths += [str(r.spec.path) for r in plan.outdated]
                raise MailctlError(f"{len(paths)} managed file(s) out of sync: " + ", ".join(paths))
            return [], plan
        if diff:
            for rendered in plan.changed:
                out.echo(rendered.diff(), nl=False)
        applied = managed.apply(plan, work.settings)
        for message in applied.notes:
            out.note(message)
        audited.extend(
            f"wrote {_key_path(work, k)} from the database ({k.restore})" for k in applied.restored
        )
        audited.extend(
            f"removed {r.spec.path}" if r.new is None else str(r.spec.path) for r in applied.written
        )
        audited.extend(f"rebuilt {r.spec.path}: {r.stale}" for r in applied.refreshed)
        try:
            applied.reload()
        except MailctlError as exc:
            raise SavedButIncomplete(f"files are written, but {exc}") from None
    for line in audited:
        if line.startswith(("wrote ", "archived ")) and "from the database" not in line:
            continue  # noted when it happened
        out.note(line if line.startswith(("rebuilt ", "wrote ", "removed ")) else f"updated {line}")
    return audited, plan


def _key_path(work: Work, key: NewKey) -> Path:
    from mailctl.services.dkim import key_file

    return key_file(work.settings, key.domain, key.selector)


def _show_keys(work: Work, keys: tuple[NewKey, ...]) -> None:
    """What --check and --dry-run say of the key files the database would write."""
    for key in keys:
        work.out.echo(f"would write {_key_path(work, key)} (0600) from the database: {key.restore}")
