"""`mailctl user ...`"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from mailctl.cli.app import (
    App,
    app,
    emit_record,
    emit_table,
    mutating,
    output_format,
    pass_app,
    password_options,
    read_password,
)
from mailctl.cli.commandtypes import Group
from mailctl.cli.complete import complete_domains, complete_users
from mailctl.errors import SavedButIncomplete
from mailctl.model.schemes import SCHEMES

if TYPE_CHECKING:
    from mailctl.services.reports import Mailbox


@click.group(cls=Group)
def user() -> None:
    """Mailboxes (virtual_users) and their passwords."""


scheme_option = click.option(
    "--scheme",
    type=click.Choice(SCHEMES, case_sensitive=False),
    default=None,
    help="Hash scheme (default: passwords.scheme).",
)


def _new_hash(password_stdin: bool, generate: bool, scheme: str | None) -> tuple[str, str]:
    """Read (or generate) a new password and hash it: (password, hash)."""
    from mailctl.services import users

    settings = app().settings
    password = read_password(
        password_stdin=password_stdin,
        generate=generate,
        min_length=settings.passwords.min_length,
        confirm=True,
    )
    return password, users.hash_new_password(settings, password, scheme)


def _prompts(password_stdin: bool, generate: bool) -> bool:
    """Whether the password comes from a prompt. Only then are the checks run once
    before it too: a script's password on stdin (or a generated one) is checked with
    the change, in one transaction, and costs no second round of queries."""
    return not (password_stdin or generate)


def _report_password(a: App, done: str, email: str, password: str, generated: bool) -> None:
    if a.dry_run:
        return
    a.note(f"{done} {email}")
    if generated:
        click.echo(f"password for {email}: {password}")


@user.command("add")
@click.argument("email")
@password_options
@scheme_option
@click.option("--force", is_flag=True, help="Allow a mailbox that an alias of the same name hides.")
@mutating
@pass_app
def add(
    a: App, email: str, password_stdin: bool, generate: bool, scheme: str | None, force: bool
) -> None:
    """Add a mailbox. The password comes from a hidden prompt, stdin or --generate."""
    from mailctl.model.names import parse_address
    from mailctl.services import users

    stored = str(parse_address(email))
    if _prompts(password_stdin, generate):  # refuse bad input before asking for a password
        with a.reading() as db:
            users.check_new_user(db, email, force=force)
    password, password_hash = _new_hash(password_stdin, generate, scheme)
    try:
        a.change(lambda tx: users.add_user(tx, email, password_hash, force=force))
    except SavedButIncomplete:  # the user exists: its generated password must be seen
        _report_password(a, "added user", stored, password, generate)
        raise
    _report_password(a, "added user", stored, password, generate)


@user.command("passwd")
@click.argument("email", shell_complete=complete_users)
@password_options
@scheme_option
@mutating
@pass_app
def passwd(a: App, email: str, password_stdin: bool, generate: bool, scheme: str | None) -> None:
    """Set a new password, hashed with the configured (or given) scheme."""
    from mailctl.model.names import parse_address
    from mailctl.services import users

    stored = str(parse_address(email))
    if _prompts(password_stdin, generate):  # refuse bad input before asking for a password
        with a.reading() as db:
            users.get_user(db, email)
    password, password_hash = _new_hash(password_stdin, generate, scheme)
    try:
        a.change(lambda tx: users.set_password(tx, email, password_hash))
    except SavedButIncomplete:  # the new password is stored: it must be seen
        _report_password(a, "changed the password of", stored, password, generate)
        raise
    _report_password(a, "changed the password of", stored, password, generate)


@user.command("del")
@click.argument("email", shell_complete=complete_users)
@click.option("--purge-maildir", is_flag=True, help="Also delete the mailbox's maildir.")
@mutating
@pass_app
def delete(a: App, email: str, purge_maildir: bool) -> None:
    """Delete a mailbox (asks first); warns about aliases that point to it."""
    from mailctl.services import users

    with a.reading() as db:
        target = users.get_user(db, email).email
    a.confirm(f"Delete user {target}?")
    if purge_maildir:
        a.confirm(f"Also delete the maildir of {target} (its mail is lost)?")
    a.change(lambda tx: users.delete_user(tx, target, purge_maildir=purge_maildir))
    if not a.dry_run:
        a.note(f"deleted user {target}")


LIST_COLUMNS = ("email", "domain", "scheme", "status", "quota", "used", "used_pct", "last_login")


@user.command("list")
@click.argument("domain", required=False, shell_complete=complete_domains)
@output_format
@pass_app
def list_(a: App, domain: str | None, fmt: str | None) -> None:
    """List mailboxes: scheme, status, quota, usage and last login."""
    from mailctl.services import domains
    from mailctl.store import policy

    with a.reading() as db:
        name = domains.get_domain(db, domain).name if domain else None
        rows = policy.user_rows(db, name)  # Mailbox's fields, as plain tuples
    cells = mailbox_cells(a.settings.passwords.default_scheme)
    emit_table(LIST_COLUMNS, list(map(cells, rows)), fmt, text=True)


def mailbox_rows(boxes: Sequence[Mailbox], default_scheme: str) -> list[dict[str, Any]]:
    """Mailboxes as listings show them, by column name (see mailbox_cells)."""
    cells = mailbox_cells(default_scheme)
    return [dict(zip(LIST_COLUMNS, cells(box), strict=True)) for box in boxes]


def mailbox_cells(default_scheme: str) -> Callable[[Sequence[Any]], tuple[str, ...]]:
    """What turns a mailbox into its cells in LIST_COLUMNS order: sizes like 500M,
    times in UTC, an unprefixed hash read as `default_scheme`
    (passwords.default_scheme). Made once per listing, which calls it per mailbox:
    a Mailbox, or the plain row it is made from, unpacked rather than read
    through Mailbox's properties."""
    from time import gmtime, strftime

    from mailctl.model.schemes import scheme_label
    from mailctl.model.sizes import format_size
    from mailctl.services.reports import status_of

    size = functools.lru_cache(maxsize=4096)(format_size)  # quotas repeat, usage less so

    def cells(box: Sequence[Any]) -> tuple[str, ...]:
        email, head, quota, used, last_login, flags = box
        return (
            email,
            email[email.rfind("@") + 1 :],
            scheme_label(head, default_scheme),
            status_of(flags) if flags else "active",
            size(quota) if quota else "unlimited",
            "" if used is None else size(used),
            "" if used is None or not quota else f"{100.0 * used / quota:.1f}",
            "never" if last_login is None else strftime("%Y-%m-%d %H:%M", gmtime(last_login)),
        )

    return cells


