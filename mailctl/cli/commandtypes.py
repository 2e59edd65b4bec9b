"""click's Command and Group, with the --help and --version options built here.

click builds each command's --help option (and click.version_option its texts)
with the text passed through gettext, and gettext's first lookup imports
`locale` and searches for message catalogues: about a millisecond and a half of
every mailctl run, for a text mailctl never ships a translation of. Every
mailctl command is one of these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

HELP_TEXT = "Show this message and exit."
# What --help and --version are: a flag, handled before the others, that prints and exits.
_PRINT_AND_EXIT: dict[str, Any] = {"is_flag": True, "expose_value": False, "is_eager": True}


def _printing(text: Callable[[click.Context], str]) -> Callable[..., None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            click.echo(text(ctx), color=ctx.color)
            ctx.exit()

    return callback


def version_option(version: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """--version, as click.version_option prints it for prog_name "mailctl"."""
    return click.option(
        "--version",
        help="Show the version and exit.",
        callback=_printing(lambda _ctx: f"mailctl, version {version}"),
        **_PRINT_AND_EXIT,
    )


class Command(click.Command):
    _own_help: click.Option | None = None

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        if not self.add_help_option or not (names := self.get_help_option_names(ctx)):
            return None
        if self._own_help is None:  # one object: click orders eager options by identity
            self._own_help = click.Option(
                names, help=HELP_TEXT, callback=_printing(click.Context.get_help), **_PRINT_AND_EXIT
            )
        return self._own_help


class Group(Command, click.Group):
    command_class = Command
    group_class = type  # subgroups are of the same class
