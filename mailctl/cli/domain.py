"""`mailctl domain ...`"""

from __future__ import annotations

import click

from mailctl.cli.common import app, emit_record, emit_rows, mutating, output_format


@click.group()
def domain() -> None:
    """Hosted mail domains."""


@domain.command("add")
@click.argument("names", nargs=-1, required=True, metavar="DOMAIN...")
@click.option(
    "--no-postmaster",
    is_flag=True,
    help="Do not create postmaster@ and abuse@ aliases to server.admin_email.",
)
@mutating
def add(names: tuple[str, ...], no_postmaster: bool) -> None:
    """Add domains: database row, postmaster@/abuse@ aliases and every managed file."""
    from mailctl.services import domains

    a = app()
    added = []
    with a.changing() as tx:
        for name in names:
            added.append(domains.add_domain(tx, name, role_aliases=not no_postmaster).name)
    if not a.dry_run:
        for name in added:
            a.note(f"added domain {name}")


@domain.command("del")
@click.argument("name", metavar="DOMAIN")
@mutating
def delete(name: str) -> None:
    """Delete a domain with its users and aliases (asks first)."""
    from mailctl.services import domains

    a = app()
    with a.reading() as session:
        info = domains.domain_info(session, domains.get_domain(session, name))
    a.note(
        f"{info.name}: {info.users} user(s) and {info.aliases} alias(es) will be deleted with it"
    )
    a.confirm(f"Delete domain {info.name}?")
    with a.changing() as tx:
        domains.delete_domain(tx, info.name)
    if not a.dry_run:
        a.note(f"deleted domain {info.name}")


@domain.command("list")
@output_format
def list_(fmt: str | None) -> None:
    """List domains with their user and alias counts."""
    from mailctl.services import domains

    with app().reading() as session:
        rows = [
            {"domain": d.name, "unicode": d.unicode, "users": d.users, "aliases": d.aliases}
            for d in domains.list_domains(session)
        ]
    emit_rows(rows, ("domain", "unicode", "users", "aliases"), fmt)


@domain.command("show")
@click.argument("name", metavar="DOMAIN")
@output_format
def show(name: str, fmt: str | None) -> None:
    """Show one domain."""
    from mailctl.services import domains

    with app().reading() as session:
        info = domains.domain_info(session, domains.get_domain(session, name))
    emit_record(
        {
            "domain": info.name,
            "unicode": info.unicode,
            "users": info.users,
            "aliases": info.aliases,
        },
        fmt,
    )
