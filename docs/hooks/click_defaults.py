"""MkDocs hook: show click's real option defaults in the generated command reference.

Since click 8.3 an option without an explicit default holds the sentinel
`click._utils.UNSET`, and mkdocs-click 0.9's table style prints it verbatim
("Sentinel.UNSET") in the Default column (mkdocs/mkdocs-click#95, not released
when this was written). Before each build this wraps mkdocs-click's row
formatter so such a default is shown as click applies it: `False` for a
boolean flag, `None` otherwise, which is what the table showed before click 8.3.
A newer mkdocs-click without that formatter needs no wrapper; tests/unit/test_docs.py
fails if the sentinel ever reaches the page.
"""

from __future__ import annotations

import copy
from typing import Any

import click

try:
    from click._utils import UNSET
except ImportError:  # click < 8.3 has no sentinel
    UNSET = object()


def on_config(config: Any, **kwargs: Any) -> Any:
    from mkdocs_click import _docs

    original = getattr(_docs, "_format_table_option_row", None)
    if original is None or getattr(original, "unset_aware", False):
        return config

    def format_row(option: click.Option) -> str:
        if option.default is UNSET:
            option = copy.copy(option)
            option.default = False if option.is_flag and option.is_bool_flag else None
        row: str = original(option)
        return row

    format_row.unset_aware = True  # type: ignore[attr-defined]
    _docs._format_table_option_row = format_row
    return config
