"""click's Command and Group, with the --help option built here.

click builds each command's --help option with its help text passed through
gettext, and gettext's first lookup imports `locale` and searches for message
catalogues: about a millisecond and a half of every mailctl run, for a text
mailctl never ships a translation of. Every mailctl command is one of these.
"""

from __future__ import annotations

import click

HELP_TEXT = "Show this message and exit."


def _show_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


class Command(click.Command):
    _own_help: click.Option | None = None

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        if not self.add_help_option or not (names := self.get_help_option_names(ctx)):
            return None
        if self._own_help is None:  # one object: click orders eager options by identity
            self._own_help = click.Option(
                names,
                is_flag=True,
                expose_value=False,
                is_eager=True,
                help=HELP_TEXT,
                callback=_show_help,
            )
        return self._own_help


class Group(Command, click.Group):
    command_class = Command
    group_class = type  # subgroups are of the same class
