"""DKIM keys of a domain: rows in mailctl_dkim_keys, private keys in
mailctl_dkim_secrets, and each host's key files written from them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from mailctl.core.config import Settings
from mailctl.model.dkimstates import DkimState
from mailctl.model.rules import weak_key_warning
from mailctl.services import Tx
from mailctl.store import dkimkeys
from mailctl.store.connection import Db
from mailctl.store.dkimkeys import DkimKey
from mailctl.store.guide import Domain


def key_file(settings: Settings, domain: str, selector: str) -> Path:
    from mailctl.dkim import paths

    return Path(paths.key_file(settings.dkim.key_dir, domain, selector))


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def selector_for(settings: Settings, algorithm: str) -> str:
    return settings.dkim.ed25519_selector if algorithm == "ed25519" else settings.dkim.selector


def _new_key(tx: Tx, domain: str, selector: str, algorithm: str) -> tuple[bytes, str]:
    """Reuse a key file that exists (never overwrite it), else generate one."""
    from mailctl.dkim import keyfiles as dkim
    from mailctl.dkim.paths import NewKey

    path = key_file(tx.settings, domain, selector)
    if path.exists():
        pem = dkim.load_existing_key(path)
        if dkim.key_algorithm(pem) != algorithm:
            from mailctl.errors import Conflict

            raise Conflict(f"{path} holds a {dkim.key_algorithm(pem)} key, not {algorithm}")
        tx.new_keys.append(NewKey(domain, selector, pem, existing=True))  # made whole
        return pem, f"reused existing key file {path}"
    if algorithm == "ed25519":
        pem = dkim.generate_ed25519_key()
        detail = f"new Ed25519 key {path}"
    else:
        pem = dkim.generate_rsa_key(tx.settings.dkim.bits)
        detail = f"new {tx.settings.dkim.bits}-bit RSA key {path}"
    tx.new_keys.append(NewKey(domain, selector, pem))
    return pem, detail


def _add_row(tx: Tx, domain: Domain, selector: str, algorithm: str, state: str) -> DkimKey:
    from mailctl.dkim import keyfiles as dkim

    pem, detail = _new_key(tx, domain.name, selector, algorithm)
    bits = dkim.key_bits(pem)
    path = key_file(tx.settings, domain.name, selector)
    if weak := weak_key_warning(path, algorithm, bits):
        tx.warn(weak)
    stamp = now()
    row = dkimkeys.insert_key(
        tx.db,
        DkimKey(
            id=0,
            domain_id=domain.id,
            selector=selector,
            algorithm=algorithm,
            bits=bits,
            state=state,
            created_at=stamp,
            activated_at=stamp if state == DkimState.ACTIVE else None,
        ),
    )
    # The database is where every host takes the key from (dkim.stored).
    dkimkeys.save_secret(tx.db, row.id, pem)
    tx.record(
        "insert", "mailctl_dkim_keys", f"{selector}._domainkey.{domain.name}", f"{state}, {detail}"
    )
    tx.files_dirty = True
    return row


def ensure_domain_key(tx: Tx, domain: Domain) -> list[DkimKey]:
    """Give a new domain its active key(s): RSA, plus Ed25519 when configured."""
    algorithms = ["rsa", "ed25519"] if tx.settings.dkim.ed25519 else ["rsa"]
    return [
        _add_row(tx, domain, selector_for(tx.settings, a), a, DkimState.ACTIVE) for a in algorithms
    ]


def _dated_selector(tx: Tx, domain: Domain, algorithm: str) -> str:
    """`mail20261125`, then `mail20261125b`, ... : unique per domain, readable in DNS."""
    base = f"{selector_for(tx.settings, algorithm)}{now():%Y%m%d}"
    taken = {k.selector for k in dkimkeys.keys_of(tx.db, domain.id)}
    for suffix in ["", *"bcdefghijklmnopqrstuvwxyz"]:
        candidate: str = base + suffix
        if candidate not in taken and not key_file(tx.settings, domain.name, candidate).exists():
            return candidate
    from mailctl.errors import Conflict

    raise Conflict(f"too many keys made today for {domain.name}")


def _signer_reads(settings: Settings, algorithm: str) -> None:
    """Refuse an Ed25519 key while no signer reads the Ed25519 tables (dkim.ed25519 off):
    it would be published and reported as signing, yet sign nothing."""
    from mailctl.errors import Conflict

    if algorithm == "ed25519" and not settings.dkim.ed25519:
        raise Conflict(
            "Ed25519 keys are off (dkim.ed25519 = false), so no OpenDKIM signer would use"
            " this key; set dkim.ed25519 = true and run the second signer first"
        )


def rotate(tx: Tx, domain: Domain, algorithm: str = "rsa") -> DkimKey:
    """A new pending key with a dated selector; publish its record, then activate it."""
    from mailctl.errors import Conflict

    _signer_reads(tx.settings, algorithm)
    pending = [
        k
        for k in dkimkeys.keys_of(tx.db, domain.id)
        if k.state == DkimState.PENDING and k.algorithm == algorithm
    ]
    if pending:
        raise Conflict(
            f"{domain.name} already has a pending {algorithm} key ({pending[0].selector});"
            f" activate or retire it first"
        )
    selector = _dated_selector(tx, domain, algorithm)
    return _add_row(tx, domain, selector, algorithm, DkimState.PENDING)


def find_key(tx: Tx, domain: Domain, selector: str | None, state: str) -> DkimKey:
    from mailctl.errors import Conflict, NotFound

    rows = dkimkeys.keys_of(tx.db, domain.id)
    if selector is not None:
        for row in rows:
            if row.selector == selector:
                if row.state != state:
                    raise Conflict(f"key {selector} of {domain.name} is {row.state}, not {state}")
                return row
        raise NotFound(f"{domain.name} has no DKIM key with selector {selector}")
    matching = [r for r in rows if r.state == state]
    if not matching:
        raise NotFound(f"{domain.name} has no {state} DKIM key (see: mailctl dkim show)")
    if len(matching) > 1:
        raise Conflict(
            f"{domain.name} has several {state} keys ({', '.join(r.selector for r in matching)});"
            " name the selector"
        )
    return matching[0]


def activate(tx: Tx, row: DkimKey) -> list[DkimKey]:
    """Sign with `row` from now on; the active key of the same algorithm becomes retired."""
    _signer_reads(tx.settings, row.algorithm)
    stamp = now()
    retired = []
    for other in dkimkeys.keys_of(tx.db, row.domain_id):
        if other.state == DkimState.ACTIVE and other.algorithm == row.algorithm:
            other.state = DkimState.RETIRED
            other.retired_at = stamp
            dkimkeys.save_state(tx.db, other)
            retired.append(other)
            tx.record("update", "mailctl_dkim_keys", other.selector, "active -> retired")
    row.state = DkimState.ACTIVE
    row.activated_at = stamp
    dkimkeys.save_state(tx.db, row)
    tx.record("update", "mailctl_dkim_keys", row.selector, "pending -> active")
    tx.files_dirty = True
    return retired


def retire(tx: Tx, row: DkimKey, domain: str) -> None:
    """Drop a retired key from KeyTable and DNS; its file moves to the archive."""
    row.state = DkimState.ARCHIVED
    dkimkeys.save_state(tx.db, row)
    tx.record("update", "mailctl_dkim_keys", row.selector, "retired -> archived")
    tx.files_dirty = True
    tx.keys_to_archive.append((domain, row.selector))


def complete_key_files(
    db: Db, settings: Settings, skip: Iterable[tuple[str, str]] = ()
) -> list[Path]:
    """Make the files of every published key that lacks its .txt whole (.txt, owner,
    no leftovers): what `sync` repairs after an interrupted write. `skip`: the
    (domain, selector) whose files the database's key replaces anyway."""
    from mailctl.model.dkimstates import PUBLISHED
    from mailctl.system.owners import resolve_owner

    owner, _ = resolve_owner(settings.dkim.owner, settings.dkim.group)
    written = []
    skipped = set(skip)
    for domain, selector in dkimkeys.selectors(db, PUBLISHED):
        if (domain, selector) in skipped:
            continue
        path = key_file(settings, domain, selector)
        # Only a key without its .txt is opened: parsing every key on every sync would
        # cost seconds on a large server (doctor compares each .txt with its key).
        if not path.exists() or path.with_suffix(".txt").exists():
            continue
        from mailctl.dkim import keyfiles  # cryptography: only for a key to complete

        pem = keyfiles.load_existing_key(path)
        txt = keyfiles.complete_key_pair(
            Path(settings.dkim.key_dir), domain, selector, pem, owner=owner
        )
        if txt is not None:
            written.append(txt)
    return written


