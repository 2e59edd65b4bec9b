"""The unit of work: what every mutating command runs in, the same way.

`Work.locked()` is the lock and the audit line around any mutating step (sync,
setup, db upgrade, init). `Work.run(db, change)` adds the database transaction
and its effects, in this order: the rows `change(tx)` writes, then the managed
files rendered from them (written, postmap'd and checked; undone if anything
fails), the commit, then what must wait for the commit (maildirs, key archive,
reloads). Under --dry-run everything is shown and nothing is written, locked or
audited.

The change is a function of the Tx so that it can run again: when the database
refuses the transaction for a reason that passes (a Galera certification
conflict, a deadlock, a lock wait timeout, a node not ready, a connection lost
before COMMIT: store.retry), the rows are rolled back, the files put back as
they were, and the whole change runs again from the start, after a short random
wait, on a new connection where the old one broke.

Output goes through `Output`, so the services print nothing themselves and
the CLI decides how notes, warnings and diffs look.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from mailctl.core import audit
from mailctl.core.config import Settings
from mailctl.errors import MailctlError, SavedButIncomplete
from mailctl.model.datarecord import datarecord
from mailctl.services import Tx

if TYPE_CHECKING:
    from mailctl.serverfiles.managed import Applied, Plan
    from mailctl.store.connection import Db


R = TypeVar("R")


class Output(Protocol):
    def note(self, message: str, *, force: bool = False) -> None: ...
    def warn(self, message: str) -> None: ...
    def echo(self, text: str, *, nl: bool = True) -> None: ...


@datarecord
class Work:
    """How one command changes things: lock, audit, transaction, files, effects."""

    settings: Settings
    out: Output
    dry_run: bool = False
    verbose: bool = False

    # ------------------------------------------------------------ any mutating step

    @contextmanager
    def locked(self) -> Iterator[list[str]]:
        """Hold the lock and write one audit line for the block. The block appends
        what it changed (names and paths, never secrets) to the yielded list; an
        exception is audited as the result (the line names the command either way)."""
        changes: list[str] = []
        if self.dry_run:
            yield changes
            return
        from mailctl.system.files import exclusive_lock

        lock = self.settings.lock
        try:
            with exclusive_lock(Path(lock.path), timeout=lock.timeout):
                yield changes
        except Exception as exc:
            self._audit(changes, f"error: {exc}")
            raise
        if changes:
            self._audit(changes, "ok")

    def _audit(self, changes: list[str], result: str) -> None:
        audit.append(Path(self.settings.audit.log), changes=changes, result=result)

    # ------------------------------------------------------------ database changes

    def run(self, db: Db, change: Callable[[Tx], R]) -> R:
        """`change(tx)` in one transaction: rows, managed files, commit, then maildirs,
        keys and reloads; run again from the start (rows and files) while the database
        refuses it for a reason that passes, up to store.retry.ATTEMPTS times."""
        from mailctl.store import retry

        with self.locked() as audited:
            attempt = 1
            while True:
                try:
                    with self._attempt(db, audited) as tx:
                        result = change(tx)
                    return result
                except (retry.WriteConflict, retry.ConnectionLost) as exc:
                    if attempt >= retry.ATTEMPTS:
                        raise retry.exhausted(exc, attempt) from None
                    wait = retry.delay(attempt)
                    self.out.note(
                        f"the database refused the change ({exc.reason}); running it again"
                        f" in {wait:.2f} s (attempt {attempt + 1} of {retry.ATTEMPTS})"
                    )
                    import time

                    time.sleep(wait)
                    if exc.needs_new_connection:
                        db.reconnect()  # to the first node that answers, with failover
                    attempt += 1

    @contextmanager
    def _attempt(self, db: Db, audited: list[str]) -> Iterator[Tx]:
        """One try: the change runs in the block; files written before the commit are
        put back if anything fails."""
        tx: Tx | None = None
        applied = None
        try:
            with db.transaction(dry_run=self.dry_run):
                tx = Tx(db, self.settings)
                yield tx
                self._check_effects(tx)
                applied = self._files(tx)
        except BaseException:
            if applied is not None:
                applied.undo()
            if tx is not None:
                audited[:] = tx.described()
            raise
        self._report(tx)
        if self.dry_run:
            return
        try:
            self._after_commit(tx, applied)
        finally:
            audited[:] = tx.described()

    def _check_effects(self, tx: Tx) -> None:
        """What can be checked of the after-commit steps is checked before the commit:
        a removal the commit would make but the file system would refuse fails here."""
        if not (tx.maildirs_to_remove or tx.domain_trees_to_remove or tx.key_dirs_to_remove
                or tx.keys_to_archive):
            return  # before the imports: most changes remove nothing
        from mailctl.services.dkim import archive_folder, purge_key_dir
        from mailctl.system import maildirs

        vmail = tx.settings.vmail
        if (tx.maildirs_to_remove or tx.domain_trees_to_remove) and not _has_maildirs(tx):
            raise MailctlError(
                "this host keeps no maildirs (host.roles has no imap), so it cannot delete"
                " them: run the command on an imap host; nothing was changed"
            )
        for email in tx.maildirs_to_remove:
            maildirs.remove(vmail, email, check_only=True)
        for domain in tx.domain_trees_to_remove:
            maildirs.remove_domain(vmail, domain, check_only=True)
        for domain in tx.key_dirs_to_remove:
            purge_key_dir(tx.settings, domain, check_only=True)
        for domain, _selector in tx.keys_to_archive:
            archive_folder(tx.settings, domain)

    def _files(self, tx: Tx) -> Applied | None:
        """Render and (unless dry run) write the managed files for this change."""
        if not (tx.files_dirty or tx.new_keys):
            return None  # before the imports: most changes touch no managed file
        from mailctl.serverfiles import managed
        from mailctl.services.dkim import key_file

        plan = managed.plan(tx.db, tx.settings)
        self.show_plan_warnings(plan)
        if self.dry_run:
            for key in tx.new_keys:
                path = key_file(tx.settings, key.domain, key.selector)
                self.out.echo(f"would create DKIM key {path} (0600) and {path.with_suffix('.txt')}")
            self.show_plan(plan, diffs=True)
            return None
        applied = managed.apply(plan, tx.settings, new_keys=tx.new_keys)
        for message in applied.notes:
            self.out.note(message)
        for rendered in applied.written:
            tx.record("update", "file", str(rendered.spec.path))
        for key in applied.restored:  # this host's copy of a key, put right on the way
            path = key_file(tx.settings, key.domain, key.selector)
            tx.record("update", "dkim key", str(path), f"from the database: {key.restore}")
        return applied

    def _report(self, tx: Tx) -> None:
        for message in tx.warnings:
            self.out.warn(message)
        if self.dry_run:
            self.out.note("dry run: nothing was written; the changes would be:", force=True)
            lines = [change.describe() for change in tx.changes]
            if tx.settings.vmail.create_maildirs and _has_maildirs(tx):
                lines += [f"create maildir for {email}" for email in tx.maildirs_to_create]
            lines += [f"delete maildir of {email}" for email in tx.maildirs_to_remove]
            lines += [f"delete maildirs of {domain}" for domain in tx.domain_trees_to_remove]
            lines += [f"delete DKIM keys of {domain}" for domain in tx.key_dirs_to_remove]
            if tx.settings.commands.kick:
                lines += [f"end the sessions of {login}" for login in tx.logins_to_kick]
            for line in lines if tx.changes else ["(none)"]:
                self.out.echo(f"  {line}")
        elif self.verbose:
            for change in tx.changes:
                self.out.note(change.describe())

    def _after_commit(self, tx: Tx, applied: Applied | None) -> None:
        """Effects that must wait for the commit: maildirs, key files and reloads.
        A failure here cannot undo the commit: it is reported as such (exit 3)."""
        try:
            self._effects(tx, applied)
        except MailctlError as exc:
            raise SavedButIncomplete(f"changes are saved, but {exc}") from None

    def _effects(self, tx: Tx, applied: Applied | None) -> None:
        from mailctl.system import maildirs

        settings = tx.settings
        if settings.vmail.create_maildirs and tx.maildirs_to_create and not _has_maildirs(tx):
            self.out.note(
                "no maildir is made on this host (host.roles has no imap): the next"
                " `mailctl sync` on each imap host makes it"
            )
        elif settings.vmail.create_maildirs:
            for email in tx.maildirs_to_create:
                if (path := maildirs.create(settings.vmail, email)) is not None:
                    tx.record("insert", "maildir", str(path))
        for email in tx.maildirs_to_remove:
            if (path := maildirs.remove(settings.vmail, email)) is not None:
                tx.record("delete", "maildir", str(path))
        for domain in tx.domain_trees_to_remove:
            if (path := maildirs.remove_domain(settings.vmail, domain)) is not None:
                tx.record("delete", "maildir", str(path))
        if tx.key_dirs_to_remove or tx.keys_to_archive:
            self._key_effects(tx)
        if applied is not None:
            applied.reload()
        for login in tx.logins_to_kick:
            if kicked := kick(settings, login):
                tx.record("update", "sessions", login, f"ended ({kicked})")

    def _key_effects(self, tx: Tx) -> None:
        from mailctl.model.dkimstates import DkimState
        from mailctl.services.dkim import archive_key_files, purge_key_dir

        for domain in tx.key_dirs_to_remove:
            if (path := purge_key_dir(tx.settings, domain)) is not None:
                tx.record("delete", "dkim keys", str(path))
        for domain, selector in tx.keys_to_archive:
            if (path := archive_key_files(tx.settings, domain, selector)) is not None:
                tx.record("update", "dkim key", str(path), DkimState.ARCHIVED)

    # ------------------------------------------------------------ showing a plan

    def show_plan(self, plan: Plan, *, diffs: bool) -> None:
        """What would change, and the very commands `apply` and `reload` would run."""
        from mailctl.system.process import describe

        for rendered in plan.outdated:
            if not rendered.changed:
                self.out.echo(f"would rebuild {rendered.spec.path}: {rendered.stale}")
            elif diffs:
                self.out.echo(rendered.diff(), nl=False)
            else:
                self.out.echo(f"would change {rendered.spec.path}")
        for argv in plan.followups(self.settings):
            self.out.echo(f"would run: {describe(argv)}")

    def show_plan_warnings(self, plan: Plan) -> None:
        for note in plan.notes:
            self.out.note(note)
        for rendered in plan.files:
            for line in rendered.duplicates:
                self.out.warn(
                    f"{rendered.spec.path}: {line.strip()!r} outside the managed block duplicates"
                    " a managed entry; 'mailctl sync --adopt' moves it into the block"
                )


def _has_maildirs(tx: Tx) -> bool:
    """Maildirs live on the hosts that serve mailboxes (host.roles has imap) only."""
    return "imap" in tx.settings.host.roles


# `doveadm kick` exits EX_NOUSER ("no users kicked") when the login has no session:
# the usual case, and what a suspension wants.
KICK_NO_SESSIONS = 68


def kick(settings: Settings, login: str) -> str:
    """End the IMAP/POP3 sessions of a login (or *@domain) with commands.kick; the
    command as run, or "" when it is off or there was no session to end."""
    from mailctl.system.process import describe, run

    if not settings.commands.kick:
        return ""
    argv = [*settings.commands.kick, login]
    ran = run(argv, timeout=30, ok=(0, KICK_NO_SESSIONS))
    return "" if ran.returncode == KICK_NO_SESSIONS else describe(argv)
