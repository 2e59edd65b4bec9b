"""`mailctl sync`: make every managed file what the database implies."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from mailctl.errors import MailctlError, SavedButIncomplete
from mailctl.services.unit import Work
from mailctl.store.connection import Db


def sync(
    work: Work,
    reading: Callable[[], AbstractContextManager[Db]],
    *,
    check: bool = False,
    diff: bool = False,
    adopt: bool = False,
) -> list[str]:
    """Render, write what changed, postmap/check/reload for just that; return the
    paths written. `check` changes nothing and fails if anything would change."""
    from mailctl.serverfiles import managed
    from mailctl.services.dkim import complete_key_files

    out = work.out
    # --check only reads: no lock, no audit line.
    audited: list[str] = []
    with nullcontext(audited) if check else work.locked() as audited:
        with reading() as db:
            plan = managed.plan(db, work.settings, adopt=adopt)
            if not (check or work.dry_run):
                for txt in complete_key_files(db, work.settings):
                    audited.append(f"wrote {txt}")
                    out.note(f"wrote {txt}: the key had no record file, or another key's")
        work.show_plan_warnings(plan)
        for status in plan.pending_tls:
            out.note(f"{status.domain}: {status.reason}")
        if not plan.outdated:
            out.note("all managed files are in sync")
            return []
        if check or work.dry_run:
            work.show_plan(plan, diffs=diff or work.dry_run)
            if check:
                raise MailctlError(
                    f"{len(plan.outdated)} managed file(s) out of sync: "
                    + ", ".join(str(r.spec.path) for r in plan.outdated)
                )
            return []
        if diff:
            for rendered in plan.changed:
                out.echo(rendered.diff(), nl=False)
        applied = managed.apply(plan, work.settings)
        for message in applied.notes:
            out.note(message)
        audited.extend(str(r.spec.path) for r in applied.written)
        audited.extend(f"rebuilt {r.spec.path}: {r.stale}" for r in applied.refreshed)
        try:
            applied.reload()
        except MailctlError as exc:
            raise SavedButIncomplete(f"files are written, but {exc}") from None
    for line in audited:
        if not line.startswith("wrote "):
            out.note(line if line.startswith("rebuilt ") else f"updated {line}")
    return audited