def archive_left_key_files(db: Db, settings: Settings) -> list[Path]:
    """Archive, on this host, the files of keys retired elsewhere: `dkim retire`
    moves the file only on the host it runs on (what `sync` does on the others)."""
    from mailctl.dkim.paths import check_component
    from mailctl.errors import InvalidInput

    moved = []
    for domain, selector in dkimkeys.selectors(db, (DkimState.ARCHIVED,)):
        try:
            check_component("domain", domain)
            check_component("selector", selector)
        except InvalidInput:
            continue  # a hand-made row: no file of mailctl's can be there
        if not key_file(settings, domain, selector).is_file():
            continue
        if (target := archive_key_files(settings, domain, selector)) is not None:
            moved.append(target)
    return moved


def archive_folder(settings: Settings, domain: str) -> Path:
    """<key_dir>/<domain>/archive/, refused before anything changes when it is a
    symlink or no folder (a retired key must never land somewhere else)."""
    from mailctl.errors import InvalidInput

    archive = Path(settings.dkim.key_dir) / domain / "archive"
    if archive.is_symlink() or (archive.exists() and not archive.is_dir()):
        raise InvalidInput(f"{archive} is not a folder (a symlink?); nothing was changed")
    return archive


def archive_key_files(settings: Settings, domain: str, selector: str) -> Path | None:
    """Move <selector>.private/.txt into <domain>/archive/ (0700), stamped with the date."""
    from mailctl.errors import MailctlError
    from mailctl.system.files import ensure_dir

    private = key_file(settings, domain, selector)
    if not private.exists():
        return None
    archive = archive_folder(settings, domain)
    try:
        ensure_dir(archive, 0o700)  # never into a symlinked archive/
        stamp = f"{now():%Y%m%d%H%M%S}"
        target = archive / f"{selector}.private.{stamp}"
        os.rename(private, target)
        txt = private.with_suffix(".txt")
        if txt.exists():
            os.rename(txt, archive / f"{selector}.txt.{stamp}")
    except OSError as exc:
        raise MailctlError(f"cannot archive {private}: {exc.strerror}") from None
    return target


def purge_key_dir(settings: Settings, domain: str, *, check_only: bool = False) -> Path | None:
    """Delete key_dir/{domain} (after `domain del --purge-keys`), never via a symlink.
    `check_only`: refuse now what the removal would refuse, delete nothing."""
    from mailctl.model.names import normalize_domain
    from mailctl.system.files import check_tree_inside, remove_tree_inside

    key_dir = Path(settings.dkim.key_dir)
    path = key_dir / normalize_domain(domain)
    if check_only:
        check_tree_inside(path, key_dir)
        return None
    return remove_tree_inside(path, key_dir)


def active_selectors(db: Db) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, selector in dkimkeys.selectors(db, (DkimState.ACTIVE,)):
        result.setdefault(name, []).append(selector)
    return result
