"""`mailctl domain ...`"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mailctl.cli.app import App, emit_record, emit_rows, mutating, output_format, pass_app
from mailctl.cli.commandtypes import Group
from mailctl.cli.complete import complete_domains

if TYPE_CHECKING:
    from mailctl.store.connection import Db

CERT_NAMES = ("", "imap.", "smtp.", "autoconfig.", "autodiscover.", "mta-sts.")


@click.group(cls=Group)
def domain() -> None:
    """Hosted mail domains."""


@domain.command("add")
@click.argument("names", nargs=-1, required=True, metavar="DOMAIN...")
@click.option(
    "--no-postmaster",
    is_flag=True,
    help="Do not create the postmaster@ and abuse@ aliases, nor those of the DMARC and"
    " TLS-RPT report addresses.",
)
@mutating
@pass_app
def add(a: App, names: tuple[str, ...], no_postmaster: bool) -> None:
    """Add domains: database row, DKIM key, role aliases and every managed file."""
    from mailctl.model.names import display_domain
    from mailctl.services import domains

    added = a.change(
        lambda tx: [domains.add_domain(tx, n, role_aliases=not no_postmaster).name for n in names]
    )
    if not a.dry_run:
        for name in added:
            shown = display_domain(name)
            a.note(f"added domain {name}" + (f" ({shown})" if shown != name else ""))
        _next_steps(a, added)


def _next_steps(a: App, added: list[str]) -> None:
    """What the administrator does next: publish the DNS records, get certificates."""
    from mailctl.dns import records as dnsrecords
    from mailctl.dns import render as dnsrender
    from mailctl.serverfiles.tls import check_domain
    from mailctl.services import dns as dnsstate

    if a.verbosity < 0:
        return
    with a.reading() as db:
        contexts = [(n, dnsstate.context_for(db, a.settings, n, warn=a.warn)) for n in added]
    for name, ctx in contexts:
        a.note(f"publish these DNS records for {name} (all formats: mailctl dns show {name}):")
        for row in dnsrender.render_table(dnsrecords.records_for(name, ctx), name):
            if row["status"] != "optional":
                a.note(f"  {row['name']:<20} {row['type']:<5} {row['value']}")
    for name in added:
        status = check_domain(a.settings, name)
        if status.ready:
            continue
        a.note(f"{name}: {status.reason}")
        flags = " ".join(f"-d {prefix}{name}" for prefix in CERT_NAMES)
        a.note("  get a certificate, then run 'mailctl sync':")
        a.note(f"  certbot certonly --cert-name {name} {flags}")


@domain.command("del")
@click.argument("name", metavar="DOMAIN", shell_complete=complete_domains)
@click.option("--purge-keys", is_flag=True, help="Also delete the domain's DKIM key files.")
@click.option("--purge-maildirs", is_flag=True, help="Also delete the domain's maildirs.")
@mutating
@pass_app
def delete(a: App, name: str, purge_keys: bool, purge_maildirs: bool) -> None:
    """Delete a domain with its users and aliases (asks first)."""
    from mailctl.services import domains

    with a.reading() as db:
        info = domains.domain_info(db, domains.get_domain(db, name))
    a.note(
        f"{info.name}: {info.users} user(s) and {info.aliases} alias(es) will be deleted with it"
    )
    a.confirm(f"Delete domain {info.name}?")
    if purge_maildirs:
        a.confirm(f"Also delete every maildir of {info.name} (mail is lost)?")
    if purge_keys:
        a.confirm(f"Also delete the DKIM keys of {info.name}?")
    a.change(
        lambda tx: domains.delete_domain(
            tx, info.name, purge_maildirs=purge_maildirs, purge_keys=purge_keys
        )
    )
    if not a.dry_run:
        a.note(f"deleted domain {info.name}")


@domain.command("list")
@output_format
@pass_app
def list_(a: App, fmt: str | None) -> None:
    """List domains with user and alias counts, DKIM selector and TLS status."""
    from mailctl.serverfiles.tls import check_domain
    from mailctl.services import dkim as keys
    from mailctl.services import domains

    with a.reading() as db:
        selectors = keys.active_selectors(db)
        rows = [
            {
                "domain": d.name,
                "unicode": d.unicode,
                "users": d.users,
                "aliases": d.aliases,
                "dkim": ",".join(selectors.get(d.name, [])) or "none",
                "tls": "ok" if check_domain(a.settings, d.name).ready else "pending",
            }
            for d in domains.list_domains(db)
        ]
    emit_rows(rows, ("domain", "unicode", "users", "aliases", "dkim", "tls"), fmt)


@domain.command("show")
@click.argument("name", metavar="DOMAIN", shell_complete=complete_domains)
@output_format
@pass_app
def show(a: App, name: str, fmt: str | None) -> None:
    """Show one domain: counts, DKIM keys and TLS status."""
    from mailctl.model.dkimstates import DkimState
    from mailctl.serverfiles.tls import check_domain
    from mailctl.services import domains
    from mailctl.store.dkimkeys import keys_of

    with a.reading() as db:
        found = domains.get_domain(db, name)
        info = domains.domain_info(db, found)
        keys = keys_of(db, found.id)
        policy = _policy(db, found.id)
    tls = check_domain(a.settings, info.name)
    record: dict[str, Any] = {
        "domain": info.name,
        "unicode": info.unicode,
        "users": info.users,
        "aliases": info.aliases,
        "dkim": ",".join(k.selector for k in keys if k.state == DkimState.ACTIVE) or "none",
        "tls": "ok" if tls.ready else "pending",
        "dkim_keys": [f"{k.selector} {k.algorithm}-{k.bits} {k.state}" for k in keys],
        **policy,
        "tls_detail": tls.reason,
    }
    if tls.not_after is not None:
        record["tls_expires"] = tls.not_after.strftime("%Y-%m-%d")
    emit_record(record, fmt)


def _policy(db: Db, domain_id: int) -> dict[str, Any]:
    from mailctl.model.sizes import format_size
    from mailctl.store import policy

    row = policy.domain_policy(db, domain_id)

    def size(value: int | None) -> str:
        return format_size(value) if value else "none"

    status = "active"
    if row.suspended:
        status = "suspended" if row.receive else "suspended, mail refused"
    return {
        "status": status,
        "suspend_reason": row.suspend_reason or "",
        "default_quota": size(row.default_quota_bytes),
        "max_quota": size(row.max_quota_bytes),
        "max_users": "none" if row.max_users is None else row.max_users,
        "max_aliases": "none" if row.max_aliases is None else row.max_aliases,
    }


@domain.command("set")
@click.argument("name", metavar="DOMAIN", shell_complete=complete_domains)
@click.option("--default-quota", metavar="SIZE|none", help="Quota of mailboxes without their own.")
@click.option("--max-quota", metavar="SIZE|none", help="Largest quota a mailbox may have.")
@click.option("--max-users", metavar="N|none", help="Most mailboxes the domain may have.")
@click.option("--max-aliases", metavar="N|none", help="Most aliases the domain may have.")
@mutating
@pass_app
def set_(
    a: App,
    name: str,
    default_quota: str | None,
    max_quota: str | None,
    max_users: str | None,
    max_aliases: str | None,
) -> None:
    """Set a domain's default quota and its limits (user add, alias add, import obey them)."""
    from mailctl.services import policy

    limits = policy.DomainLimits(default_quota, max_quota, max_users, max_aliases)
    a.change(lambda tx: policy.set_domain(tx, name, limits))
    if not a.dry_run:
        a.note(f"updated {name}")


@domain.command("suspend")
@click.argument("name", metavar="DOMAIN", shell_complete=complete_domains)
@click.option("--reason", help="Why (shown by domain show).")
@click.option("--no-receive", "refuse", is_flag=True, help="Also refuse its mail (550 at RCPT).")
@mutating
@pass_app
def suspend(a: App, name: str, reason: str | None, refuse: bool) -> None:
    """Stop every login of the domain and end its sessions; mail still arrives."""
    from mailctl.services import policy

    done = a.change(lambda tx: policy.suspend_domain(tx, name, reason, receive=not refuse))
    if not a.dry_run:
        a.note(f"suspended {done}")


@domain.command("resume")
@click.argument("name", metavar="DOMAIN", shell_complete=complete_domains)
@mutating
@pass_app
def resume(a: App, name: str) -> None:
    """Let a suspended domain's mailboxes log in (and receive) again."""
    from mailctl.services import policy

    done = a.change(lambda tx: policy.resume_domain(tx, name))
    if not a.dry_run:
        a.note(f"resumed {done}")
