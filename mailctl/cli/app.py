"""What every command shares: the application context, the options that
mutating and listing commands take, output formatting and password input.

Only click is imported at module level; SQLAlchemy and friends load inside the
functions that need them, so `--help` and completion stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailctl.errors import Aborted, PasswordRejected, UsageError
from mailctl.model.dkimstates import DkimState

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from mailctl.core.config import Settings
    from mailctl.serverfiles import managed
    from mailctl.serverfiles.managed import Applied
    from mailctl.services import Tx

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "csv", "plain")


@dataclass
class App:
    """Per-invocation state, built from the global options."""

    config_path: str | None = None
    db_url: str | None = None
    dry_run: bool = False
    yes: bool = False
    verbosity: int = 0
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from mailctl.core.config import announce_sandbox, load_settings

            self._settings = load_settings(self.config_path, self.db_url)
            announce_sandbox(self._settings, quiet=self.verbosity < 0)
        return self._settings

    @property
    def url(self) -> str:
        from mailctl.core.config import database_url

        return database_url(self.settings)

    def engine(self, *, check_schema: bool = True) -> Engine:
        if self._engine is None:
            from mailctl.core import db

            self._engine = db.make_engine(self.url)
            if check_schema:
                db.require_current(self._engine, auto_upgrade=self.settings.sandbox_db)
        return self._engine

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session."""
        from sqlalchemy.orm import Session

        with Session(self.engine()) as session:
            yield session

    @contextmanager
    def changing(self) -> Iterator[Tx]:
        """A write transaction under the lock: database rows, then the managed files
        rendered from them, then the commit. Under --dry-run everything is shown
        and nothing is written."""
        from mailctl.core import audit, db
        from mailctl.services import Tx

        settings = self.settings
        engine = self.engine()
        tx: Tx | None = None
        try:
            with self.lock():
                applied = None
                try:
                    with db.transaction(engine, dry_run=self.dry_run) as session:
                        tx = Tx(session, settings)
                        yield tx
                        applied = self._files(tx)
                except BaseException:
                    if applied is not None:
                        applied.undo()
                    raise
                self._report(tx)
                if not self.dry_run:
                    self._after_commit(tx, applied)
        except Exception as exc:
            if not self.dry_run and tx is not None:
                audit.append(
                    Path(settings.audit.log), changes=_described(tx), result=f"error: {exc}"
                )
            raise
        if not self.dry_run and tx is not None and tx.changes:
            audit.append(Path(settings.audit.log), changes=_described(tx), result="ok")

    def lock(self) -> AbstractContextManager[None]:
        from mailctl.system.files import exclusive_lock

        if self.dry_run:
            return nullcontext()
        lock = self.settings.lock
        return exclusive_lock(Path(lock.path), timeout=lock.timeout)

    def _files(self, tx: Tx) -> Applied | None:
        """Render and (unless dry run) write the managed files for this change."""
        from mailctl.serverfiles import managed
        from mailctl.services.dkim import key_file

        if not (tx.files_dirty or tx.new_keys):
            return None
        plan = managed.plan(tx.session, tx.settings)
        self.show_plan_warnings(plan)
        if self.dry_run:
            for key in tx.new_keys:
                path = key_file(tx.settings, key.domain, key.selector)
                click.echo(f"would create DKIM key {path} (0600) and {path.with_suffix('.txt')}")
            self.show_plan(plan, diffs=True)
            return None
        applied = managed.apply(plan, tx.settings, new_keys=tx.new_keys)
        for message in applied.notes:
            self.note(message)
        for rendered in applied.written:
            tx.record("update", "file", str(rendered.spec.path))
        return applied

    def show_plan(self, plan: managed.Plan, *, diffs: bool) -> None:
        from mailctl.system.process import describe

        for rendered in plan.changed:
            if diffs:
                click.echo(rendered.diff(), nl=False)
            else:
                click.echo(f"would change {rendered.spec.path}")
        for argv in plan.followups(self.settings):
            click.echo(f"would run: {describe(argv)}")

    def show_plan_warnings(self, plan: managed.Plan) -> None:
        for note in plan.notes:
            self.note(note)
        for rendered in plan.files:
            for line in rendered.duplicates:
                self.warn(
                    f"{rendered.spec.path}: {line.strip()!r} outside the managed block duplicates"
                    " a managed entry; 'mailctl sync --adopt' moves it into the block"
                )

    def _report(self, tx: Tx) -> None:
        for message in tx.warnings:
            self.warn(message)
        if self.dry_run:
            self.note("dry run: nothing was written; the changes would be:", force=True)
            for change in tx.changes or []:
                click.echo(f"  {change.describe()}")
            for email in tx.maildirs_to_create if tx.settings.vmail.create_maildirs else []:
                click.echo(f"  create maildir for {email}")
            for email in tx.maildirs_to_remove:
                click.echo(f"  delete maildir of {email}")
            for domain in tx.domain_trees_to_remove:
                click.echo(f"  delete maildirs of {domain}")
            for domain in tx.key_dirs_to_remove:
                click.echo(f"  delete DKIM keys of {domain}")
            if not tx.changes:
                click.echo("  (none)")
        elif self.verbosity > 0:
            for change in tx.changes:
                self.note(change.describe())

    def _after_commit(self, tx: Tx, applied: Applied | None) -> None:
        """Effects that must wait for the commit: maildirs and service reloads."""
        from mailctl.errors import MailctlError
        from mailctl.services.dkim import archive_key_files, purge_key_dir
        from mailctl.system import maildirs

        settings = tx.settings
        if settings.vmail.create_maildirs:
            for email in tx.maildirs_to_create:
                if (path := maildirs.create(settings.vmail, email)) is not None:
                    tx.record("insert", "maildir", str(path))
        for email in tx.maildirs_to_remove:
            if (path := maildirs.remove(settings.vmail, email)) is not None:
                tx.record("delete", "maildir", str(path))
        for domain in tx.domain_trees_to_remove:
            if (path := maildirs.remove_domain(settings.vmail, domain)) is not None:
                tx.record("delete", "maildir", str(path))
        for domain in tx.key_dirs_to_remove:
            if (path := purge_key_dir(settings, domain)) is not None:
                tx.record("delete", "dkim keys", str(path))
        for domain, selector in tx.keys_to_archive:
            if (path := archive_key_files(settings, domain, selector)) is not None:
                tx.record("update", "dkim key", str(path), DkimState.ARCHIVED)
        if applied is not None:
            try:
                applied.reload()
            except MailctlError as exc:
                raise MailctlError(f"changes are saved, but {exc}") from None

    def note(self, message: str, *, force: bool = False) -> None:
        if force or self.verbosity >= 0:
            click.echo(message, err=True)

    def warn(self, message: str) -> None:
        click.echo(f"mailctl: warning: {message}", err=True)

    def confirm(self, question: str) -> None:
        """Ask before destroying; --yes answers for scripts."""
        if self.yes or self.dry_run:
            return
        if not click.confirm(question, default=False, err=True):
            raise Aborted("aborted; nothing was changed")


