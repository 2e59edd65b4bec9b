"""What every command shares: the application context, the options that
mutating and listing commands take, output formatting and password input.

Only click is imported at module level. Everyday commands reach the database
through the store (one DB-API connection, mailctl.store); SQLAlchemy loads
only for the `db` commands, doctor, and a schema that is not current.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailctl.errors import Aborted, PasswordRejected, UsageError
from mailctl.model.datarecord import datarecord

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mailctl.core.config import Settings
    from mailctl.services import Tx
    from mailctl.services.unit import Work
    from mailctl.store.connection import Db

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")
FORMATS = ("table", "json", "csv", "plain")


@datarecord
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
    _db: Db | None = field(default=None, repr=False)

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

    def engine(self, *, check_schema: bool = True, create: bool = False) -> Engine:
        """The database; `create` makes a missing SQLite file (db upgrade does, and
        the sandbox's own database is made on first use)."""
        if self._engine is None:
            from mailctl.core import db

            create = create or self.settings.sandbox_db
            failover = self.settings.database.failover
            self._engine = db.make_engine(self.url, create=create, failover=failover)
            if check_schema:
                db.require_current(self._engine, auto_upgrade=self.settings.sandbox_db)
        return self._engine

    def db(self) -> Db:
        """The command's one connection, to a database whose schema is current:
        checked with one query; SQLAlchemy explains (or, in the sandbox, migrates)
        only when it is not."""
        if self._db is None:
            from mailctl.store import schema
            from mailctl.store.connection import Tls, connect

            database = self.settings.database
            create = self.settings.sandbox_db
            tls = Tls(database.tls, database.tls_ca)
            db = connect(self.url, tls=tls, create=create, failover=database.failover)
            try:
                if not schema.is_current(db):
                    self.engine()  # raises, or brings the sandbox's schema up to date
            except BaseException:
                db.close()
                raise
            self._db = db
            click.get_current_context().call_on_close(self.close)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def reading(self) -> Iterator[Db]:
        """The connection, for reads (each command's reads share it)."""
        yield self.db()

    def work(self) -> Work:
        """The unit of work for this command (services.unit), printing through this App."""
        from mailctl.services.unit import Work

        return Work(self.settings, self, dry_run=self.dry_run, verbose=self.verbosity > 0)

    def change(self, change: Callable[[Tx], R]) -> R:
        """`change(tx)` as one write transaction of the unit of work (rows, managed files,
        commit, effects), run again from the start if a database cluster refuses it for
        a reason that passes (services.unit); its result. Every mutating command's
        change goes through here, so none can forget the reruns."""
        return self.work().run(self.db(), change)

    def echo(self, text: str, *, nl: bool = True) -> None:
        click.echo(text, nl=nl)

    def note(self, message: str, *, force: bool = False) -> None:
        if force or self.verbosity >= 0:
            click.echo(message, err=True)

    def warn(self, message: str) -> None:
        click.echo(f"mailctl: warning: {message}", err=True)

    def confirm(self, question: str) -> None:
        """Ask before destroying; --yes answers for scripts."""
        if self.yes or self.dry_run:
            return
        try:
            answer = click.confirm(question, default=False, err=True)
        except click.exceptions.Abort:  # end of input (or ^C): no answer is a no
            click.echo(err=True)  # end the unanswered prompt's line
            raise Aborted("no answer (end of input); nothing was changed") from None
        if not answer:
            raise Aborted("aborted; nothing was changed")


def app() -> App:
    ctx = click.get_current_context()
    obj = ctx.find_root().obj
    if not isinstance(obj, App):  # a command invoked without the root group (tests)
        obj = ctx.find_root().obj = App()
    return obj


def pass_app(func: Callable[..., R]) -> Callable[..., R]:
    """Hand a command this invocation's App as its first argument."""

    @functools.wraps(func)
    def with_app(*args: Any, **kwargs: Any) -> R:
        return func(app(), *args, **kwargs)

    return with_app


def _set_flag(name: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            setattr(app(), name, True)

    return callback


def mutating(func: F) -> F:
    """--dry-run and --yes on the command itself, since people type them last."""
    for flags, name, help_text in (
        (("--yes", "-y"), "yes", "Answer yes to confirmation prompts."),
        (("--dry-run", "-n"), "dry_run", "Show the changes and write nothing."),
    ):
        func = click.option(
            *flags, is_flag=True, expose_value=False, callback=_set_flag(name), help=help_text
        )(func)
    return func


class WholeNumber(click.types.IntParamType):
    """A whole number typed as digits only: int() would also take " 3\n" or "٣"."""

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        text = str(value)
        if not (text.isascii() and text.isdigit()) or not self.low <= int(text) <= self.high:
            name = max(param.opts, key=len) if param is not None and param.opts else "value"
            raise UsageError(f"{name} {text!r}: a whole number from {self.low} to {self.high}")
        return int(text)


class FilePath(click.Path):
    """click.Path that refuses a NUL with one error line: no file name holds one, and
    the os.stat() in click's own check raises ValueError on it, which click lets pass."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise UsageError(f"invalid path {value!r}: a file name cannot hold NUL")
        return super().convert(value, param, ctx)


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
    """One output function for every list command: `columns` of each row."""
    from operator import itemgetter

    cells = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    emit_table(columns, [cells(row) for row in rows], fmt)


def emit_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str | None, *, text: bool = False
) -> None:
    """Rows given as tuples in `columns` order: what emit_rows prints, without a
    dict per row (a listing of 100,000 mailboxes builds its rows this way).
    `text`: every cell is a str already, so none needs flattening."""
    chosen = _resolve(fmt)
    if chosen == "json":
        import json  # here, not at the top: --help and completion print no rows

        objects = [dict(zip(columns, row, strict=True)) for row in rows]
        click.echo(json.dumps(objects, indent=2, ensure_ascii=False))
    elif chosen == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([list(map(_flat, row)) for row in rows])
        click.echo(buffer.getvalue(), nl=False)
    elif chosen == "plain":
        # One write, not one echo per row: a 100,000-user listing spent half its time
        # there; map, not a generator per row, for the same reason.
        lines = ["\t".join(row) for row in rows] if text else [
            "\t".join(map(_flat, row)) for row in rows
        ]
        if lines:
            click.echo("\n".join(lines))
    else:
        from tabulate import tabulate

        click.echo(tabulate([list(map(_flat, row)) for row in rows], headers=list(columns)))


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
