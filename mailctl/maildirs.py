"""Maildirs under vmail.home: created on `user add`, removed only on request.

A maildir path is built from a validated address, checked to lie inside
vmail.home, and never reached through a symlink, so a hostile name or a link
planted in the tree cannot make mailctl create or delete outside it.
"""

from __future__ import annotations

import os
from pathlib import Path

from mailctl.config import Settings
from mailctl.errors import MailctlError
from mailctl.files import remove_tree_inside
from mailctl.names import normalize_domain, parse_address


def maildir_path(settings: Settings, email: str) -> Path:
    address = parse_address(email)
    home = Path(settings.vmail.home)
    path = home / address.domain / address.localpart
    if path.parent.parent != home or address.localpart in ("", ".", ".."):
        raise MailctlError(f"refusing maildir path {path} outside {home}")
    return path


def _no_symlinks(settings: Settings, path: Path) -> None:
    home = Path(settings.vmail.home)
    for part in (path.parent, path):
        if part.is_symlink():
            raise MailctlError(f"refusing to use {part}: it is a symlink (inside {home})")


def _owner(settings: Settings) -> tuple[int, int] | None:
    return (settings.vmail.uid, settings.vmail.gid) if os.geteuid() == 0 else None


def create(settings: Settings, email: str) -> Path | None:
    """Create home/{domain}/{localpart} with cur/new/tmp, 0700, owned by vmail.

    A missing vmail.home is created as the guide does it: 0750 vmail:vmail.
    """
    path = maildir_path(settings, email)
    _no_symlinks(settings, path)
    owner = _owner(settings)
    created = None
    home = path.parent.parent
    try:
        home.parent.mkdir(parents=True, exist_ok=True)
        for directory in (home, path.parent, path, path / "cur", path / "new", path / "tmp"):
            if directory.exists():
                continue
            mode = 0o750 if directory == home else 0o700
            directory.mkdir(mode=mode)
            os.chmod(directory, mode)
            if owner is not None:
                os.chown(directory, *owner, follow_symlinks=False)
            created = created or directory
    except OSError as exc:
        raise MailctlError(f"cannot create maildir {path}: {exc.strerror}") from None
    return path if created else None


def remove(settings: Settings, email: str) -> Path | None:
    """Delete a mailbox's maildir; never follows a symlink out of vmail.home."""
    return remove_tree_inside(maildir_path(settings, email), Path(settings.vmail.home))


def remove_domain(settings: Settings, domain: str) -> Path | None:
    """Delete a domain's whole maildir tree after the same checks."""
    home = Path(settings.vmail.home)
    return remove_tree_inside(home / normalize_domain(domain), home)
