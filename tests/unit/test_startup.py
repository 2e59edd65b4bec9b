"""What keeps every command's start short, held in place."""

from __future__ import annotations

import ast
from pathlib import Path

import mailctl

PACKAGE = Path(mailctl.__file__).parent


def _is_dataclass(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name) and target.id == "dataclass":
            return True
    return False


def test_every_dataclass_has_a_docstring() -> None:
    """Without one, dataclass() builds a docstring from inspect.signature, formatting
    every annotation: the config schema alone cost 15 ms of each command's start."""
    missing = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and _is_dataclass(node) and not ast.get_docstring(node)
    ]
    assert missing == []


def test_the_dns_records_load_no_network_or_xml_library() -> None:
    """`domain add` prints its records: xml.sax.saxutils, for one escape(), used to
    bring urllib.request along (30 ms)."""
    import subprocess
    import sys

    probe = "import sys, mailctl.dns.records; print(sorted(m for m in sys.modules if m in {0!r}))"
    heavy = {"urllib.request", "xml.sax", "http.client", "email"}
    ran = subprocess.run(
        [sys.executable, "-c", probe.format(heavy)], capture_output=True, text=True, check=True
    )
    assert ran.stdout.strip() == "[]"
