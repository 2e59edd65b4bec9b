"""`mailctl user ...`"""

from __future__ import annotations

import click

from mailctl.cli.app import (
    App,
    app,
    emit_record,
    emit_rows,
    mutating,
    output_format,
    pass_app,
    password_options,
    read_password,
)
from mailctl.cli.complete import complete_domains, complete_users
from mailctl.errors import SavedButIncomplete
from mailctl.model.schemes import SCHEMES


@click.group()
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
    from mailctl.services import users

    with a.reading() as db:  # refuse bad input before asking for a password
        users.check_new_user(db, email, force=force)
    password, password_hash = _new_hash(password_stdin, generate, scheme)
    try:
        with a.changing() as tx:
            created = users.add_user(tx, email, password_hash, force=force)
    except SavedButIncomplete:  # the user exists: its generated password must be seen
        _report_password(a, "added user", created.email, password, generate)
        raise
    _report_password(a, "added user", created.email, password, generate)


@user.command("passwd")
@click.argument("email", shell_complete=complete_users)
@password_options
@scheme_option
@mutating
@pass_app
def passwd(a: App, email: str, password_stdin: bool, generate: bool, scheme: str | None) -> None:
    """Set a new password, hashed with the configured (or given) scheme."""
    from mailctl.services import users

    with a.reading() as db:
        users.get_user(db, email)
    password, password_hash = _new_hash(password_stdin, generate, scheme)
    try:
        with a.changing() as tx:
            changed = users.set_password(tx, email, password_hash)
    except SavedButIncomplete:  # the new password is stored: it must be seen
        _report_password(a, "changed the password of", changed.email, password, generate)
        raise
    _report_password(a, "changed the password of", changed.email, password, generate)


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
    with a.changing() as tx:
        users.delete_user(tx, target, purge_maildir=purge_maildir)
    if not a.dry_run:
        a.note(f"deleted user {target}")


@user.command("list")
@click.argument("domain", required=False, shell_complete=complete_domains)
@output_format
@pass_app
def list_(a: App, domain: str | None, fmt: str | None) -> None:
    """List mailboxes, optionally of one domain."""
    from mailctl.services import domains, users

    with a.reading() as db:
        name = domains.get_domain(db, domain).name if domain else None
        rows = [
            {"email": u.email, "domain": u.domain, "scheme": u.scheme}
            for u in users.list_users(db, a.settings, name)
        ]
    emit_rows(rows, ("email", "domain", "scheme"), fmt)


@user.command("show")
@click.argument("email", shell_complete=complete_users)
@output_format
@pass_app
def show(a: App, email: str, fmt: str | None) -> None:
    """Show one mailbox: scheme and the aliases that deliver to it."""
    from mailctl.passwords.hashing import scheme_of
    from mailctl.services import aliases, users

    with a.reading() as db:
        found = users.get_user(db, email)
        pointing = aliases.aliases_pointing_to(db, found.email)
    emit_record(
        {
            "email": found.email,
            "domain": found.email.rpartition("@")[2],
            "scheme": scheme_of(found.password, a.settings.passwords.default_scheme),
            "aliases": sorted(p.source for p in pointing),
        },
        fmt,
    )


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
