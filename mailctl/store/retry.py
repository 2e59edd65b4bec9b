"""Which database refusals pass if the transaction is run again, and how often to try.

A MariaDB Galera cluster certifies each transaction at COMMIT against those the
other nodes committed meanwhile: two writers of one row through different nodes,
and the later one gets error 1213 (a "deadlock") at COMMIT, or at its next
statement when the other's change reached its node first. Such a transaction did
nothing; run again from the start, it reads the rows as they are now and
succeeds. So do a lock wait timeout (1205), a node that is not ready yet (1047,
"WSREP has not yet prepared node for application use"), PostgreSQL's
serialization failure and deadlock (40001, 40P01), and a connection lost before
COMMIT was sent (the server rolled the transaction back). A connection lost
during COMMIT is not among them: the change may have been saved.

The unit of work (services.unit) reruns the whole change, rows and files, up to
ATTEMPTS times with exponential backoff and full jitter, so that writers who
collided do not collide again in step.
"""

from __future__ import annotations

from mailctl.errors import DatabaseError, DatabaseUnreachable

NOT_READY = 1047
# MariaDB/MySQL error numbers and PostgreSQL SQLSTATEs that a rerun can get past.
RETRYABLE: dict[int | str, str] = {
    1213: "deadlock or Galera certification conflict",
    1205: "lock wait timeout",
    NOT_READY: "Galera node not ready",
    "40001": "serialization failure",
    "40P01": "deadlock",
}
ATTEMPTS = 6
FIRST_DELAY = 0.05  # seconds; doubled for each attempt, up to MAX_DELAY
MAX_DELAY = 2.0


class WriteConflict(DatabaseError):
    """The database refused the transaction for a reason that a rerun gets past."""

    def __init__(self, message: str, code: int | str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = f"{RETRYABLE[code]} ({code})"  # as the retry note says it
        # A node that is not ready may stay so (cut off from the primary component):
        # the rerun goes to the first node that is, with failover.
        self.needs_new_connection = code == NOT_READY


class ConnectionLost(DatabaseUnreachable):
    """The connection broke before COMMIT was sent: the server rolled back, and the
    transaction can run again on a new connection (another node, with failover)."""

    reason = "connection lost"
    needs_new_connection = True


class RetriesExhausted(DatabaseError):
    """A transaction was refused ATTEMPTS times in a row."""


def retryable_code(exc: BaseException) -> int | str | None:
    """The error number or SQLSTATE of a driver error worth a rerun, or None."""
    code: int | str | None = getattr(exc, "sqlstate", None)  # psycopg
    if code is None and exc.args and isinstance(exc.args[0], int):  # PyMySQL, MySQLdb
        code = exc.args[0]
    return code if code in RETRYABLE else None


def delay(attempt: int, *, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds to wait before attempt `attempt + 1`: full jitter over an exponential
    ceiling, so that two writers that collided draw different waits."""
    import random

    return random.uniform(0, min(cap, first * 2 ** (attempt - 1)))  # noqa: S311 - not a secret


def exhausted(last: WriteConflict | ConnectionLost, attempts: int) -> RetriesExhausted:
    return RetriesExhausted(
        f"the database refused the change {attempts} times ({last.reason}), so nothing"
        f" was changed; run the command again. Last error: {last}"
    )
