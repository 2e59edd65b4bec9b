"""DKIM keys between the database and this host's key files.

The database holds every key's private key (mailctl_dkim_secrets), and each host
writes its `key_dir/{domain}/{selector}.private` from there: a second host needs
only its config and the database. `private_key` is a key as any host sees it
(`dns show`, `dns check`, `dkim activate`), synced or not. `outdated_key_files` names the files that
differ, compared byte for byte (no key is parsed, so cryptography stays
unloaded while nothing is to be written); `import_key_files` takes in, once, the
key files of a database from before the keys moved in (`db upgrade`), leaving
every file exactly as it is.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mailctl.core.config import Settings
from mailctl.dkim.paths import NewKey, check_component, key_file
from mailctl.errors import InvalidInput
from mailctl.model.dkimstates import PUBLISHED
from mailctl.store import dkimkeys
from mailctl.store.connection import Db
from mailctl.store.dkimkeys import StoredKey

MAX_KEY_FILE = 64 * 1024  # as keyfiles: an 8192-bit RSA PEM is under 7 KiB


def record_name(key: StoredKey) -> str:
    return f"{key.selector}._domainkey.{key.domain}"


def unstored_note(key: StoredKey) -> str:
    return (
        f"{record_name(key)}: the database holds no private key for this {key.state} key,"
        " so no host can write its file: run 'mailctl db upgrade' on the host that has"
        " it, or replace the key ('mailctl dkim rotate')"
    )


def private_key(stored: bytes | None, key_dir: str, domain: str, selector: str) -> bytes:
    """A key's private key as every host sees it: the database's (`stored`), so a host
    shows and checks a key before its first `sync`; this host's key file only for a
    key the database holds none for yet (whose file `db upgrade` has not taken in).
    InvalidInput, naming the record, when there is neither or it is no usable key."""
    from mailctl.dkim import keyfiles

    record = f"{selector}._domainkey.{domain}"
    if stored is not None:
        try:
            keyfiles.key_algorithm(stored)  # parsed once, remembered for what follows
        except InvalidInput as exc:
            raise InvalidInput(f"the database's key for {record}: {exc}") from None
        return stored
    path = Path(key_file(key_dir, domain, selector))
    if not path.exists() and not path.is_symlink():
        raise InvalidInput(
            f"{record}: the database holds no private key for it and this host has no"
            f" key file {path}; run 'mailctl db upgrade' on the host that has the file"
        )
    return keyfiles.load_existing_key(path)


def outdated_key_files(keys: Iterable[StoredKey], key_dir: str, notes: list[str]) -> list[NewKey]:
    """The stored keys whose file on this host is missing, holds other bytes, or
    may be read by group or others: each to be written from the database. What
    cannot be compared (no private key stored, an unreadable file) is a note."""
    outdated = []
    for key in keys:
        if key.pem is None:
            notes.append(unstored_note(key))
            continue
        try:
            check_component("domain", key.domain)
            check_component("selector", key.selector)
        except InvalidInput as exc:
            notes.append(f"{record_name(key)}: {exc}; its file is left alone")
            continue
        path = Path(key_file(key_dir, key.domain, key.selector))
        reason = _difference(path, key.pem, notes)
        if reason:
            outdated.append(
                NewKey(key.domain, key.selector, key.pem, restore=reason, algorithm=key.algorithm)
            )
    return outdated


def _difference(path: Path, pem: bytes, notes: list[str]) -> str:
    """Why the file at `path` is not `pem` at mode 0600 ("" when it is, or when it
    cannot be told: then a note says why)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link"  # replaced by the file itself, never followed
        notes.append(f"cannot read {path}: {exc.strerror}; not compared with the database")
        return ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            notes.append(f"{path} is not a regular file; left alone")
            return ""
        data = _read_all(fd) if info.st_size == len(pem) else b""
    except OSError as exc:
        notes.append(f"cannot read {path}: {exc.strerror}; not compared with the database")
        return ""
    finally:
        os.close(fd)
    if data != pem:
        return "another key"
    if info.st_mode & 0o077:
        return f"mode {stat.S_IMODE(info.st_mode):04o}"
    return ""


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, MAX_KEY_FILE):
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class Imported:
    """What `import_key_files` took into the database, and what it could not."""

    taken: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def import_key_files(db: Db, key_dir: str) -> Imported:
    """Take the key file of every published key the database has no private key for
    (a database from before 0004), as it is on disk: the files are only read, their
    mode, owner and bytes stay. A missing or unusable file is reported, never
    replaced by a new key. Does nothing (and loads no cryptography) once every key
    is stored, so every `db upgrade` may run it."""
    done = Imported()
    keys = dkimkeys.stored_keys(db, PUBLISHED, unstored=True)
    if not keys:
        return done
    from mailctl.dkim import keyfiles

    with db.transaction():
        for key in keys:
            name = f"{record_name(key)} ({key.state})"
            try:
                check_component("domain", key.domain)
                check_component("selector", key.selector)
            except InvalidInput as exc:
                done.problems.append(f"{name}: {exc}; not taken into the database")
                continue
            path = Path(key_file(key_dir, key.domain, key.selector))
            if not path.exists() and not path.is_symlink():
                done.problems.append(f"{name}: no key file {path} on this host; {_ELSEWHERE}")
                continue
            try:
                pem = keyfiles.load_existing_key(path)
                algorithm = keyfiles.key_algorithm(pem)
                pem.decode("ascii")
            except InvalidInput as exc:
                done.problems.append(f"{name}: {exc}; not taken into the database")
                continue
            except UnicodeDecodeError:
                done.problems.append(f"{name}: {path} is not ASCII PEM; {_NOT_TAKEN}")
                continue
            if algorithm != key.algorithm:
                done.problems.append(
                    f"{name}: {path} holds an {algorithm} key, the row says {key.algorithm};"
                    " not taken into the database"
                )
                continue
            dkimkeys.save_secret(db, key.key_id, pem)
            done.taken.append(path)
    return done


_NOT_TAKEN = "not taken into the database"
_ELSEWHERE = (
    "its private key is not in the database yet: run 'mailctl db upgrade' on the host"
    " that has the file, or replace the key ('mailctl dkim rotate')"
)


def import_key_files_of(settings: Settings) -> Imported:
    """`import_key_files` on its own connection (init and setup sql migrate through
    SQLAlchemy, which has no store connection to lend)."""
    from mailctl.core.config import database_url
    from mailctl.store.connection import Tls, connect

    database = settings.database
    db = connect(
        database_url(settings),
        tls=Tls(database.tls, database.tls_ca),
        failover=database.failover,
    )
    try:
        return import_key_files(db, settings.dkim.key_dir)
    finally:
        db.close()


def describe(imported: Imported) -> str:
    """One line for what was taken in (empty when nothing was)."""
    if not imported.taken:
        return ""
    return (
        f"took {len(imported.taken)} DKIM private key(s) into the database from their"
        " files (the files stay as they are)"
    )
