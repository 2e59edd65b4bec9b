"""mailctl_dkim_keys: mailctl's record of each DKIM key; mailctl_dkim_secrets: its
private key (PEM), from which every host writes its key file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mailctl.model.datarecord import datarecord
from mailctl.store.connection import Db

COLUMNS = {
    "mailctl_dkim_keys": (
        "id",
        "domain_id",
        "selector",
        "algorithm",
        "bits",
        "state",
        "created_at",
        "activated_at",
        "retired_at",
    ),
    "mailctl_dkim_secrets": ("key_id", "private_key"),
}
_SELECT = (
    "SELECT k.id, k.domain_id, k.selector, k.algorithm, k.bits, k.state, k.created_at,"
    " k.activated_at, k.retired_at FROM mailctl_dkim_keys k"
)


@datarecord
class DkimKey:
    """A row of mailctl_dkim_keys."""

    id: int
    domain_id: int
    selector: str
    algorithm: str
    bits: int
    state: str
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None


def _time(value: Any) -> datetime | None:
    """SQLite hands DATETIME back as the text SQLAlchemy stored; the others as datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _stored(db: Db, value: datetime | None) -> Any:
    """A time as SQLAlchemy stores it, so that both read every row alike."""
    if value is None or db.backend != "sqlite":
        return value
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _key(row: tuple[Any, ...]) -> DkimKey:
    created = _time(row[6])
    assert created is not None  # noqa: S101 - NOT NULL column
    id_, domain_id, selector, algorithm, bits, state = row[:6]
    return DkimKey(
        id_, domain_id, selector, algorithm, bits, state, created, _time(row[7]), _time(row[8])
    )


def keys_of(db: Db, domain_id: int) -> list[DkimKey]:
    rows = db.rows(_SELECT + " WHERE k.domain_id = ? ORDER BY k.created_at, k.id", (domain_id,))
    return [_key(row) for row in rows]


def all_keys(db: Db) -> list[DkimKey]:
    return [_key(row) for row in db.rows(_SELECT + " ORDER BY k.id")]


def insert_key(db: Db, key: DkimKey) -> DkimKey:
    key.id = db.insert(
        "INSERT INTO mailctl_dkim_keys (domain_id, selector, algorithm, bits, state,"
        " created_at, activated_at, retired_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key.domain_id,
            key.selector,
            key.algorithm,
            key.bits,
            key.state,
            _stored(db, key.created_at),
            _stored(db, key.activated_at),
            _stored(db, key.retired_at),
        ),
    )
    return key


def save_state(db: Db, key: DkimKey) -> None:
    """Write a key's state and its activation and retirement times."""
    db.run(
        "UPDATE mailctl_dkim_keys SET state = ?, activated_at = ?, retired_at = ? WHERE id = ?",
        (key.state, _stored(db, key.activated_at), _stored(db, key.retired_at), key.id),
    )


def _in(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values)


def selectors(db: Db, states: Sequence[str], algorithm: str | None = None) -> list[tuple[str, str]]:
    """(domain name, selector) of the keys in `states`, by domain and selector."""
    sql = (
        "SELECT d.name, k.selector FROM mailctl_dkim_keys k"  # noqa: S608 - placeholders only
        " JOIN virtual_domains d ON d.id = k.domain_id"
        f" WHERE k.state IN ({_in(states)})"
    )
    params: list[str] = list(states)
    if algorithm is not None:
        sql += " AND k.algorithm = ?"
        params.append(algorithm)
    return db.rows(sql + " ORDER BY d.name, k.selector", params)


def key_states(db: Db) -> list[tuple[str, str, str]]:
    """(domain name, selector, state) of every key, by domain and selector."""
    return db.rows(
        "SELECT d.name, k.selector, k.state FROM mailctl_dkim_keys k"
        " JOIN virtual_domains d ON d.id = k.domain_id ORDER BY d.name, k.selector"
    )


# ------------------------------------------------------------------ private keys


def save_secret(db: Db, key_id: int, pem: bytes) -> None:
    """Store a key's private key (PEM is ASCII; kept byte for byte)."""
    db.run(
        "INSERT INTO mailctl_dkim_secrets (key_id, private_key) VALUES (?, ?)",
        (key_id, pem.decode("ascii")),
    )


def secret_of(db: Db, key_id: int) -> bytes | None:
    """A key's private key, None when the database has none for it."""
    found = db.value("SELECT private_key FROM mailctl_dkim_secrets WHERE key_id = ?", (key_id,))
    return _pem(found)


def secrets_of_domain(db: Db, domain_id: int) -> dict[str, bytes]:
    """{selector: private key} of a domain's keys that have one."""
    rows = db.rows(
        "SELECT k.selector, s.private_key FROM mailctl_dkim_keys k"
        " JOIN mailctl_dkim_secrets s ON s.key_id = k.id WHERE k.domain_id = ?",
        (domain_id,),
    )
    return {selector: str(pem).encode("ascii") for selector, pem in rows}


@datarecord(frozen=True)
class StoredKey:
    """A key in one of the asked states, with its private key when the database has it."""

    key_id: int
    domain: str
    selector: str
    algorithm: str
    state: str
    pem: bytes | None


def stored_keys(db: Db, states: Sequence[str], *, unstored: bool = False) -> list[StoredKey]:
    """The keys in `states` with their private keys (None: not stored), by domain
    and selector: what every host's key files are written from. `unstored`: only
    the keys whose private key the database lacks."""
    sql = (
        "SELECT k.id, d.name, k.selector, k.algorithm, k.state, s.private_key"  # noqa: S608
        " FROM mailctl_dkim_keys k JOIN virtual_domains d ON d.id = k.domain_id"
        " LEFT JOIN mailctl_dkim_secrets s ON s.key_id = k.id"
        f" WHERE k.state IN ({_in(states)})"
    )
    if unstored:
        sql += " AND s.key_id IS NULL"
    return [
        StoredKey(id_, name, selector, algorithm, state, _pem(pem))
        for id_, name, selector, algorithm, state, pem in db.rows(
            sql + " ORDER BY d.name, k.selector", list(states)
        )
    ]


def _pem(value: Any) -> bytes | None:
    return None if value is None else str(value).encode("ascii")
