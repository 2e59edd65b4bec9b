"""The `mailctl` command: global options, lazily loaded command groups, and
the one place where errors become a line on stderr and an exit code."""

from __future__ import annotations

import importlib
from typing import Any

import click

from mailctl import __version__
from mailctl.cli.app import App
from mailctl.errors import MailctlError, printable

# name -> "module:attribute"; a group's module is imported only when it runs
# (or when --help lists it), so startup stays at the cost of click.
COMMANDS = {
    "init": "mailctl.cli.commands.init:init",
    "config": "mailctl.cli.commands.init:config",
    "db": "mailctl.cli.commands.db:db",
    "domain": "mailctl.cli.commands.domain:domain",
    "user": "mailctl.cli.commands.user:user",
    "alias": "mailctl.cli.commands.alias:alias",
    "sender": "mailctl.cli.commands.sender:sender",
    "report": "mailctl.cli.commands.report:report",
    "sync": "mailctl.cli.commands.sync:sync",
    "setup": "mailctl.cli.commands.setup:setup",
    "dns": "mailctl.cli.commands.dns:dns",
    "dkim": "mailctl.cli.commands.dkim:dkim",
    "doctor": "mailctl.cli.commands.doctor:doctor",
    "export": "mailctl.cli.commands.transfer:export",
    "import": "mailctl.cli.commands.transfer:import_",
    "completion": "mailctl.cli.commands.completion:completion",
}


class MailctlGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

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
@click.version_option(__version__, prog_name="mailctl")
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
    cli.main(prog_name="mailctl")


if __name__ == "__main__":  # pragma: no cover
    main()
