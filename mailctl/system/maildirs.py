"""Maildirs under vmail.home: created on `user add`, removed only on request.

A maildir path is built from a validated address, checked to lie inside
vmail.home, and never reached through a symlink, so a hostile name or a link
planted in the tree cannot make mailctl create or delete outside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from mailctl.errors import MailctlError
from mailctl.model.names import normalize_domain, parse_address
from mailctl.system.files import check_tree_inside, ensure_dir, make_dirs, remove_tree_inside
from mailctl.system.owners import resolve_owner


class Vmail(Protocol):
    """What the maildir functions need of the config's [vmail] section."""

    @property
    def home(self) -> str: ...
    @property
    def uid(self) -> int: ...
    @property
    def gid(self) -> int: ...


def maildir_path(vmail: Vmail, email: str) -> Path:
    address = parse_address(email)
    home = Path(vmail.home)
    path = home / address.domain / address.localpart
    if path.parent.parent != home or address.localpart in ("", ".", ".."):
        raise MailctlError(f"refusing maildir path {path} outside {home}")
    return path


def _no_symlinks(vmail: Vmail, path: Path) -> None:
    home = Path(vmail.home)
    for part in (path.parent, path):
        if part.is_symlink():
            raise MailctlError(f"refusing to use {part}: it is a symlink (inside {home})")


def _owner(vmail: Vmail) -> tuple[int, int] | None:
    return resolve_owner(vmail.uid, vmail.gid)[0]


def create(vmail: Vmail, email: str) -> Path | None:
    """Create home/{domain}/{localpart} with cur/new/tmp, 0700, owned by vmail.

    A missing vmail.home is created as the guide does it: 0750 vmail:vmail.
    """
    path = maildir_path(vmail, email)
    _no_symlinks(vmail, path)
    owner = _owner(vmail)
    created = None
    home = path.parent.parent
    try:
        make_dirs(home.parent)
        for directory in (home, path.parent, path, path / "cur", path / "new", path / "tmp"):
            mode = 0o750 if directory == home else 0o700
            if ensure_dir(directory, mode, owner):
                created = created or directory
    except MailctlError as exc:
        raise MailctlError(f"cannot create maildir {path}: {exc}") from None
    return path if created else None


def remove(vmail: Vmail, email: str, *, check_only: bool = False) -> Path | None:
    """Delete a mailbox's maildir; never follows a symlink out of vmail.home.
    `check_only`: refuse now what the removal would refuse, delete nothing."""
    return _remove(maildir_path(vmail, email), Path(vmail.home), check_only)


def remove_domain(vmail: Vmail, domain: str, *, check_only: bool = False) -> Path | None:
    """Delete a domain's whole maildir tree after the same checks."""
    home = Path(vmail.home)
    return _remove(home / normalize_domain(domain), home, check_only)


def _remove(path: Path, home: Path, check_only: bool) -> Path | None:
    if check_only:
        check_tree_inside(path, home)
        return None
    return remove_tree_inside(path, home)
