"""The `mailctl` command: global options, lazily loaded command groups, and
the one place where errors become a line on stderr and an exit code."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from mailctl import __version__
from mailctl.cli.app import App
from mailctl.cli.commandtypes import Command, Group, version_option
from mailctl.errors import MailctlError, printable

# name -> ("module:attribute", the one-line help `mailctl --help` lists). A command's
# module is imported only when it runs, so `--help` costs about what click does;
# tests/unit/test_docs.py keeps each line equal to the command's own help.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "mailctl.cli.commands.init:init",
        "Write a complete commented config (0600) and create or adopt the schema.",
    ),
    "config": ("mailctl.cli.commands.init:config", "Inspect the configuration."),
    "db": ("mailctl.cli.commands.db:db", "Database schema: migrate, adopt, inspect."),
    "domain": ("mailctl.cli.commands.domain:domain", "Hosted mail domains."),
    "user": ("mailctl.cli.commands.user:user", "Mailboxes (virtual_users) and their passwords."),
    "alias": (
        "mailctl.cli.commands.alias:alias",
        "Aliases, catch-alls (@domain) and alias domains (@a.tld -> @b.tld).",
    ),
    "sender": (
        "mailctl.cli.commands.sender:sender",
        "Send-as: the addresses (or @domains) a login may send as beyond its own.",
    ),
    "report": (
        "mailctl.cli.commands.report:report",
        "Reports over every mailbox, from what Dovecot records (usage, last login).",
    ),
    "sync": (
        "mailctl.cli.commands.sync:sync",
        "Render KeyTable, SigningTable, SNI map, HELO checks and Dovecot SNI from the database.",
    ),
    "host": (
        "mailctl.cli.commands.host:host",
        "Mail hosts on this database and when each last synced.",
    ),
    "setup": (
        "mailctl.cli.commands.setup:setup",
        "One-time server setup: SQL accounts and the read-only SQL config files.",
    ),
    "dns": (
        "mailctl.cli.commands.dns:dns",
        "DNS records to publish, MTA-STS policy and client autoconfiguration.",
    ),
    "dkim": ("mailctl.cli.commands.dkim:dkim", "DKIM keys: show, rotate, activate, retire."),
    "doctor": (
        "mailctl.cli.commands.doctor:doctor",
        "Check database, managed files, keys, certificates and role aliases.",
    ),
    "export": (
        "mailctl.cli.commands.transfer:export",
        "Write domains, DKIM key data, mailboxes with their hashes and aliases.",
    ),
    "import": (
        "mailctl.cli.commands.transfer:import_",
        "Create or update domains, mailboxes and aliases from FILE ('-': stdin).",
    ),
    "completion": (
        "mailctl.cli.commands.completion:completion",
        "Print the TAB completion script for SHELL (bash, zsh or fish).",
    ),
}


class MailctlGroup(Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, attribute = COMMANDS[cmd_name][0].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from COMMANDS, without importing every command's module."""
        limit = formatter.width - 6 - max(map(len, COMMANDS))
        rows = [  # click's own shortening, as it would list the real commands
            (name, Command(name, help=COMMANDS[name][1]).get_short_help_str(limit))
            for name in sorted(COMMANDS)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        # Only MailctlError is the user's to fix (database errors included: the db
        # layer translates them); anything else is a bug and keeps its traceback.
        try:
            return super().invoke(ctx)
        except MailctlError as exc:
            if _debug(ctx):
                raise
            fail(ctx, exc.lines(), exc.exit_code)


def _debug(ctx: click.Context) -> bool:
    return isinstance(ctx.obj, App) and ctx.obj.debug


def fail(ctx: click.Context, lines: list[str], code: int) -> None:
    """Print an error as `mailctl: error: ...`, each of its lines escaped into one."""
    first, *rest = map(printable, lines)
    click.echo("\n".join([f"mailctl: error: {first}", *rest]), err=True)
    ctx.exit(code)


@click.group(cls=MailctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    envvar="MAILCTL_CONFIG",
    metavar="PATH",
    help="Config file (default /etc/mailctl/config.toml; none: sandbox).",
)
@click.option(
    "--db",
    "db_url",
    envvar="MAILCTL_DB_URL",
    metavar="URL",
    help="Database URL, overrides database.url.",
)
@click.option("--dry-run", "-n", is_flag=True, help="Show what would change; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Answer yes to confirmation prompts.")
@click.option("-v", "--verbose", count=True, help="Say more (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and requested output.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@version_option(__version__)  # not click's: it looks its texts up with gettext
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    db_url: str | None,
    dry_run: bool,
    yes: bool,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Administer a Postfix + Dovecot + MariaDB + OpenDKIM mail server.

    Domains, mailboxes and aliases in the guide's database, with everything
    a domain needs around it, one command at a time.
    """
    ctx.obj = App(
        config_path=config_path,
        db_url=db_url,
        dry_run=dry_run,
        yes=yes,
        verbosity=-1 if quiet else verbose,
        debug=debug,
    )


def main() -> None:
    """The console script. click's main ends every run in SystemExit; the process then
    ends without tearing the interpreter down module by module, which costs an
    everyday command a tenth of its time, when nothing is left for that teardown
    to do (see _leave)."""
    try:
        cli.main(prog_name="mailctl")
    except SystemExit as exc:
        _leave(exc)
        raise


def _leave(exc: SystemExit) -> None:
    """os._exit(code) when the exit hooks and the teardown have nothing to do: no
    atexit callback (none in everyday commands; a library that registers one, or an
    interpreter without CPython's count, gets the ordinary exit), no other thread,
    and stdout and stderr flushed. The database connection is closed already (the
    click context's close), and every file mailctl writes is written and closed
    before the command returns."""
    import atexit
    import os
    import threading

    code = 0 if exc.code is None else exc.code
    pending = getattr(atexit, "_ncallbacks", lambda: 1)()
    if not isinstance(code, int) or pending or threading.active_count() > 1:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # a closed pipe, say: the ordinary exit reports it as it always has
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
