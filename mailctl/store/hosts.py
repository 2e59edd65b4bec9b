"""mailctl_hosts: each mail host on this database, as its last successful `sync` left it.

A host writes only its own row, in one statement that inserts or replaces it, so
two hosts never contend for a row and a rerun (store.retry) leaves one row, not two.
Times are Unix seconds taken from the database's clock, the same for every host
whatever its own clock says.
"""

from __future__ import annotations

from mailctl.model.datarecord import datarecord
from mailctl.store.connection import Db

COLUMNS = {"mailctl_hosts": ("name", "roles", "synced_at", "version", "files", "digest")}

# The database's clock, as Unix seconds, on each backend.
_NOW = {
    "mysql": "UNIX_TIMESTAMP()",
    "postgresql": "CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) AS BIGINT)",
    "sqlite": "CAST(strftime('%s', 'now') AS INTEGER)",
}
_REPLACE = {
    "mysql": " ON DUPLICATE KEY UPDATE roles = VALUES(roles), synced_at = VALUES(synced_at),"
    " version = VALUES(version), files = VALUES(files), digest = VALUES(digest)",
    # PostgreSQL and SQLite (3.24 and later) share the standard form.
    "": " ON CONFLICT (name) DO UPDATE SET roles = excluded.roles,"
    " synced_at = excluded.synced_at, version = excluded.version, files = excluded.files,"
    " digest = excluded.digest",
}


@datarecord(frozen=True)
class HostRow:
    """A row of mailctl_hosts."""

    name: str
    roles: tuple[str, ...]
    synced_at: int  # Unix time of the last successful sync (the database's clock)
    version: str  # of mailctl
    files: str  # "": the files were what the database implies; else what differed
    digest: str  # sha256 of the managed files as that sync rendered them


def now(db: Db) -> int:
    """The database's clock, in Unix seconds."""
    return int(db.value(f"SELECT {_NOW[db.backend]}"))  # noqa: S608 - a fixed expression


def save(db: Db, name: str, roles: tuple[str, ...], version: str, files: str, digest: str) -> None:
    """Insert or replace this host's row, stamped with the database's time."""
    db.run(
        "INSERT INTO mailctl_hosts (name, roles, synced_at, version, files, digest)"  # noqa: S608
        f" VALUES (?, ?, {_NOW[db.backend]}, ?, ?, ?)" + _REPLACE.get(db.backend, _REPLACE[""]),
        (name, ",".join(roles), version, files[:255], digest),
    )


def hosts(db: Db) -> list[HostRow]:
    rows = db.rows(
        "SELECT name, roles, synced_at, version, files, digest FROM mailctl_hosts ORDER BY name"
    )
    return [
        HostRow(name, tuple(r for r in roles.split(",") if r), int(at), version, files, digest)
        for name, roles, at, version, files, digest in rows
    ]


def delete(db: Db, name: str) -> bool:
    """Forget a host; False when there was no such row."""
    return db.run("DELETE FROM mailctl_hosts WHERE name = ?", (name,)) > 0


GALERA_STATUS = (
    "WSREP_READY",
    "WSREP_CLUSTER_SIZE",
    "WSREP_CLUSTER_STATUS",
    "WSREP_LOCAL_STATE_COMMENT",
    "WSREP_FLOW_CONTROL_PAUSED",
    "WSREP_LOCAL_RECV_QUEUE",
)


def galera_status(db: Db) -> dict[str, str] | None:
    """The node's wsrep status variables (lower-case names), or None when the
    database is no Galera node (SQLite, PostgreSQL, MariaDB with wsrep_on off)."""
    from mailctl.errors import DatabaseError, DatabaseUnreachable

    if db.backend != "mysql":
        return None
    try:
        on = db.value("SELECT @@wsrep_on")
    except DatabaseUnreachable:
        raise
    except DatabaseError:  # MySQL, or a MariaDB built without Galera
        db.end_reading()
        return None
    if not int(on or 0):
        return None
    marks = ", ".join("?" for _ in GALERA_STATUS)
    rows = db.rows(
        "SELECT variable_name, variable_value FROM information_schema.global_status"  # noqa: S608
        f" WHERE variable_name IN ({marks})",
        GALERA_STATUS,
    )
    return {str(name).lower(): str(value) for name, value in rows}
