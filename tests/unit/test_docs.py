"""The documentation comes from the code, and this holds it to that.

The site is built once with `mkdocs build --strict` (mkdocs, mkdocs-material and
mkdocs-click come with the `test` extra); the command reference must show every
command and option of the click tree (the lazily loaded groups included), the
configuration reference every key of every section. man/mailctl.1 must be what
scripts/gen-man writes today, and README.md must stay the short front door.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from support.env import REPO_ROOT, need, program

from mailctl.cli.root import cli
from mailctl.core.config import SECTIONS

README_LIMIT = 8192


# ------------------------------------------------------------------ the built site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs site, built strictly (any warning fails) into a temporary directory."""
    # The venv's own script: `python -m mkdocs` would put the working directory,
    # perhaps the source tree, first on sys.path and shadow the installed mailctl.
    mkdocs = Path(sys.executable).parent / "mkdocs"
    need(mkdocs.is_file(), f"{mkdocs} not found: install the test extra (pip install '.[test]')")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [
            str(mkdocs),
            "build",
            "--strict",
            "--config-file",
            str(REPO_ROOT / "mkdocs.yml"),
            "--site-dir",
            str(out),
        ],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stderr}"
    return out


def page_text(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text(encoding="utf-8")


def section(page: str, anchor: str) -> str:
    """The page from the heading with id `anchor` to the next heading, tags removed."""
    start = page.find(f'id="{anchor}"')
    assert start >= 0, f"no heading #{anchor}"
    end = re.compile(r"<h[1-6][ >]").search(page, start)
    body = page[start : end.start() if end else len(page)]
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


# ------------------------------------------------------------------ the click tree


def commands(
    command: click.Command, name: str, parent: click.Context | None = None
) -> Iterator[click.Context]:
    """Every visible command, as click builds its context (like scripts/gen-man)."""
    ctx = command.context_class(command, info_name=name, parent=parent, **command.context_settings)
    if command.hidden:
        return
    yield ctx
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None:
                yield from commands(sub, sub_name, ctx)


def slug(command_path: str) -> str:
    # mkdocs-click's permalink for a command: markdown's toc slugify with '-'.
    from markdown.extensions.toc import slugify

    return slugify(command_path, "-")


ALL_COMMANDS = list(commands(cli, "mailctl"))


def test_the_click_tree_includes_the_lazily_loaded_commands() -> None:
    paths = {ctx.command_path for ctx in ALL_COMMANDS}
    assert {"mailctl domain add", "mailctl dns mta-sts-policy", "mailctl import"} <= paths
    assert len(paths) > 30


# ------------------------------------------------------------------ (a) commands


def test_every_command_and_option_is_in_the_command_reference(site: Path) -> None:
    page = page_text(site, "reference/commands")
    assert "Sentinel" not in page, "click's UNSET default leaked into the reference"
    missing = []
    for ctx in ALL_COMMANDS:
        anchor = slug(ctx.command_path)
        if f'id="{anchor}"' not in page:
            missing.append(ctx.command_path)
            continue
        text = section(page, anchor)
        if ctx.command_path not in text:
            missing.append(ctx.command_path)
        for param in ctx.command.get_params(ctx):
            if isinstance(param, click.Option) and not param.hidden:
                for name in [*param.opts, *param.secondary_opts]:
                    # A whole token: "-n" inside "--no-schema" does not count.
                    if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
                        missing.append(f"{ctx.command_path} {name}")
    assert not missing, f"not in docs/reference/commands: {missing}"


# ------------------------------------------------------------------ (b) configuration


def test_every_config_key_is_in_the_configuration_reference(site: Path) -> None:
    page = page_text(site, "reference/configuration")
    missing = []
    for name, cls in SECTIONS.items():
        if f'id="{name}"' not in page:
            missing.append(f"[{name}]")
            continue
        text = section(page, name)
        for field in dataclasses.fields(cls):
            if not re.search(rf"(?<![\w.]){re.escape(field.name)}(?![\w.])", text):
                missing.append(f"{name}.{field.name}")
            # The doc is Markdown: `code` spans lose their backticks on the page,
            # and tags became spaces, so compare without any whitespace.
            doc = re.sub(r"\s+", "", field.metadata.get("doc", "").replace("`", ""))
            if not doc or doc not in re.sub(r"\s+", "", text):
                missing.append(f"{name}.{field.name} (its doc)")
    assert not missing, f"not in docs/reference/configuration: {missing}"


# ------------------------------------------------------------------ (c) man page


def test_man_page_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "mailctl.1"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gen-man"), "--output", str(fresh)],
        check=True,
        timeout=60,
    )
    committed = REPO_ROOT / "man" / "mailctl.1"
    assert committed.read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8"), (
        "man/mailctl.1 is out of date: run scripts/gen-man and commit the result"
    )


def test_man_page_renders_without_warnings() -> None:
    groff = program("groff")
    rendered = subprocess.run(
        [groff, "-man", "-ww", "-z", str(REPO_ROOT / "man" / "mailctl.1")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rendered.returncode == 0 and not rendered.stderr, rendered.stderr


# ------------------------------------------------------------------ (d) README


def test_readme_is_the_short_front_door() -> None:
    readme = (REPO_ROOT / "README.md").read_bytes()
    assert len(readme) < README_LIMIT, f"README.md is {len(readme)} bytes; keep it under 8 KB"
    assert b"scripts/test" in readme


def test_the_command_table_lists_each_commands_own_help() -> None:
    """`mailctl --help` prints COMMANDS' lines without importing the commands."""
    import importlib

    from mailctl.cli.root import COMMANDS

    for name, (target, summary) in COMMANDS.items():
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert summary == command.get_short_help_str(10_000), name