def app() -> App:
    ctx = click.get_current_context()
    obj = ctx.find_root().obj
    if not isinstance(obj, App):  # a command invoked without the root group (tests)
        obj = ctx.find_root().obj = App()
    return obj


def _set_flag(name: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            setattr(app(), name, True)

    return callback


def mutating(func: F) -> F:
    """--dry-run and --yes on the command itself, since people type them last."""
    func = click.option(
        "--yes",
        "-y",
        is_flag=True,
        expose_value=False,
        callback=_set_flag("yes"),
        help="Answer yes to confirmation prompts.",
    )(func)
    func = click.option(
        "--dry-run",
        "-n",
        is_flag=True,
        expose_value=False,
        callback=_set_flag("dry_run"),
        help="Show the changes and write nothing.",
    )(func)
    return func


def output_format(func: F) -> F:
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(FORMATS),
        default=None,
        help="Output format (default: table on a terminal, plain otherwise).",
    )(func)


def _resolve(fmt: str | None) -> str:
    if fmt:
        return fmt
    return "table" if sys.stdout.isatty() else "plain"


def emit_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str | None) -> None:
    """One output function for every list command."""
    import csv  # here, not at the top: --help and completion print no rows
    import io
    import json

    chosen = _resolve(fmt)
    if chosen == "json":
        click.echo(
            json.dumps([{c: r[c] for c in columns} for r in rows], indent=2, ensure_ascii=False)
        )
    elif chosen == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_flat(r[c]) for c in columns] for r in rows])
        click.echo(buffer.getvalue(), nl=False)
    elif chosen == "plain":
        # One write, not one echo per row: a 100,000-user listing spent half its time there.
        lines = ["\t".join(_flat(row[c]) for c in columns) for row in rows]
        if lines:
            click.echo("\n".join(lines))
    else:
        from tabulate import tabulate

        click.echo(tabulate([[_flat(r[c]) for c in columns] for r in rows], headers=list(columns)))


def emit_record(record: dict[str, Any], fmt: str | None) -> None:
    """One object: key/value lines, or a JSON object."""
    import json

    chosen = _resolve(fmt)
    if chosen == "json":
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    emit_rows([{"field": k, "value": v} for k, v in record.items()], ("field", "value"), chosen)


def _flat(value: Any) -> str:
    if type(value) is str:  # the common case, first: listings call this per cell
        return value
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


# --- passwords ---------------------------------------------------------------


def password_options(func: F) -> F:
    """Password sources; a password is never accepted on argv."""
    func = click.option(
        "--generate", is_flag=True, help="Generate a random password and print it once."
    )(func)
    func = click.option(
        "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
    )(func)
    return func


def read_password(*, password_stdin: bool, generate: bool, min_length: int, confirm: bool) -> str:
    if password_stdin and generate:
        raise UsageError("use either --password-stdin or --generate, not both")
    if generate:
        from mailctl.passwords.hashing import generate_password

        return generate_password(max(20, min_length))
    if password_stdin:
        line: str = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise PasswordRejected("empty password on stdin")
        return password
    try:
        value: str = click.prompt(
            "Password", hide_input=True, confirmation_prompt=confirm, err=True
        )
    except click.exceptions.Abort:
        raise Aborted("no password given; nothing was changed") from None
    return value


def _described(tx: Tx) -> list[str]:
    return [change.describe() for change in tx.changes]
