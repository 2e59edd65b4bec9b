"""MkDocs hook: the site's footer names the version, from mailctl/__init__.py.

`__version__` there is the one version source (the wheel, the .deb, `mailctl
--version` and the man page take theirs from it too), so the docs never carry a
version of their own that a release could forget to change.
"""

from __future__ import annotations

from typing import Any


def on_config(config: Any, **kwargs: Any) -> Any:
    from mailctl import __version__

    config["copyright"] = f"mailctl {__version__} · MIT license"
    return config
