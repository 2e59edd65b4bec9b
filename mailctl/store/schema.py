"""Is the schema current? Answered with one query on the everyday path.

Only when the answer is no (an empty, older, newer or hand-made database) does
the command hand over to core.db, which imports SQLAlchemy and Alembic to
explain or migrate. HEAD is the newest migration's revision; a test checks it
against Alembic's own head, so a new migration cannot forget it.
"""

from __future__ import annotations

from mailctl.errors import DatabaseError, DatabaseUnreachable
from mailctl.store.connection import Db

HEAD = "0005"
VERSION_TABLE = "mailctl_schema_version"


def stored_revision(db: Db) -> str | None:
    """The revision stamped in the database; None when there is none to read."""
    try:
        found = db.value(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608
    except DatabaseUnreachable:
        raise
    except DatabaseError:  # no version table (yet)
        found = None
    db.end_reading()  # PostgreSQL: a failed statement spoils the rest of the transaction
    return found if isinstance(found, str) else None


def is_current(db: Db) -> bool:
    return stored_revision(db) == HEAD
