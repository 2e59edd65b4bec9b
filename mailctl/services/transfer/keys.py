"""The DKIM keys of an import file: checked and planned for the domains the
import creates, compared with the files on disk for the domains that exist
(those keep their own keys)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mailctl.core.config import Settings
from mailctl.errors import InvalidInput
from mailctl.model.dkimstates import DkimState
from mailctl.transfer.records import DkimRecord, DomainRecord

KEY_STATES = tuple(DkimState)
KEY_ALGORITHMS = ("rsa", "ed25519")


class KeyProblem(Exception):
    """A key of the file is wrong: the message and the key's location."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class KeyImport:
    """One DKIM key of an import, checked, and whether its file must be written."""

    record: DkimRecord
    pem: bytes | None  # None: an archived key, metadata only
    write: bool  # False: the very same key file is there already


@dataclass(frozen=True)
class NewDomain:
    """A domain an import adds, with the keys the file gives it."""

    name: str
    keys: tuple[KeyImport, ...]  # empty: a key is made as `domain add` makes it


def other_keys(settings: Settings, name: str, record: DomainRecord) -> bool:
    """Whether the file carries private keys an existing domain does not have on disk."""
    from mailctl.services.dkim import key_file

    for key in record.dkim:
        if key.private_key is None or key.state == DkimState.ARCHIVED:
            continue
        try:
            on_disk = key_file(settings, name, key.selector).read_bytes()
        except OSError:
            return True
        if on_disk.strip() != key.private_key.encode("ascii", "replace").strip():
            return True
    return False


def plan_keys(
    settings: Settings, name: str, record: DomainRecord, warnings: list[str]
) -> tuple[KeyImport, ...]:
    """The file's keys for a new domain, checked; none: `domain add` makes one."""
    if not any(k.private_key for k in record.dkim):
        return ()
    from mailctl.dkim.paths import key_paths

    result: list[KeyImport] = []
    selectors: set[str] = set()
    for key in record.dkim:
        where = key.where or record.where
        if key.selector in selectors:
            raise KeyProblem(where, f"selector {key.selector!r} appears twice for {name}")
        selectors.add(key.selector)
        if key.state not in KEY_STATES:
            raise KeyProblem(where, f"state {key.state!r}; accepted: {', '.join(KEY_STATES)}")
        if key.algorithm not in KEY_ALGORITHMS:
            raise KeyProblem(
                where, f"algorithm {key.algorithm!r}; accepted: {', '.join(KEY_ALGORITHMS)}"
            )
        for stamp in (key.created_at, key.activated_at, key.retired_at):
            parse_time(stamp, where)
        try:
            key_paths(Path(settings.dkim.key_dir), name, key.selector)
        except InvalidInput as exc:
            raise KeyProblem(where, str(exc)) from None
        if key.private_key is None:
            if key.state == DkimState.ARCHIVED:
                result.append(KeyImport(key, None, False))
            else:
                warnings.append(
                    f"{name}: the {key.state} key {key.selector} has no private key in the"
                    " file and was not imported"
                )
            continue
        result.append(_checked_key(settings, name, key, where))
    if not any(k.record.state == DkimState.ACTIVE and k.pem for k in result):
        raise KeyProblem(record.where, f"{name}: no active DKIM key with its private key")
    return tuple(result)


def _checked_key(settings: Settings, name: str, key: DkimRecord, where: str) -> KeyImport:
    from mailctl.dkim import keyfiles as dkim
    from mailctl.services.dkim import key_file

    assert key.private_key is not None  # noqa: S101 - callers checked
    pem = key.private_key.encode("ascii", "replace")
    try:
        algorithm, bits = dkim.key_algorithm(pem), dkim.key_bits(pem)
    except InvalidInput as exc:
        raise KeyProblem(where, f"private key of {key.selector}: {exc}") from None
    if (algorithm, bits) != (key.algorithm, key.bits):
        raise KeyProblem(
            where,
            f"the private key is {algorithm} {bits} bits; the row says {key.algorithm} {key.bits}",
        )
    if key.state == DkimState.ARCHIVED:
        return KeyImport(key, pem, False)  # the archive is not a key_dir entry
    path = key_file(settings, name, key.selector)
    if path.exists() or path.is_symlink():
        try:
            existing = dkim.load_existing_key(path)
        except InvalidInput as exc:
            raise KeyProblem(where, str(exc)) from None
        if existing.strip() != pem.strip():
            raise KeyProblem(where, f"{path} exists and holds another key")
        return KeyImport(key, pem, False)
    return KeyImport(key, pem, True)


def parse_time(value: str | None, where: str = "") -> datetime | None:
    if value is None:
        return None
    try:
        if not value.isprintable():  # fromisoformat stops at a NUL, taking what came before
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise KeyProblem(
            where, f"{value!r} is not a date and time like 2026-01-31T12:00:00"
        ) from None
    if parsed.tzinfo is not None:  # stored as naive UTC, like keys.now()
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
