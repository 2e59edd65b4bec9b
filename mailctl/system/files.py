"""The one module that writes files.

A file is written next to its target with its final mode from the moment it
exists (O_CREAT|O_EXCL with the mode, never write-then-chmod), fsynced, and
renamed over the target, then the directory is fsynced: a reader sees the old
file or the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from mailctl.errors import AlreadyExists, ConfigError, InvalidInput, MailctlError


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_regular(path: Path) -> bytes:
    """A file's bytes, refusing what is no regular file: a FIFO would block for ever,
    a device or socket is nothing mailctl should read. OSError as open() raises it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MailctlError(f"{path} is not a regular file (a FIFO or device?)")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_private_file(path: Path, what: str) -> None:
    """Refuse a secret-bearing file that group or others can read or write."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o});"
            f" fix with: chmod 600 {path}"
        )


def ensure_dir(path: Path, mode: int, owner: tuple[int, int] | None = None) -> bool:
    """Make `path` with exactly `mode` (not the umask's idea of it) and `owner`,
    unless it exists as a real directory; never through a symlink. Returns
    whether it was created. The one way mailctl creates a directory."""
    created = False
    try:
        path.mkdir(mode=mode)
        created = True
    except FileExistsError:
        pass
    except OSError as exc:
        raise MailctlError(f"cannot create {path}: {exc.strerror}") from None
    set_mode_owner(path, mode if created else None, owner if created else None, folder=True)
    return created


def set_mode_owner(
    path: Path, mode: int | None, owner: tuple[int, int] | None, *, folder: bool = False
) -> None:
    """Set what is given of mode and owner on `path` itself, never through a symlink."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_DIRECTORY if folder else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        what = "a directory" if folder else "a file mailctl may change"
        raise InvalidInput(f"{path} is not {what}: {exc.strerror}") from None
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # the umask may have narrowed what mkdir made
        if owner is not None:
            os.fchown(fd, *owner)
    except OSError as exc:
        raise MailctlError(f"cannot set mode/owner of {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def make_dirs(path: Path, mode: int = 0o755) -> list[Path]:
    """`ensure_dir` for `path` and its missing parents; return the directories
    created, outermost first, so a caller can remove them again."""
    missing: list[Path] = []
    for directory in (path, *path.parents):
        if directory.is_dir():
            break
        missing.append(directory)
    return [d for d in reversed(missing) if ensure_dir(d, mode)]


def atomic_write(
    path: Path,
    data: str | bytes,
    *,
    mode: int = 0o644,
    owner: tuple[int, int] | None = None,
    replace: bool = True,
) -> list[Path]:
    """Write `data` to `path` atomically with `mode` (and owner) set before any content.

    With replace=False an existing target is never clobbered (AlreadyExists).
    Returns the missing parent directories it had to create (0755), outermost first.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = path.parent
    try:
        created = make_dirs(directory)
    except MailctlError as exc:
        raise MailctlError(f"cannot write {path}: {exc}") from None
    try:
        temp = directory / f".{path.name}.mailctl-{os.urandom(6).hex()}"  # not `secrets`: 5 ms
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except OSError as exc:
        _discard(temp, created)
        raise MailctlError(f"cannot write {path}: {exc.strerror}") from None
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have narrowed it
            if owner is not None:
                os.fchown(fd, *owner)
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)  # fails if the target exists: no clobbering race
            except FileExistsError:
                raise AlreadyExists(f"{path} exists already") from None
            finally:
                os.unlink(temp)
        _fsync_dir(directory)
    except OSError as exc:
        _discard(temp, created)
        raise MailctlError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        _discard(temp, created)
        raise
    return created


def _discard(temp: Path, created: list[Path]) -> None:
    """A failed write leaves nothing: no temporary file, no directory it made."""
    with contextlib.suppress(OSError):
        os.unlink(temp)
    for directory in reversed(created):
        with contextlib.suppress(OSError):
            directory.rmdir()


@contextlib.contextmanager
def exclusive_lock(path: Path, *, timeout: float) -> Iterator[None]:
    """Hold an exclusive fcntl lock so two mutating runs never interleave."""
    import fcntl
    import time

    make_dirs(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise MailctlError(f"cannot open lock file {path}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise MailctlError(
                        f"another mailctl holds the lock {path}; gave up after {timeout:g}s"
                        " (raise lock.timeout, or check for a stuck mailctl)"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def check_tree_inside(path: Path, base: Path) -> bool:
    """Whether there is a tree at `path` that remove_tree_inside would delete;
    raises what it would refuse (so a command can refuse before its commit)."""
    if not path.exists() and not path.is_symlink():
        return False
    for part in (path.parent, path):
        if part.is_symlink():
            raise MailctlError(f"refusing to delete {path}: {part} is a symlink")
    if not path.resolve().is_relative_to(base.resolve()):
        raise MailctlError(f"refusing to delete {path}: it resolves outside {base}")
    return True


def remove_tree_inside(path: Path, base: Path) -> Path | None:
    """Delete the directory tree `path`, which must lie inside `base`.

    Refuses a symlink at `path` or its parent, or a path that resolves outside
    `base`; rmtree is fd-based on Linux, so links inside are removed, not followed.
    Returns the path removed, or None when there was nothing to remove.
    """
    import shutil

    if not check_tree_inside(path, base):
        return None
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise MailctlError(f"cannot remove {path}: {exc.strerror}") from None
    return path
