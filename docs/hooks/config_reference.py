"""MkDocs hook: the configuration reference, generated from mailctl's config schema.

docs/reference/configuration.md holds the prose around the reference; at build
time its marker line is replaced by one table per section of
`mailctl.core.config.SECTIONS` (key, default, accepted values, meaning from each
field's `doc` metadata) and by the complete commented file that `mailctl init`
writes (`render_toml(build_settings({}), masked=False, commented=True)`). The
defaults are taken from that same rendering, so the page shows each value
exactly as it appears in config.toml. Nothing here is maintained by hand: a new
key or section appears on the next build.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

from mkdocs.exceptions import PluginError

PAGE = "reference/configuration.md"
MARKER = "<!-- mailctl-config-reference -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any, **kwargs: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if markdown.count(MARKER) != 1:
        raise PluginError(f"{PAGE} must contain the line {MARKER} exactly once")
    return markdown.replace(MARKER, render_reference())


def render_reference() -> str:
    from mailctl.core.config import SECTIONS, build_settings, render_toml

    settings = build_settings({})
    defaults = _toml_values(render_toml(settings, masked=False, commented=False))
    out: list[str] = []
    for section, cls in SECTIONS.items():
        out += [f"## `[{section}]` {{#{section}}}", ""]
        out += ["| key | default | accepted | meaning |", "|---|---|---|---|"]
        for f in dataclasses.fields(cls):
            doc = f.metadata.get("doc")
            if not doc:
                raise PluginError(f"config key {section}.{f.name} has no doc metadata")
            cells = [
                _code(f.name),
                _code(defaults[section][f.name]),
                _accepted(f.metadata, defaults[section][f.name]),
                _cell(doc),
            ]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out += [
        "## The file `mailctl init` writes {#init-file}",
        "",
        "Every key with its default and its one-line documentation, as `mailctl init`",
        "writes it (with the values you give it instead of these defaults):",
        "",
        "```toml",
        render_toml(settings, masked=False, commented=True).rstrip("\n"),
        "```",
        "",
    ]
    return "\n".join(out)


def _toml_values(text: str) -> dict[str, dict[str, str]]:
    """section -> key -> the value exactly as written in config.toml."""
    values: dict[str, dict[str, str]] = {}
    section: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = values.setdefault(line[1:-1], {})
        elif " = " in line:
            key, _, value = line.partition(" = ")
            section[key] = value
    return values


def _accepted(rules: Any, default: str) -> str:
    parts: list[str] = []
    if "choices" in rules:
        parts.append("one of " + ", ".join(_code(str(c)) for c in rules["choices"]))
    if "min" in rules and "max" in rules:
        parts.append(f"integer {rules['min']} to {rules['max']}")
    elif "min" in rules:
        parts.append(f"integer ≥ {rules['min']}")
    elif "max" in rules:
        parts.append(f"integer ≤ {rules['max']}")
    elif default in ("true", "false"):
        parts.append("`true` or `false`")
    elif default.startswith("["):
        parts.append("list of strings")
    if "check" in rules and not parts:
        parts.append("checked when loaded")
    if rules.get("secret"):
        parts.append("masked as `***` in output")
    return "; ".join(parts) or "string"


def _code(text: str) -> str:
    # An HTML code span with Markdown's special characters as entities: a '|'
    # cannot split the table cell, a '*' or '_' cannot start emphasis.
    escaped = html.escape(text, quote=False)
    for char in "|*_`[]\\":
        escaped = escaped.replace(char, f"&#{ord(char)};")
    return f"<code>{escaped}</code>"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
