"""Who owns what mailctl creates: one answer for keys, maildirs, SQL config files
and managed files. Ownership is only set when running as root; otherwise files
keep the current user, and the caller may say so."""

from __future__ import annotations

import grp
import os
import pwd

Owner = tuple[int, int]


def as_root() -> bool:
    return os.geteuid() == 0


def resolve_owner(user: str | int, group: str | int) -> tuple[Owner | None, str | None]:
    """(uid, gid) to give what is created, or (None, why ownership is left alone).
    Names are looked up; numbers are taken as they are."""
    if not as_root():
        return None, "not running as root: files keep the current user as owner"
    try:
        uid = user if isinstance(user, int) else pwd.getpwnam(user).pw_uid
    except KeyError:
        return None, f"user {user!r} does not exist: files stay owned by root"
    try:
        gid = group if isinstance(group, int) else grp.getgrnam(group).gr_gid
    except KeyError:
        return None, f"group {group!r} does not exist: files stay owned by root"
    return (uid, gid), None
