"""`mailctl dns ...`: the records to publish, and the files behind MTA-STS and
client autoconfiguration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mailctl.cli.app import App, emit_rows, output_format, pass_app
from mailctl.cli.commandtypes import Group

if TYPE_CHECKING:
    from mailctl.dns.check import Row
    from mailctl.dns.records import DnsContext, Record

SHOW_FORMATS = ("table", "bind", "json")


@click.group(cls=Group)
def dns() -> None:
    """DNS records to publish, MTA-STS policy and client autoconfiguration."""


@dns.command("show")
@click.argument("names", nargs=-1, metavar="[DOMAIN]...")
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(SHOW_FORMATS),
    default=None,
    help="table: names relative to the zone, values unquoted (registrar forms); bind:"
    " zone-file lines; json. Default: table on a terminal, bind otherwise.",
)
@click.option(
    "--zone",
    is_flag=True,
    help="bind format as a complete zone per domain, with SOA and NS placeholders.",
)
@pass_app
def show(a: App, names: tuple[str, ...], fmt: str | None, zone: bool) -> None:
    """Show the DNS records of DOMAINs (default: all domains).

    Computed from the real state: the DKIM public keys of the domain's
    selectors, the server's certificate (TLSA, with dns.dane) and the config.
    """
    import json
    import sys

    from mailctl.dns import render as dnsrender
    from mailctl.errors import UsageError

    if zone and fmt not in (None, "bind"):
        raise UsageError(f"--zone needs --format bind, not --format {fmt}")
    chosen = fmt or ("bind" if zone or not sys.stdout.isatty() else "table")
    listing = _listing(a, names)
    if not listing:
        if chosen == "json":
            click.echo("[]")
        a.note("no domains hosted (see: mailctl domain add)")
        return
    _note_host_records(a, listing)
    if chosen == "json":
        objects: list[dict[str, Any]] = []
        for name, _ctx, records in listing:
            objects += dnsrender.record_objects(records, name)
        click.echo(json.dumps(objects, indent=2, ensure_ascii=False))
        return
    for index, (name, ctx, records) in enumerate(listing):
        if index:
            click.echo("")
        if zone:
            click.echo(
                dnsrender.render_zone(name, records, ttl=ctx.ttl, serial=_serial()), nl=False
            )
        elif chosen == "bind":
            click.echo(f"; {name}")
            click.echo(dnsrender.render_bind(records), nl=False)
        else:
            click.echo(f"zone {name}")
            emit_rows(dnsrender.render_table(records, name), dnsrender.COLUMNS, "table")


def _listing(a: App, names: tuple[str, ...]) -> list[tuple[str, DnsContext, list[Record]]]:
    from mailctl.services import dns as dnsstate

    with a.reading() as db:
        return dnsstate.listing(db, a.settings, names, a.warn)


def _note_host_records(a: App, listing: list[tuple[str, DnsContext, list[Record]]]) -> None:
    """Say where the server's own records are when the listing leaves them out."""
    shown = {name for name, _ctx, _records in listing}
    ctx = listing[0][1]
    if ctx.host_zone and ctx.host_zone not in shown:
        a.note(
            f"the server's own records ({ctx.hostname} A/AAAA, PTR) are listed with"
            f" {ctx.host_zone}: mailctl dns show {ctx.host_zone}"
        )


def _serial() -> int:
    """SOA serial in the usual YYYYMMDDnn form."""
    from datetime import date

    return int(date.today().strftime("%Y%m%d")) * 100 + 1


def _domain_context(a: App, value: str) -> tuple[str, DnsContext]:
    """A hosted domain's stored name and its config-only context."""
    from mailctl.services import dns as dnsstate
    from mailctl.services.domains import get_domain

    with a.reading() as db:
        name = get_domain(db, value).name
    return name, dnsstate.base_context(a.settings)


@dns.command("mta-sts-policy")
@click.argument("name", metavar="DOMAIN")
@pass_app
def mta_sts_policy(a: App, name: str) -> None:
    """Print the MTA-STS policy (RFC 8461) to serve for DOMAIN.

    Serve it as text/plain at https://mta-sts.DOMAIN/.well-known/mta-sts.txt;
    the id in the _mta-sts TXT record is derived from this text.
    """
    from mailctl.dns import clientconfig

    domain, ctx = _domain_context(a, name)
    policy = clientconfig.mta_sts_policy(ctx)
    click.echo(policy, nl=False)
    a.note(
        f"serve as text/plain at {clientconfig.MTA_STS_URL.format(domain=domain)};"
        f' publish _mta-sts.{domain}. TXT "v=STSv1; id={clientconfig.mta_sts_id(policy)}"'
    )


@dns.command("autoconfig")
@click.argument("name", metavar="DOMAIN")
@pass_app
def autoconfig(a: App, name: str) -> None:
    """Print Thunderbird's config-v1.1.xml for DOMAIN.

    Serve it at https://autoconfig.DOMAIN/mail/config-v1.1.xml.
    """
    from mailctl.dns import clientconfig

    domain, ctx = _domain_context(a, name)
    click.echo(clientconfig.autoconfig_xml(domain, ctx), nl=False)
    a.note(f"serve at {clientconfig.AUTOCONFIG_URL.format(domain=domain)}")


@dns.command("autodiscover")
@click.argument("name", metavar="DOMAIN")
@pass_app
def autodiscover(a: App, name: str) -> None:
    """Print Outlook's autodiscover.xml for DOMAIN.

    The POX autodiscover response (outlook/responseschema/2006a).

    Serve it at https://autodiscover.DOMAIN/autodiscover/autodiscover.xml for
    POST (Outlook's request) as well as GET.
    """
    from mailctl.dns import clientconfig

    domain, ctx = _domain_context(a, name)
    click.echo(clientconfig.autodiscover_xml(domain, ctx), nl=False)
    a.note(f"serve at {clientconfig.AUTODISCOVER_URL.format(domain=domain)} (answer POST and GET)")


@dns.command("check")
@click.argument("names", nargs=-1, metavar="[DOMAIN]...")
@click.option("--nameserver", metavar="HOST[:PORT]", help="Ask this DNS server directly.")
@output_format
@pass_app
def check(a: App, names: tuple[str, ...], nameserver: str | None, fmt: str | None) -> None:
    """Look the records up live and compare: OK, MISSING, DIFFERENT or ERROR per record.

    Exit 1 when a required or recommended record is not OK.
    """
    from mailctl.errors import MailctlError

    rows = check_rows(a, names, nameserver)
    emit_rows(
        [
            {
                "domain": r.domain,
                "name": r.name,
                "type": r.type,
                "status": r.status,
                "level": r.level,
                "expected": r.expected,
                "found": r.found,
            }
            for r in rows
        ],
        ("domain", "name", "type", "status", "level", "expected", "found"),
        fmt,
    )
    failed = [r for r in rows if r.failed]
    if failed:
        raise MailctlError(
            f"{len(failed)} of {len(rows)} record(s) not as expected: "
            + ", ".join(f"{r.name} {r.type} {r.status}" for r in failed[:5])
            + (" ..." if len(failed) > 5 else "")
        )
    a.note(f"all {len(rows)} records as expected")


def check_rows(a: App, names: tuple[str, ...], nameserver: str | None) -> list[Row]:
    from mailctl.services import dns as dnsstate

    with a.reading() as db:
        return dnsstate.check(db, a.settings, names, nameserver, a.warn)
