"""`mailctl dkim ...`: the key lifecycle pending -> active -> retired -> archived."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailctl.cli.app import App, emit_rows, mutating, output_format, pass_app
from mailctl.cli.commandtypes import Group

if TYPE_CHECKING:
    from mailctl.services import Tx
    from mailctl.store.dkimkeys import DkimKey

algorithm_option = click.option(
    "--algorithm",
    type=click.Choice(("rsa", "ed25519")),
    default="rsa",
    show_default=True,
    help="Key type (Ed25519 keys are signed by a second OpenDKIM instance).",
)


@click.group(cls=Group)
def dkim() -> None:
    """DKIM keys: show, rotate, activate, retire."""


@dkim.command("show")
@click.argument("domain")
@output_format
@pass_app
def show(a: App, domain: str, fmt: str | None) -> None:
    """List a domain's keys with their state and DNS record name."""
    from mailctl.services import dkim as keys
    from mailctl.services import domains
    from mailctl.store import dkimkeys

    with a.reading() as db:
        found = domains.get_domain(db, domain)
        rows = [
            {
                "selector": k.selector,
                "algorithm": k.algorithm,
                "bits": k.bits,
                "state": k.state,
                "created": k.created_at.strftime("%Y-%m-%d"),
                "record": f"{k.selector}._domainkey.{found.name}",
                "file": str(keys.key_file(a.settings, found.name, k.selector)),
            }
            for k in dkimkeys.keys_of(db, found.id)
        ]
    emit_rows(rows, ("selector", "algorithm", "bits", "state", "created", "record", "file"), fmt)


@dkim.command("rotate")
@click.argument("domain")
@algorithm_option
@mutating
@pass_app
def rotate(a: App, domain: str, algorithm: str) -> None:
    """Make a new pending key with a dated selector and print the record to publish."""
    from mailctl.services import dkim as keys
    from mailctl.services import domains

    def make_key(tx: Tx) -> tuple[str, DkimKey]:
        found = domains.get_domain(tx.db, domain)
        return found.name, keys.rotate(tx, found, algorithm)

    name, row = a.change(make_key)
    if a.dry_run:
        return
    from mailctl.dkim import keyfiles as keylib

    # Committed: the key file exists now, whether it was generated or reused.
    value = keylib.dns_value(
        keylib.load_existing_key(keys.key_file(a.settings, name, row.selector))
    )
    a.note(
        f"new pending key {row.selector} for {name}; publish this record, then run"
        f" 'mailctl dkim activate {name}':"
    )
    click.echo(f'{row.selector}._domainkey.{name}. TXT "{value}"')


@dkim.command("activate")
@click.argument("domain")
@click.argument("selector", required=False)
@click.option("--force", is_flag=True, help="Activate without checking that DNS has the record.")
@click.option("--nameserver", metavar="HOST[:PORT]", help="Ask this DNS server.")
@mutating
@pass_app
def activate(
    a: App, domain: str, selector: str | None, force: bool, nameserver: str | None
) -> None:
    """Sign with the pending key once DNS publishes it; the old key becomes retired."""
    from mailctl.dns.lookup import parse_nameserver
    from mailctl.model.dkimstates import DkimState
    from mailctl.services import dkim as keys
    from mailctl.services import domains
    from mailctl.services.dns import require_published_key

    if nameserver:
        parse_nameserver(nameserver)  # a malformed one is a usage error before anything

    def sign_with(tx: Tx) -> tuple[str, DkimKey, list[DkimKey]]:
        found = domains.get_domain(tx.db, domain)
        row = keys.find_key(tx, found, selector, DkimState.PENDING)
        if not force:
            require_published_key(tx.db, a.settings, found.name, row, nameserver)
        return found.name, row, keys.activate(tx, row)

    name, row, retired = a.change(sign_with)
    if not a.dry_run:
        a.note(f"{name} now signs with {row.selector}")
        for old in retired:
            a.note(
                f"{old.selector} is retired; its record stays published until"
                f" 'mailctl dkim retire {name}'"
            )


@dkim.command("retire")
@click.argument("domain")
@click.argument("selector", required=False)
@mutating
@pass_app
def retire(a: App, domain: str, selector: str | None) -> None:
    """Drop a retired key from KeyTable and DNS records; archive its file."""
    from mailctl.model.dkimstates import DkimState
    from mailctl.services import dkim as keys
    from mailctl.services import domains

    def archive(tx: Tx) -> tuple[str, str]:
        found = domains.get_domain(tx.db, domain)
        row = keys.find_key(tx, found, selector, DkimState.RETIRED)
        keys.retire(tx, row, found.name)
        return found.name, row.selector

    name, retired = a.change(archive)
    if not a.dry_run:
        a.note(f"retired {retired} of {name}; remove its TXT record from DNS")
