"""The guide's three tables (virtual_domains, virtual_users, virtual_aliases):
their rows and the queries the commands need, one function each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mailctl.model.datarecord import datarecord
from mailctl.store.connection import Db

# What these queries read and write; a test holds it against core.tables.
COLUMNS = {
    "virtual_domains": ("id", "name"),
    "virtual_users": ("id", "domain_id", "email", "password"),
    "virtual_aliases": ("id", "domain_id", "source", "destination"),
}


@datarecord
class Domain:
    """A row of virtual_domains."""

    id: int
    name: str


@datarecord
class User:
    """A row of virtual_users."""

    id: int
    domain_id: int
    email: str
    password: str


@datarecord
class Alias:
    """A row of virtual_aliases."""

    id: int
    domain_id: int
    source: str
    destination: str

    @property
    def destinations(self) -> list[str]:
        """Postfix reads one comma-separated value; tolerate spaces a human left."""
        return [d.strip() for d in self.destination.split(",") if d.strip()]


def like_literal(value: str) -> str:
    """`value` for a LIKE pattern, its wildcards escaped (the query says ESCAPE '!')."""
    return value.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def contains(value: str) -> str:
    """A LIKE pattern for `value` anywhere (ESCAPE '!')."""
    return f"%{like_literal(value)}%"


# ------------------------------------------------------------------ domains


def find_domain(db: Db, name: str) -> Domain | None:
    row = db.row("SELECT id, name FROM virtual_domains WHERE name = ?", (name,))
    return Domain(*row) if row else None


def domain_names(db: Db) -> list[str]:
    return [name for (name,) in db.rows("SELECT name FROM virtual_domains")]


def domains(db: Db) -> list[Domain]:
    return [Domain(*row) for row in db.rows("SELECT id, name FROM virtual_domains")]


def insert_domain(db: Db, name: str) -> Domain:
    return Domain(db.insert("INSERT INTO virtual_domains (name) VALUES (?)", (name,)), name)


def delete_domain(db: Db, domain: Domain) -> None:
    db.run("DELETE FROM virtual_domains WHERE id = ?", (domain.id,))


def count_in_domain(db: Db, table: str, domain_id: int) -> int:
    assert table in ("virtual_users", "virtual_aliases")  # noqa: S101 - never user input
    return int(db.value(f"SELECT COUNT(*) FROM {table} WHERE domain_id = ?", (domain_id,)))  # noqa: S608


def counts_by_domain(db: Db, table: str) -> dict[int, int]:
    assert table in ("virtual_users", "virtual_aliases")  # noqa: S101 - never user input
    rows = db.rows(f"SELECT domain_id, COUNT(*) FROM {table} GROUP BY domain_id")  # noqa: S608
    return {domain_id: count for domain_id, count in rows}


# ------------------------------------------------------------------ users


def find_user(db: Db, email: str) -> User | None:
    row = db.row(
        "SELECT id, domain_id, email, password FROM virtual_users WHERE email = ?", (email,)
    )
    return User(*row) if row else None


def insert_user(db: Db, domain_id: int, email: str, password: str) -> User:
    new_id = db.insert(
        "INSERT INTO virtual_users (domain_id, email, password) VALUES (?, ?, ?)",
        (domain_id, email, password),
    )
    return User(new_id, domain_id, email, password)


def insert_users(db: Db, rows: Sequence[tuple[int, str, str]]) -> None:
    """Many (domain_id, email, password) rows in one statement batch."""
    db.run_many("INSERT INTO virtual_users (domain_id, email, password) VALUES (?, ?, ?)", rows)


def set_password(db: Db, user_id: int, password: str) -> None:
    db.run("UPDATE virtual_users SET password = ? WHERE id = ?", (password, user_id))


def set_passwords(db: Db, rows: Sequence[tuple[str, int]]) -> None:
    """Many (password, id) pairs."""
    db.run_many("UPDATE virtual_users SET password = ? WHERE id = ?", rows)


def delete_user(db: Db, user: User) -> None:
    db.run("DELETE FROM virtual_users WHERE id = ?", (user.id,))


def is_mailbox(db: Db, email: str) -> bool:
    return db.row("SELECT 1 FROM virtual_users WHERE email = ?", (email,)) is not None


def users(db: Db) -> list[User]:
    return [
        User(*row) for row in db.rows("SELECT id, domain_id, email, password FROM virtual_users")
    ]


def emails(db: Db) -> list[str]:
    return [email for (email,) in db.rows("SELECT email FROM virtual_users")]


# ------------------------------------------------------------------ aliases

_ALIAS = "SELECT id, domain_id, source, destination FROM virtual_aliases"


def alias_rows(db: Db, source: str) -> list[Alias]:
    """The rows of one source in row order (a hand-made database may hold several)."""
    return [Alias(*row) for row in db.rows(_ALIAS + " WHERE source = ? ORDER BY id", (source,))]


def aliases(db: Db) -> list[Alias]:
    return [Alias(*row) for row in db.rows(_ALIAS + " ORDER BY id")]


def insert_alias(db: Db, domain_id: int, source: str, destination: str) -> None:
    db.run(
        "INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (?, ?, ?)",
        (domain_id, source, destination),
    )


def insert_aliases(db: Db, rows: Sequence[tuple[int, str, str]]) -> None:
    """Many (domain_id, source, destination) rows."""
    db.run_many(
        "INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (?, ?, ?)", rows
    )


def set_destination(db: Db, alias_id: int, destination: str) -> None:
    db.run("UPDATE virtual_aliases SET destination = ? WHERE id = ?", (destination, alias_id))


def set_destinations(db: Db, rows: Sequence[tuple[str, int]]) -> None:
    """Many (destination, id) pairs."""
    db.run_many("UPDATE virtual_aliases SET destination = ? WHERE id = ?", rows)


def delete_aliases(db: Db, rows: Iterable[Alias]) -> None:
    db.run_many("DELETE FROM virtual_aliases WHERE id = ?", [(row.id,) for row in rows])


def aliases_containing(db: Db, text: str, *, outside_domain: int | None = None) -> list[Alias]:
    """Rows whose destination holds `text` (callers check the exact destinations)."""
    sql = _ALIAS + " WHERE destination LIKE ? ESCAPE '!'"
    if outside_domain is None:
        return [Alias(*row) for row in db.rows(sql, (contains(text),))]
    rows = db.rows(sql + " AND domain_id <> ?", (contains(text), outside_domain))
    return [Alias(*row) for row in rows]


def alias_pairs(db: Db, domain: str | None = None) -> list[tuple[str, str]]:
    """(source, destination) of every row, by source and row order."""
    sql = "SELECT a.source, a.destination FROM virtual_aliases a"
    if domain is None:
        return db.rows(sql + " ORDER BY a.source, a.id")
    return db.rows(
        sql + " JOIN virtual_domains d ON d.id = a.domain_id WHERE d.name = ?"
        " ORDER BY a.source, a.id",
        (domain,),
    )


def alias_sources(db: Db) -> list[str]:
    return [source for (source,) in db.rows("SELECT source FROM virtual_aliases")]
