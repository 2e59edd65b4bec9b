"""`mailctl doctor`: whole-installation health check."""

from __future__ import annotations

import click

from mailctl.cli.app import App, emit_rows, output_format, pass_app
from mailctl.cli.commandtypes import Command
from mailctl.errors import MailctlError


@click.command(cls=Command)
@click.option("--dns", "with_dns", is_flag=True, help="Also run `dns check` for every domain.")
@click.option(
    "--web",
    "with_web",
    is_flag=True,
    help="Also fetch each domain's MTA-STS policy over HTTPS and compare it with DNS.",
)
@click.option(
    "--cluster",
    "with_cluster",
    is_flag=True,
    help="Also check the Galera cluster and that every mail host syncs (mailctl_hosts).",
)
@click.option("--nameserver", metavar="HOST[:PORT]", help="DNS server for --dns and --web.")
@output_format
@pass_app
def doctor(
    a: App,
    fmt: str | None,
    with_dns: bool,
    with_web: bool,
    with_cluster: bool,
    nameserver: str | None,
) -> None:
    """Check database, managed files, keys, certificates and role aliases.

    Certificates are checked on disk and as the running Dovecot (IMAPS) and
    Postfix (submission, STARTTLS) serve them (tls.probe_host). With --web,
    https://mta-sts.DOMAIN/.well-known/mta-sts.txt is fetched as a sender
    fetches it (web.probe_host, the certificate verified with web.ca_file or
    the system's CAs) and compared with mailctl's policy and the `_mta-sts`
    id in DNS. With --cluster, the Galera node's wsrep_ready, cluster size and
    status and flow control, and each mail host's last successful `sync`
    (late after host.sync_stale_after seconds) and whether its files were in
    sync. One row per check; exit 1 when any check fails.
    """
    from mailctl.dns.lookup import parse_nameserver
    from mailctl.services import doctor as checks

    if nameserver:
        parse_nameserver(nameserver)  # a malformed one is a usage error before any check
    engine = a.engine(check_schema=False)
    results = [checks.database(engine)]
    if not results[0].failed:
        db = a.db()
        for check in checks.CHECKS:
            results.extend(check(db, a.settings))
        if with_dns:
            results.extend(checks.dns(db, a.settings, nameserver, a.warn))
        if with_web:
            results.extend(checks.web(db, a.settings, nameserver))
        if with_cluster:
            results.extend(checks.cluster(db, a.settings))
    emit_rows(
        [{"check": r.check, "status": r.status, "detail": r.detail} for r in results],
        ("check", "status", "detail"),
        fmt,
    )
    failed = [r for r in results if r.failed]
    if failed:
        raise MailctlError(f"{len(failed)} check(s) failed: {', '.join(r.check for r in failed)}")
