"""The audit trail: one JSON line per mutating command, in a 0600 file.

It records who (OS user and SUDO_USER), what command, which objects changed
and the result. Passwords never reach argv, and hashes and keys are never
written here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from mailctl.core.config import Settings


def append(path: Path, *, changes: Sequence[str], result: str) -> None:
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "user": _user(),
        "sudo_user": os.environ.get("SUDO_USER"),
        "command": ["mailctl", *(_masked(arg) for arg in sys.argv[1:])],
        "changes": list(changes),
        "result": result,
    }
    line = json_line(entry)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        print(f"mailctl: warning: cannot write audit log {path}: {exc.strerror}", file=sys.stderr)
        return
    try:
        os.write(fd, line)  # one write with O_APPEND: lines from concurrent runs never mix
    finally:
        os.close(fd)


def _masked(arg: str) -> str:
    """An argument with any database URL's password hidden (`--db URL`, `--db=URL`,
    `--admin-url ...`); parsed as SQLAlchemy parses it, never by pattern."""
    option, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    if "://" not in value or "@" not in value:
        return arg
    from mailctl.errors import DatabaseError
    from mailctl.store.url import parse_url

    try:
        url = parse_url(value)
    except DatabaseError:
        return f"{option}{eq}***" if eq else "***"  # unparseable: show none of it
    if url.password is None:
        return arg
    return f"{option}{eq}{url.render()}"


def _user() -> str:
    """getpass.getuser()'s answer, without importing getpass for it."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if user := os.environ.get(name):
            return user
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


# json.dumps(ensure_ascii=False) escapes exactly these; importing json for one line
# per command costs more than the rest of the audit step.
_ESCAPES = {code: f"\\u{code:04x}" for code in range(0x20)} | {
    ord("\\"): "\\\\",
    ord('"'): '\\"',
    ord("\b"): "\\b",
    ord("\t"): "\\t",
    ord("\n"): "\\n",
    ord("\f"): "\\f",
    ord("\r"): "\\r",
}


def _json(value: str | None | Sequence[str]) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value.translate(_ESCAPES)}"'
    return f"[{', '.join(map(_json, value))}]"


def json_line(entry: Mapping[str, str | None | Sequence[str]]) -> bytes:
    """`entry` as one line of JSON, as json.dumps writes it, in UTF-8. A lone surrogate
    (an argument that was not UTF-8) is written as its JSON escape, \\udcXX."""
    body = ", ".join(f"{_json(key)}: {_json(value)}" for key, value in entry.items())
    return f"{{{body}}}\n".encode("utf-8", "backslashreplace")


def append_for(settings: Settings, *, changes: Sequence[str], result: str) -> None:
    append(Path(settings.audit.log), changes=changes, result=result)
