"""`mailctl doctor`: whole-installation health check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailctl.cli.app import app, emit_rows, output_format
from mailctl.errors import MailctlError

if TYPE_CHECKING:
    from mailctl.services.doctor import Result


@click.command()
@click.option("--dns", "with_dns", is_flag=True, help="Also run `dns check` for every domain.")
@click.option("--nameserver", metavar="HOST[:PORT]", help="DNS server for --dns.")
@output_format
def doctor(fmt: str | None, with_dns: bool, nameserver: str | None) -> None:
    """Check database, managed files, keys, certificates and role aliases.

    One row per check; exit 1 when any check fails.
    """
    from sqlalchemy.orm import Session

    from mailctl.services import doctor as checks

    a = app()
    engine = a.engine(check_schema=False)
    results = [checks.database(engine)]
    if not results[0].failed:
        with Session(engine) as session:
            for check in checks.CHECKS:
                results.extend(check(session, a.settings))
        if with_dns:
            results.extend(_dns_results(nameserver))
    emit_rows(
        [{"check": r.check, "status": r.status, "detail": r.detail} for r in results],
        ("check", "status", "detail"),
        fmt,
    )
    failed = [r for r in results if r.failed]
    if failed:
        raise MailctlError(f"{len(failed)} check(s) failed: {', '.join(r.check for r in failed)}")


def _dns_results(nameserver: str | None) -> list[Result]:
    """One row per domain: its records as `dns check` sees them."""
    from mailctl.cli.commands.dns import check_rows
    from mailctl.services.doctor import Result

    try:
        rows = check_rows(app(), (), nameserver)
    except MailctlError as exc:
        return [Result("dns", "FAIL", str(exc))]
    out: list[Result] = []
    for name in dict.fromkeys(r.domain for r in rows):
        bad = [r for r in rows if r.domain == name and r.failed]
        if bad:
            detail = "; ".join(f"{r.name} {r.type} {r.status}" for r in bad[:4])
            out.append(Result(f"dns {name}", "FAIL", detail + (" ..." if len(bad) > 4 else "")))
        else:
            out.append(Result(f"dns {name}", "OK", "published records match (dns check)"))
    return out
