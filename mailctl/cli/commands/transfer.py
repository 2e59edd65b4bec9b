"""`mailctl export` and `mailctl import FILE`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailctl.cli.app import App, FilePath, mutating, pass_app
from mailctl.cli.commandtypes import Command
from mailctl.transfer import FORMATS

if TYPE_CHECKING:
    from mailctl.passwords.parallel import HashJob
    from mailctl.services import Tx
    from mailctl.services.transfer.plan import Plan

F = TypeVar("F", bound=Callable[..., Any])
PROGRESS_MIN = 300  # rows; below this an import is over before a bar is worth drawing


def _format_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--format", "-f", "fmt", type=click.Choice(FORMATS), default=None, help=help_text
    )


@click.command("export", cls=Command)
@_format_option("json (default), jsonl or csv; without it, taken from --output's suffix.")
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    type=FilePath(dir_okay=False, allow_dash=True),
    default=None,
    help="Write to FILE, created with mode 0600 (default: stdout).",
)
@click.option(
    "--with-keys", is_flag=True, help="Include the DKIM private keys (needs --output or a pipe)."
)
@pass_app
def export(a: App, fmt: str | None, output: str | None, with_keys: bool) -> None:
    """Write domains, DKIM key data, mailboxes with their hashes and aliases.

    The file is what `mailctl import` reads. Password hashes are exported as
    stored; private keys only with --with-keys. Account policy (suspension,
    services, quotas, domain limits, send-as grants) is written where it
    differs from the default.
    """
    from pathlib import Path

    from mailctl.errors import UsageError
    from mailctl.services import transfer as bulk
    from mailctl.system.files import atomic_write
    from mailctl.transfer import fileformat as bulkfile

    to_stdout = output in (None, "-")
    if with_keys and to_stdout and sys.stdout.isatty():
        raise UsageError(
            "--with-keys puts private keys in the output: give --output FILE (created 0600)"
            " or redirect stdout to a file"
        )
    chosen = fmt or (None if to_stdout else bulkfile.format_from_name(str(output))) or "json"
    with a.reading() as db:
        document, warnings = bulk.export_document(db, a.settings, with_keys=with_keys)
    for message in warnings:
        a.warn(message)
    text = bulkfile.render(document, chosen)
    if to_stdout:
        click.echo(text, nl=False)
        return
    # Hashes (and keys) are secrets: the file is 0600 from the moment it exists.
    atomic_write(Path(str(output)), text, mode=0o600)
    a.note(
        f"exported {len(document.domains)} domain(s), {len(document.users)} user(s) and"
        f" {len(document.aliases)} alias(es) to {output}"
    )


@click.command("import", cls=Command)
@click.argument("file", metavar="FILE", type=FilePath(dir_okay=False, allow_dash=True))
@_format_option("json, jsonl or csv (default: from the suffix, else from the content).")
@mutating
@pass_app
def import_(a: App, file: str, fmt: str | None) -> None:
    """Create or update domains, mailboxes and aliases from FILE ('-': stdin).

    Idempotent: rows already in the database are left alone, a mailbox whose
    hash differs is updated, alias destinations are merged as by `alias add`.
    A user row carries a Dovecot hash ("password", stored as is) or a
    "plaintext" password (hashed with passwords.scheme). Policy fields a row
    gives are set, those it leaves out kept; send-as grants are added. All or
    nothing: any bad row is reported with its location, and a file that would
    pass a domain's max-users, max-aliases or max-quota is refused, and
    nothing is written.
    """
    from mailctl.services import transfer as bulk
    from mailctl.transfer import fileformat as bulkfile

    text = _read(file)
    chosen = fmt or bulkfile.detect_format(None if file == "-" else file, text)
    document, errors = bulkfile.parse(text, chosen)
    settings = a.settings
    checked = bulk.check_rows(document, settings, errors)
    with a.reading() as db:  # closed again before the hashing processes fork
        current = bulk.read_current(db)
    plan = bulk.plan_import(checked, current, settings)
    hashes = _hash_passwords(a, plan.hash_jobs)

    def write(tx: Tx) -> Plan:
        # Planned again under the lock, against the rows as they are now.
        planned = bulk.plan_import(checked, bulk.read_current(tx.db), settings, hashes)
        with _progress(planned.writes, f"writing {planned.writes} rows") as tick:
            bulk.apply_import(tx, planned, tick)
        return planned

    plan = a.change(write)
    for line in bulk.summary(plan, dry_run=a.dry_run):
        click.echo(line)


def _read(file: str) -> str:
    from mailctl.errors import InvalidInput

    try:
        if file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(file, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{file} is not UTF-8 (byte {exc.start})") from None


def _hash_passwords(a: App, jobs: dict[str, HashJob]) -> dict[str, str]:
    """Plaintext passwords to hashes, on every core. A dry run hashes only what
    decides between "updated" and "unchanged" (passwords of existing users)."""
    from mailctl.passwords.parallel import HashParams, resolve
    from mailctl.services.transfer import PENDING_HASH

    settings = a.settings
    scheme = settings.passwords.scheme
    todo = {e: j for e, j in jobs.items() if j.current is not None or not a.dry_run}
    params = HashParams(scheme, settings.passwords.bcrypt_cost, settings.passwords.default_scheme)
    with _progress(len(todo), f"hashing {len(todo)} passwords ({scheme})") as tick:
        results = resolve(list(todo.values()), params, progress=tick)
    hashes = dict(zip(todo, results, strict=True))
    skipped = "{" + scheme + "}" + PENDING_HASH  # dry run only; rolled back with the rest
    return {email: hashes.get(email, skipped) for email in jobs}


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """click's progress bar on stderr when it is a terminal and the work is big."""
    if total <= PROGRESS_MIN or not sys.stderr.isatty():
        yield lambda _count: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update