@user.command("show")
@click.argument("email", shell_complete=complete_users)
@output_format
@pass_app
def show(a: App, email: str, fmt: str | None) -> None:
    """Show one mailbox: scheme, status, quota, usage, last login, aliases, send-as."""
    from mailctl.services import aliases, reports, senders, users
    from mailctl.store import policy

    with a.reading() as db:
        found = users.get_user(db, email)
        pointing = aliases.aliases_pointing_to(db, found.email)
        (box,) = reports.mailboxes(db, email=found.email)
        own = policy.user_policy(db, found.id)
        grants = [address for _login, address in senders.listing(db, found.email)]
    (record,) = mailbox_rows([box], a.settings.passwords.default_scheme)
    record["suspend_reason"] = own.suspend_reason or ""
    record["aliases"] = sorted(p.source for p in pointing)
    record["send_as"] = grants
    emit_record(record, fmt)


@user.command("suspend")
@click.argument("email", shell_complete=complete_users)
@click.option("--reason", help="Why (shown by user show).")
@mutating
@pass_app
def suspend(a: App, email: str, reason: str | None) -> None:
    """Stop every login (IMAP, POP3, SMTP AUTH) and end open sessions; mail still arrives."""
    from mailctl.services import policy

    done = a.change(lambda tx: policy.suspend_user(tx, email, reason))
    if not a.dry_run:
        a.note(f"suspended {done}")


@user.command("resume")
@click.argument("email", shell_complete=complete_users)
@mutating
@pass_app
def resume(a: App, email: str) -> None:
    """Allow a suspended mailbox to log in again."""
    from mailctl.services import policy

    done = a.change(lambda tx: policy.resume_user(tx, email))
    if not a.dry_run:
        a.note(f"resumed {done}")


@user.command("set")
@click.argument("email", shell_complete=complete_users)
@click.option("--quota", metavar="SIZE|default|unlimited", help="Mailbox quota, e.g. 500M or 2G.")
@click.option("--imap/--no-imap", default=None, help="Allow IMAP logins.")
@click.option("--pop3/--no-pop3", default=None, help="Allow POP3 logins.")
@click.option("--smtp/--no-smtp", default=None, help="Allow SMTP AUTH (sending).")
@click.option("--receive/--no-receive", default=None, help="Accept mail (off: 550 at RCPT).")
@mutating
@pass_app
def set_(
    a: App,
    email: str,
    quota: str | None,
    imap: bool | None,
    pop3: bool | None,
    smtp: bool | None,
    receive: bool | None,
) -> None:
    """Set a mailbox's quota and the services it may use."""
    from mailctl.services import policy

    flags = {"imap": imap, "pop3": pop3, "smtp": smtp, "receive": receive}
    services = {name: on for name, on in flags.items() if on is not None}
    a.change(lambda tx: policy.set_user(tx, email, quota=quota, services=services))
    if not a.dry_run:
        a.note(f"updated {email}")


@user.command("verify")
@click.argument("email", shell_complete=complete_users)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@pass_app
def verify(a: App, email: str, password_stdin: bool) -> None:
    """Check a password against the stored hash (exit 1 when it does not match)."""
    from mailctl.errors import MailctlError
    from mailctl.passwords.hashing import verify_password
    from mailctl.services import users

    with a.reading() as db:
        found = users.get_user(db, email)
    password = read_password(
        password_stdin=password_stdin, generate=False, min_length=1, confirm=False
    )
    if verify_password(
        password, found.password, default_scheme=a.settings.passwords.default_scheme
    ):
        a.note(f"password matches for {found.email}", force=True)
        return
    raise MailctlError(f"password does not match for {found.email}")
