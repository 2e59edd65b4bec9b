"""`mailctl init` and `mailctl config show`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mailctl.cli.app import App, FilePath, mutating, pass_app
from mailctl.cli.commandtypes import Command, Group
from mailctl.errors import AlreadyExists, ConfigError

# init's prompts: option name -> (config section, key, question)
INIT_FIELDS = {
    "db_url": ("database", "url", "Database URL"),
    "db_password_file": ("database", "password_file", "Database password file"),
    "hostname": ("server", "hostname", "Mail host name (PTR/HELO)"),
    "primary_domain": ("server", "primary_domain", "Primary mail domain"),
    "ipv4": ("server", "ipv4", "Public IPv4 address"),
    "ipv6": ("server", "ipv6", "Public IPv6 address"),
    "admin_email": ("server", "admin_email", "Admin address for postmaster@/abuse@"),
}


OPTIONAL_KEYS = ("password_file", "ipv6")


def _init_options(func: click.decorators.FC) -> click.decorators.FC:
    for name, (section, key, question) in reversed(INIT_FIELDS.items()):
        func = click.option(
            "--" + name.replace("_", "-"), name, default=None, help=f"{question} ({section}.{key})."
        )(func)
    return func


@click.command(cls=Command)
@click.option(
    "--path",
    "target",
    type=FilePath(dir_okay=False),
    default=None,
    help="Where to write the config (default: --config, else /etc/mailctl/config.toml).",
)
@_init_options
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Any other config key, e.g. --set dkim.bits=4096 (a TOML value, else a string).",
)
@click.option("--force", is_flag=True, help="Replace an existing config file.")
@click.option("--no-schema", is_flag=True, help="Only write the config; leave the database alone.")
@mutating
@pass_app
def init(
    a: App,
    target: str | None,
    assignments: tuple[str, ...],
    force: bool,
    no_schema: bool,
    **given: str | None,
) -> None:
    """Write a complete commented config (0600) and create or adopt the schema.

    Runs under the lock and writes the audit log that the new config names."""
    from mailctl.core import db as database
    from mailctl.core.config import (
        DEFAULT_CONFIG_PATH,
        build_settings,
        database_url,
        render_toml,
    )
    from mailctl.system.files import atomic_write

    path = Path(target or a.config_path or DEFAULT_CONFIG_PATH)
    if path.exists() and not force:
        raise AlreadyExists(f"config file {path} exists already (use --force to replace it)")
    interactive = sys.stdin.isatty() and not a.yes
    data: dict[str, dict[str, object]] = {}
    defaults = build_settings({})
    for name, (section, key, question) in INIT_FIELDS.items():
        value = given.get(name)
        if value is None and interactive:
            value = click.prompt(
                f"{question} ('none' for empty)" if key in OPTIONAL_KEYS else question,
                default=getattr(getattr(defaults, section), key) or "none",
                show_default=True,
                err=True,
            )
            if key in OPTIONAL_KEYS and value.strip().lower() == "none":
                value = ""
        if value is not None:
            data.setdefault(section, {})[key] = value
    for section, key, assigned in map(_assignment, assignments):
        data.setdefault(section, {})[key] = assigned
    if a.db_url and "url" not in data.get("database", {}):
        data.setdefault("database", {})["url"] = a.db_url
    settings = build_settings(data, source=str(path))
    text = render_toml(settings, masked=False, commented=True)
    if a.dry_run:
        a.note(f"dry run: would write {path} (mode 0600):", force=True)
        click.echo(text)
        return
    if settings.database.password_file and not Path(settings.database.password_file).exists():
        raise ConfigError(
            f"database password file {settings.database.password_file} does not exist"
        )
    from mailctl.services.unit import Work

    with Work(settings, a).locked() as audited:
        atomic_write(path, text, mode=0o600, replace=force)
        audited.append(f"wrote {path}")
        a.note(f"wrote {path}")
        if no_schema:
            return
        engine = database.make_engine(
            database_url(settings), create=True, failover=settings.database.failover
        )
        before, adopted = database.upgrade(engine)
        audited.append(f"schema {before.current or 'empty'} -> {before.head}")
        from mailctl.dkim import stored

        imported = stored.import_key_files_of(settings)  # as db upgrade does
        audited.extend(f"took {path} into mailctl_dkim_secrets" for path in imported.taken)
    if adopted:
        a.note("adopted the existing guide tables; rows untouched")
    a.note(f"schema at {before.head}")
    if taken := stored.describe(imported):
        a.note(taken)
    for problem in imported.problems:
        a.warn(problem)


def _assignment(text: str) -> tuple[str, str, object]:
    """`section.key=value` from --set; the value is read as TOML, else taken as a string."""
    import tomllib

    from mailctl.errors import UsageError

    name, sep, raw = text.partition("=")
    section, dot, key = name.strip(" ").partition(".")
    if not sep or not dot or not section or not key:
        raise UsageError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. dkim.bits=4096")
    try:
        value: object = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section, key, value


@click.group(cls=Group)
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.option("--format", "-f", "fmt", type=click.Choice(("toml", "json")), default="toml")
@pass_app
def show(a: App, fmt: str) -> None:
    """Print the effective configuration, secrets masked."""
    import json

    from mailctl.core.config import as_dict, render_toml

    settings = a.settings
    if fmt == "json":
        out = {
            "source": settings.source or None,
            "sandbox": settings.sandbox,
            **as_dict(settings, masked=True),
        }
        click.echo(json.dumps(out, indent=2))
        return
    where = settings.source or "sandbox defaults (no config file)"
    click.echo(f"# effective configuration from {where}{os.linesep}")
    click.echo(render_toml(settings, masked=True, commented=False))
