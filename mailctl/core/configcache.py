"""The parsed config file, kept between runs.

Reading TOML costs each command about 3 ms (importing tomllib, then parsing in
pure Python): more than the work of `alias add` itself. The parse is kept in a
file that holds the config's exact bytes beside it, and it is used only while
the config holds exactly those bytes: an edit is seen by the next command,
whatever the clocks say. Only the parse is kept; validation runs every time.

The cache directory is $MAILCTL_CACHE_DIR (empty: no cache), else
/var/cache/mailctl for root and $XDG_CACHE_HOME/mailctl (~/.cache/mailctl) for
anyone else. An entry holds what the config holds, a password in the database
URL included, so it is written 0600 in a 0700 directory and read only when this
user owns it and nobody else may read or write it. Any failure to read or write
the cache costs the 3 ms again, never the command.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
from collections.abc import Mapping
from typing import Any

# A Python release may parse or marshal differently: its entries are its own.
_TAG = f"mailctl-config-1 {sys.version}"
ROOT_CACHE_DIR = "/var/cache/mailctl"


def parse(config: str, source: bytes, env: Mapping[str, str]) -> dict[str, Any]:
    """`source`, the bytes of the file `config`, parsed as TOML: from the cache when it
    holds them. Raises ValueError (UnicodeDecodeError, tomllib.TOMLDecodeError)."""
    directory = cache_dir(env)
    if directory and (kept := load(directory, config, source)) is not None:
        return kept
    import tomllib  # here, not at the top: a cached parse needs no TOML parser

    parsed = tomllib.loads(source.decode("utf-8"))
    if directory:
        store(directory, config, source, parsed)
    return parsed


def cache_dir(env: Mapping[str, str]) -> str | None:
    if "MAILCTL_CACHE_DIR" in env:
        return env["MAILCTL_CACHE_DIR"] or None
    if os.geteuid() == 0:
        return ROOT_CACHE_DIR
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mailctl")


def entry_path(directory: str, config: str) -> str:
    """One entry per config file, named by a hash of its absolute path (FNV-1a, with
    no import to pay for: two configs that share a name just take turns)."""
    digest = 0x811C9DC5
    for byte in os.fsencode(os.path.abspath(config)):
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return os.path.join(directory, f"config-{digest:08x}.marshal")


def load(directory: str, config: str, source: bytes) -> dict[str, Any] | None:
    """The parse of `source` kept for `config`, or None."""
    try:
        fd = os.open(entry_path(directory, config), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not _private(info):
            return None
        blob = b"".join(iter(lambda: os.read(fd, 1 << 16), b""))
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        # S302: only an entry this user owns and nobody else can write (_private)
        tag, kept, parsed = marshal.loads(blob)  # noqa: S302
    except (EOFError, ValueError, TypeError):
        return None
    if tag != _TAG or kept != source or not isinstance(parsed, dict):
        return None
    return parsed


def store(directory: str, config: str, source: bytes, parsed: dict[str, Any]) -> None:
    """Keep the parse of `source` for `config`: written aside, then renamed over."""
    try:
        blob = marshal.dumps((_TAG, source, parsed))
    except ValueError:
        return  # a TOML date or time: marshal keeps no datetime (and no key needs one)
    target = entry_path(directory, config)
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _private(os.lstat(directory), directory=True):
            return
        fd = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            os.write(fd, blob)
        finally:
            os.close(fd)
        os.replace(temporary, target)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _private(info: os.stat_result, *, directory: bool = False) -> bool:
    """Ours and of the right type; an entry nobody else may read or write, a directory
    nobody else may write to (the entries in it are 0600 whatever its mode)."""
    kind, others = (stat.S_ISDIR, 0o022) if directory else (stat.S_ISREG, 0o077)
    return kind(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & others
