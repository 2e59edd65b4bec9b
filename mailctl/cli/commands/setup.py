"""`mailctl setup sql` and `mailctl setup render`: the SQL side of guide §4, §6 and §8.1."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailctl.cli.app import App, FilePath, mutating, pass_app
from mailctl.cli.commandtypes import Group
from mailctl.model.servers import DOVECOT_VERSIONS

if TYPE_CHECKING:
    from mailctl.setup.webserver import WebServerFile


@click.group(cls=Group)
def setup() -> None:
    """One-time server setup: SQL accounts and the read-only SQL config files."""


@setup.command("sql")
@click.option(
    "--print",
    "print_only",
    is_flag=True,
    help="Print the SQL (passwords masked) instead of running it; connects to nothing.",
)
@click.option(
    "--admin-url",
    metavar="URL",
    help="Admin connection, e.g. mysql+pymysql://root@127.0.0.1/ (no password here;"
    " default: setup.admin_url, else root@/postgres@ on database.url's server).",
)
@click.option(
    "--admin-password-file",
    type=FilePath(dir_okay=False),
    metavar="PATH",
    help="File (0600) holding the admin password (default: setup.admin_password_file).",
)
@click.option(
    "--rotate",
    is_flag=True,
    help="Generate new passwords for both accounts (then run 'mailctl setup render').",
)
@click.option(
    "--no-schema",
    is_flag=True,
    help="Do not create or migrate the schema as mailctl's account in between.",
)
@mutating
@pass_app
def sql(
    a: App,
    print_only: bool,
    admin_url: str | None,
    admin_password_file: str | None,
    rotate: bool,
    no_schema: bool,
) -> None:
    """Create or update the read-only and the mailctl SQL accounts (MariaDB, PostgreSQL).

    The read-only account (setup.readonly_user, guide: mailuser) gets SELECT on the
    three guide tables; mailctl's own account (the user in database.url) gets
    SELECT/INSERT/UPDATE/DELETE plus what migrations need. Passwords are generated
    and kept in setup.readonly_password_file and database.password_file (0600);
    running it again keeps them (--rotate makes new ones) and resets the privileges.
    """
    from mailctl.core.checks import database_url
    from mailctl.errors import UsageError
    from mailctl.setup import accounts as sqlaccounts
    from mailctl.setup.sqlscript import script

    # setup.admin_url's rule, before anything: a usage error whatever the database.
    if admin_url and (problem := database_url(admin_url)):
        raise UsageError(f"--admin-url {problem}")
    settings = a.settings
    target = sqlaccounts.target_from(settings)
    if print_only or a.dry_run:
        click.echo(script(target), nl=False)
        return
    with a.work().locked() as audited:
        url = sqlaccounts.admin_url(settings, override=admin_url, password_file=admin_password_file)
        report = sqlaccounts.provision(settings, url, rotate=rotate, schema=not no_schema)
        audited.extend(report.lines)  # names and paths, no secrets
    for line in report.lines:
        click.echo(line)
    for note in report.notes:
        a.note(note)
    if rotate:
        a.note(
            "new passwords: run 'mailctl setup render' so Postfix and Dovecot use the"
            " read-only one, then reload them"
        )


@setup.command("render")
@click.option(
    "--dovecot-version",
    type=click.Choice(DOVECOT_VERSIONS),
    default=None,
    help="Dovecot config syntax (default: dovecot.version, or the installed dovecot).",
)
@click.option(
    "--catchall-fix",
    is_flag=True,
    help="Also write the email2email map that stops a catch-all swallowing mailboxes.",
)
@click.option(
    "--web",
    type=click.Choice(["nginx"]),
    default=None,
    help="Also write this web server's config (web.nginx_conf) serving the files sync keeps"
    " in web.root over HTTPS.",
)
@mutating
@pass_app
def render(a: App, dovecot_version: str | None, catchall_fix: bool, web: str | None) -> None:
    """Write the Postfix SQL maps and Dovecot's SQL config, enforcing the account policy.

    The guide §8.1 maps (a mailbox that does not receive is left out; send-as
    grants join the sender-login map) go to setup.postfix_map_dir; Dovecot's
    SQL passdb (suspension, per-service flags) and userdb (quota) to
    setup.dovecot_sql_conf; with 2.3 its SQL dict to setup.dovecot_dict_conf;
    the quota, quota-status, quota_clone and last_login settings to
    setup.dovecot_policy_conf. Mode 0640, group postfix / dovecot, as the
    read-only account; the map type (mysql:, pgsql:, sqlite:) follows
    database.url. Prints the main.cf lines (check_policy_service included) and
    the Dovecot lines that use them.

    With --web nginx, also web.nginx_conf (0644): a server block for each
    mta-sts., autoconfig. and autodiscover. name of every domain that has a
    certificate, serving the files `sync` keeps in web.root with it over HTTPS
    and nothing else. Run it again after adding a domain.
    """
    from mailctl.serverfiles.managed import dovecot_version as detect_version
    from mailctl.setup import serverconfig as sqlconfig
    from mailctl.setup import webserver

    settings = a.settings
    version = dovecot_version
    if version is None:
        version, note = detect_version(settings)
        if note:
            a.note(note)
    with a.work().locked() as audited:  # plan inside: a failure is audited too
        planned = sqlconfig.plan(settings, dovecot_version=version, catchall_fix=catchall_fix)
        site = _web_plan(a) if web else None
        if not a.dry_run:
            written = sqlconfig.write(planned)
            audited.extend(f"wrote {p}" for p in written.changed)
            if site is not None and webserver.write(site):
                written.changed.append(site.path)
                audited.append(f"wrote {site.path}")
            elif site is not None:
                written.unchanged.append(site.path)
    for note in site.notes if site else ():
        a.note(note)
    if a.dry_run:
        for item in planned.files:
            if item.changed:
                click.echo(item.masked_diff(planned.source.password), nl=False)
        if site is not None and site.changed:
            click.echo(site.diff(), nl=False)
        a.note("dry run: nothing was written", force=True)
    else:
        for note in (*planned.notes, *written.notes):
            a.warn(note)
        for path in written.changed:
            click.echo(f"wrote {path}")
        for path in written.unchanged:
            click.echo(f"unchanged {path}")
    click.echo("")
    click.echo("# Postfix main.cf:")
    for line in planned.main_cf:
        click.echo(line)
    for line in planned.dovecot_usage:
        click.echo(f"# Dovecot {version}: {line}")
    for line in site.usage if site else ():
        click.echo(f"# nginx: {line}")


def _web_plan(a: App) -> WebServerFile:
    """The nginx file for the hosted domains."""
    from mailctl.setup import webserver
    from mailctl.store.guide import domain_names

    with a.reading() as db:
        names = domain_names(db)
    return webserver.plan(a.settings, names)
