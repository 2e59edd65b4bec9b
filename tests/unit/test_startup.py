"""What keeps every command's start short, held in place."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
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
    probe = "import sys, mailctl.dns.records; print(sorted(m for m in sys.modules if m in {0!r}))"
    heavy = {"urllib.request", "xml.sax", "http.client", "email"}
    ran = subprocess.run(
        [sys.executable, "-c", probe.format(heavy)], capture_output=True, text=True, check=True
    )
    assert ran.stdout.strip() == "[]"


# The console script's exit (cli.root.main): os._exit once nothing is left to tear down.
_MAIN = (
    "import sys\n"
    "from mailctl.cli.root import main\n"
    "sys.argv = ['mailctl', *sys.argv[1:]]\n"
    "{setup}\n"
    "main()\n"
    "print('after main: the ordinary exit')\n"
)


def _console(
    *args: str, setup: str = "pass", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONUNBUFFERED", None)  # stdout buffered, as on any machine by default
    return subprocess.run(
        [sys.executable, "-c", _MAIN.format(setup=setup), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_output_still_in_the_buffer_arrives() -> None:
    """Output written but not flushed when the command ends is flushed before os._exit
    (click.echo flushes each line itself; print, say, does not)."""
    setup = "import click\nclick.echo = lambda message, **_: print(message, end='')"
    ran = _console("--version", setup=setup)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"mailctl, version {mailctl.__version__}"  # not "after main"


def test_exit_codes_are_kept(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("MAILCTL_CONFIG", None)  # the sandbox
    missing = _console("user", "show", "nobody@example.nl", env=env)
    assert missing.returncode == 1, missing.stderr
    assert missing.stderr.splitlines()[-1].startswith("mailctl: error: ")
    assert _console("user", "frobnicate", env=env).returncode == 2
    assert "after main" not in missing.stdout


def test_an_atexit_callback_gets_the_ordinary_exit() -> None:
    ran = _console(
        "--version", setup="import atexit; atexit.register(print, 'atexit callback ran')"
    )
    assert ran.returncode == 0
    assert ran.stdout.splitlines()[-1] == "atexit callback ran"


def test_a_running_thread_gets_the_ordinary_exit() -> None:
    """A thread still at work is waited for, as Python's exit always does."""
    setup = (
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()"
    )
    ran = _console("--version", setup=setup)
    assert ran.returncode == 0 and ran.stdout.splitlines()[-1] == "thread done"
