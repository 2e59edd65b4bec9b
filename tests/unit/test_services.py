"""The service layer (mailctl.services) on an in-memory SQLite database, without the CLI."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from mailctl.core import db as core_db
from mailctl.core.config import Settings, build_settings, sandbox_defaults
from mailctl.dkim import keyfiles as dkim
from mailctl.errors import (
    AlreadyExists,
    Conflict,
    DatabaseError,
    DomainNotHosted,
    InvalidName,
    NotFound,
    PasswordRejected,
)
from mailctl.model.dkimstates import PUBLISHED
from mailctl.model.schemes import scheme_label
from mailctl.passwords.hashing import SCHEMES_WRITE, scheme_of, verify_password
from mailctl.serverfiles.managed import table_entries
from mailctl.services import Change, Tx, aliases, domains, reports, users
from mailctl.services import dkim as keys
from mailctl.store import guide, schema
from mailctl.store.connection import Db, connect
from mailctl.store.dkimkeys import all_keys
from mailctl.store.guide import User

ADMIN = "admin@example.org"
PASSWORD = "correct horse battery"
OTHER_PASSWORD = "another long secret"


# ------------------------------------------------------------------ fixtures


def make_settings(root: Path, **overrides: dict[str, Any]) -> Settings:
    """The sandbox's layout under `root` (commands off), fast keys and hashes."""
    data: dict[str, dict[str, Any]] = sandbox_defaults(root)
    data["database"] = {"url": "sqlite://"}
    data["server"] = {"admin_email": ADMIN}
    data["vmail"] = {**data["vmail"], "create_maildirs": False}
    data["passwords"] = {"bcrypt_cost": 4}
    data["dkim"] = {**data["dkim"], "bits": 1024}
    for section, values in overrides.items():
        data[section] = {**data.get(section, {}), **values}
    return build_settings(data)


_generate_rsa_key = functools.cache(dkim.generate_rsa_key)


@pytest.fixture(autouse=True)
def _one_rsa_key_per_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """RSA generation is most of a domain add's time: one real key per size serves all tests."""
    monkeypatch.setattr(dkim, "generate_rsa_key", _generate_rsa_key)


@pytest.fixture(scope="module")
def migrated() -> Iterator[sqlite3.Connection]:
    """An in-memory database brought to head once, by the migrations `mailctl db upgrade` runs."""
    template = sqlite3.connect(":memory:", check_same_thread=False)
    core_db.upgrade(create_engine("sqlite://", poolclass=StaticPool, creator=lambda: template))
    yield template
    template.close()


@pytest.fixture
def db(migrated: sqlite3.Connection) -> Iterator[Db]:
    """A fresh copy of the migrated database in the store's own in-memory connection
    (foreign keys on), the services running in one transaction on it as commands do."""
    store = connect("sqlite://")
    migrated.backup(store.raw)
    try:
        with store.transaction():
            yield store
    finally:
        store.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def tx(db: Db, settings: Settings) -> Tx:
    return Tx(db, settings)


# ------------------------------------------------------------------ helpers


def alias_map(db: Db) -> dict[str, tuple[str, ...]]:
    return {a.source: a.destinations for a in aliases.list_aliases(db)}


def alias_rows(db: Db, source: str) -> list[str]:
    """The stored destination value of each row of `source`, in row order."""
    sql = "SELECT destination FROM virtual_aliases WHERE source = ? ORDER BY id"
    return [destination for (destination,) in db.rows(sql, (source,))]


def insert_alias_rows(db: Db, domain_id: int, source: str, *destinations: str) -> None:
    """Rows as a hand-made database may hold them: several for one source."""
    db.run_many(
        "INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (?, ?, ?)",
        [(domain_id, source, destination) for destination in destinations],
    )


def column(db: Db, table: str, name: str) -> list[Any]:
    return [value for (value,) in db.rows(f"SELECT {name} FROM {table} ORDER BY id")]


def count(db: Db, table: str) -> int:
    return int(db.value(f"SELECT COUNT(*) FROM {table}"))


def add_user(tx: Tx, email: str, *, scheme: str | None = None, force: bool = False) -> User:
    return users.add_user(
        tx, email, users.hash_new_password(tx.settings, PASSWORD, scheme), force=force
    )


def write_key(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ Tx and the schema


def test_schema_is_current_and_enforces_foreign_keys(db: Db) -> None:
    assert schema.stored_revision(db) == schema.HEAD
    assert db.value("PRAGMA foreign_keys") == 1
    with pytest.raises(DatabaseError, match="FOREIGN KEY constraint failed"):
        db.run(
            "INSERT INTO virtual_users (domain_id, email, password) VALUES (?, ?, ?)",
            (12345, "a@example.nl", "{SHA512-CRYPT}x"),
        )


def test_tx_starts_empty_and_collects_changes_and_warnings(tx: Tx) -> None:
    assert (tx.changes, tx.warnings, tx.new_keys, tx.files_dirty) == ([], [], [], False)
    tx.record("insert", "virtual_domains", "example.nl")
    tx.warn("careful")
    assert tx.changes == [Change("insert", "virtual_domains", "example.nl", "")]
    assert tx.warnings == ["careful"]


@pytest.mark.parametrize(
    ("change", "described"),
    [
        (Change("insert", "virtual_domains", "a.nl"), "INSERT INTO virtual_domains: a.nl"),
        (Change("update", "virtual_users", "a@a.nl", "x"), "UPDATE virtual_users: a@a.nl (x)"),
        (Change("delete", "virtual_aliases", "b@a.nl"), "DELETE FROM virtual_aliases: b@a.nl"),
    ],
)
def test_change_describe(change: Change, described: str) -> None:
    assert change.describe() == described


# ------------------------------------------------------------------ domain add


def test_domain_add_stores_idn_as_a_label(tx: Tx, db: Db) -> None:
    domain = domains.add_domain(tx, "Bücher.Example.")
    assert domain.name == "xn--bcher-kva.example"
    assert column(db, "virtual_domains", "name") == ["xn--bcher-kva.example"]
    assert tx.changes[0] == Change("insert", "virtual_domains", "xn--bcher-kva.example")
    assert tx.files_dirty
    [info] = domains.list_domains(db)
    assert (info.name, info.unicode, info.users, info.aliases) == (
        "xn--bcher-kva.example",
        "bücher.example",
        0,
        4,  # postmaster@, abuse@ and the DMARC and TLS-RPT report addresses
    )


@pytest.mark.parametrize(
    ("first", "again", "stored"),
    [
        ("example.nl", "example.nl", "example.nl"),
        ("example.nl", "EXAMPLE.NL.", "example.nl"),
        ("bücher.example", "xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "BÜCHER.example", "xn--bcher-kva.example"),
    ],
)
def test_domain_add_duplicate_refused(tx: Tx, db: Db, first: str, again: str, stored: str) -> None:
    domains.add_domain(tx, first)
    changes = list(tx.changes)
    with pytest.raises(AlreadyExists, match=f"domain {stored} exists already"):
        domains.add_domain(tx, again)
    assert count(db, "virtual_domains") == 1
    assert tx.changes == changes


@pytest.mark.parametrize(
    ("value", "why"),
    [("localhost", "at least two labels"), ("a/b.nl", "no '/'"), ("-x.nl", "letters, digits")],
)
def test_domain_add_invalid_name_refused(tx: Tx, db: Db, value: str, why: str) -> None:
    with pytest.raises(InvalidName, match=why):
        domains.add_domain(tx, value)
    assert count(db, "virtual_domains") == 0


def test_domain_add_creates_role_aliases(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    assert alias_map(db) == {
        "abuse@example.nl": (ADMIN,),
        "postmaster@example.nl": (ADMIN,),
        "dmarc-reports@example.nl": (ADMIN,),  # the default DMARC record's rua=
        "tls-report@example.nl": (ADMIN,),  # and TLS-RPT's
    }
    inserted = [c.key for c in tx.changes if c.table == "virtual_aliases"]
    assert inserted == [
        "postmaster@example.nl", "abuse@example.nl", "dmarc-reports@example.nl",
        "tls-report@example.nl",
    ]


def test_domain_add_without_role_aliases(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl", role_aliases=False)
    assert count(db, "virtual_aliases") == 0


def test_domain_add_with_empty_admin_email_warns(db: Db, tmp_path: Path) -> None:
    tx = Tx(db, make_settings(tmp_path, server={"admin_email": ""}))
    domains.add_domain(tx, "example.nl")
    assert count(db, "virtual_aliases") == 0
    assert "server.admin_email is empty: no postmaster@example.nl alias created" in tx.warnings


def test_domain_add_skips_the_role_alias_that_is_admin_email(db: Db, tmp_path: Path) -> None:
    tx = Tx(db, make_settings(tmp_path, server={"admin_email": "Postmaster@Example.NL"}))
    domains.add_domain(tx, "example.nl")
    assert alias_map(db) == {
        f"{local}@example.nl": ("postmaster@example.nl",)
        for local in ("abuse", "dmarc-reports", "tls-report")
    }


def test_domain_add_skips_role_alias_equal_to_unicode_admin_email(db: Db, tmp_path: Path) -> None:
    tx = Tx(db, make_settings(tmp_path, server={"admin_email": "postmaster@bücher.example"}))
    domains.add_domain(tx, "bücher.example")
    assert alias_map(db) == {
        f"{local}@xn--bcher-kva.example": ("postmaster@xn--bcher-kva.example",)
        for local in ("abuse", "dmarc-reports", "tls-report")
    }


def test_domain_add_records_a_new_dkim_key(tx: Tx, db: Db) -> None:
    domain = domains.add_domain(tx, "example.nl")
    [new] = tx.new_keys
    assert (new.domain, new.selector) == ("example.nl", "mail")
    assert dkim.key_algorithm(new.pem) == "rsa"
    assert dkim.key_bits(new.pem) == 1024
    [row] = all_keys(db)
    assert (row.domain_id, row.selector, row.algorithm, row.bits, row.state) == (
        domain.id,
        "mail",
        "rsa",
        1024,
        "active",
    )
    assert row.activated_at == row.created_at
    assert row.retired_at is None
    [change] = [c for c in tx.changes if c.table == "mailctl_dkim_keys"]
    assert change.key == "mail._domainkey.example.nl"
    assert change.detail.startswith("active, new 1024-bit RSA key")
    assert any("has 1024 bits; 2048 or more is recommended" in w for w in tx.warnings)
    # The service only asks for the file: the CLI writes it after the rows.
    assert not keys.key_file(tx.settings, "example.nl", "mail").exists()
    assert keys.active_selectors(db) == {"example.nl": ["mail"]}


def test_domain_add_with_ed25519_gets_two_keys(db: Db, tmp_path: Path) -> None:
    tx = Tx(db, make_settings(tmp_path, dkim={"ed25519": True}))
    domains.add_domain(tx, "example.nl")
    assert [(k.selector, dkim.key_algorithm(k.pem)) for k in tx.new_keys] == [
        ("mail", "rsa"),
        ("ed", "ed25519"),
    ]
    rows = {r.selector: (r.algorithm, r.bits, r.state) for r in all_keys(db)}
    assert rows == {"mail": ("rsa", 1024, "active"), "ed": ("ed25519", 256, "active")}


def test_domain_add_reuses_an_existing_key_file(tx: Tx, db: Db) -> None:
    path = keys.key_file(tx.settings, "example.nl", "mail")
    write_key(path, dkim.generate_rsa_key(1024))
    domains.add_domain(tx, "example.nl")
    # reused, never replaced: the managed-files step only makes it whole (.txt, owner)
    assert [(k.selector, k.existing) for k in tx.new_keys] == [("mail", True)]
    [row] = all_keys(db)
    assert (row.selector, row.bits, row.state) == ("mail", 1024, "active")
    assert any(f"reused existing key file {path}" in c.detail for c in tx.changes)


def test_domain_add_refuses_a_key_file_of_another_algorithm(tx: Tx) -> None:
    write_key(keys.key_file(tx.settings, "example.nl", "mail"), dkim.generate_ed25519_key())
    with pytest.raises(Conflict, match="holds a ed25519 key, not rsa"):
        domains.add_domain(tx, "example.nl")


# ------------------------------------------------------------------ domain del


def test_domain_del_cascades_to_users_aliases_and_keys(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    domains.add_domain(tx, "example.com")
    add_user(tx, "a@example.nl")
    add_user(tx, "b@example.nl")
    add_user(tx, "c@example.com")
    aliases.add_alias(tx, "info@example.nl", ["a@example.nl"])
    info = domains.delete_domain(tx, "EXAMPLE.nl")
    assert (info.name, info.users, info.aliases) == ("example.nl", 2, 5)
    assert tx.changes[-1] == Change(
        "delete", "virtual_domains", "example.nl", "cascades to 2 user(s) and 5 alias(es)"
    )
    assert column(db, "virtual_domains", "name") == ["example.com"]
    assert column(db, "virtual_users", "email") == ["c@example.com"]
    assert sorted(alias_map(db)) == [
        f"{local}@example.com" for local in ("abuse", "dmarc-reports", "postmaster", "tls-report")
    ]
    assert keys.active_selectors(db) == {"example.com": ["mail"]}
    assert guide.find_domain(db, "example.nl") is None


def test_domain_del_warns_about_aliases_pointing_into_it(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    domains.add_domain(tx, "example.com")
    aliases.add_alias(tx, "fwd@example.com", ["x@example.nl", "y@example.org"])
    domains.delete_domain(tx, "example.nl")
    assert (
        "1 alias(es) in other domains still point into example.nl: fwd@example.com" in tx.warnings
    )
    assert alias_map(db)["fwd@example.com"] == ("x@example.nl", "y@example.org")


def test_domain_del_unknown_domain(tx: Tx) -> None:
    with pytest.raises(NotFound, match="domain nothere.nl is not hosted here"):
        domains.delete_domain(tx, "nothere.nl")


# ------------------------------------------------------------------ user add


def test_user_add_stores_the_row(tx: Tx, db: Db) -> None:
    domain = domains.add_domain(tx, "example.nl")
    user = add_user(tx, "Joe.Doe@Example.NL")
    assert (user.email, user.domain_id) == ("joe.doe@example.nl", domain.id)
    assert users.get_user(db, "joe.doe@example.nl") == user  # the row as stored
    assert tx.maildirs_to_create == ["joe.doe@example.nl"]
    assert tx.changes[-1] == Change(
        "insert", "virtual_users", "joe.doe@example.nl", "password SHA512-CRYPT"
    )


def test_user_add_in_unhosted_domain_refused(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    with pytest.raises(DomainNotHosted, match="domain other.nl is not hosted here"):
        add_user(tx, "a@other.nl")
    assert count(db, "virtual_users") == 0


def test_user_add_duplicate_refused(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    add_user(tx, "a@example.nl")
    with pytest.raises(AlreadyExists, match="user a@example.nl exists already"):
        add_user(tx, "A@EXAMPLE.nl")
    assert count(db, "virtual_users") == 1


def test_user_add_over_an_alias_source_refused_unless_force(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    with pytest.raises(Conflict, match=r"postmaster@example.nl is an alias .*; remove it first"):
        add_user(tx, "postmaster@example.nl")
    assert count(db, "virtual_users") == 0
    add_user(tx, "postmaster@example.nl", force=True)
    assert guide.find_user(db, "postmaster@example.nl") is not None


def test_user_add_warns_when_the_domain_has_a_catchall(tx: Tx) -> None:
    domains.add_domain(tx, "example.nl")
    aliases.add_alias(tx, "@example.nl", [ADMIN])
    tx.warnings.clear()
    add_user(tx, "a@example.nl")
    assert len(tx.warnings) == 1
    assert tx.warnings[0].startswith("@example.nl has a catch-all")
    assert "a@example.nl's mail" in tx.warnings[0]
    assert tx.warnings[0].endswith("(see the docs: how-to/catch-all)")


@pytest.mark.parametrize("scheme", SCHEMES_WRITE)
def test_user_add_hash_verifies(tx: Tx, db: Db, scheme: str) -> None:
    domains.add_domain(tx, "example.nl")
    add_user(tx, "a@example.nl", scheme=scheme)
    stored = users.get_user(db, "a@example.nl").password
    assert stored.startswith("{" + scheme + "}")
    assert scheme_of(stored) == scheme
    assert verify_password(PASSWORD, stored)
    assert not verify_password(OTHER_PASSWORD, stored)
    default = tx.settings.passwords.default_scheme  # as `user list` shows it
    assert [scheme_label(b.head, default) for b in reports.mailboxes(db)] == [scheme]


def test_hash_new_password_uses_the_configured_scheme_and_cost(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, passwords={"scheme": "BLF-CRYPT"})
    assert users.hash_new_password(settings, PASSWORD).startswith("{BLF-CRYPT}$2y$04$")


@pytest.mark.parametrize(
    ("password", "scheme", "why"),
    [
        ("short", None, "password is 5 characters; at least 12 required"),
        ("x" * 73, "BLF-CRYPT", "BLF-CRYPT cannot use more than 72 bytes"),
        ("", None, "the password is empty"),
    ],
)
def test_hash_new_password_applies_the_policy(
    settings: Settings, password: str, scheme: str | None, why: str
) -> None:
    with pytest.raises(PasswordRejected, match=why):
        users.hash_new_password(settings, password, scheme)


# ------------------------------------------------------------------ user passwd / del


def test_user_passwd_changes_the_hash(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    old = add_user(tx, "a@example.nl").password
    new_hash = users.hash_new_password(tx.settings, OTHER_PASSWORD, "BLF-CRYPT")
    users.set_password(tx, "A@example.nl", new_hash)
    stored = db.value("SELECT password FROM virtual_users WHERE email = ?", ("a@example.nl",))
    assert stored is not None and stored != old
    assert verify_password(OTHER_PASSWORD, stored)
    assert not verify_password(PASSWORD, stored)
    assert tx.changes[-1] == Change(
        "update", "virtual_users", "a@example.nl", "password SHA512-CRYPT -> BLF-CRYPT"
    )


def test_user_passwd_unknown_user(tx: Tx) -> None:
    domains.add_domain(tx, "example.nl")
    with pytest.raises(NotFound, match="user nobody@example.nl does not exist"):
        users.set_password(tx, "nobody@example.nl", "{SHA512-CRYPT}x")


def test_user_del_removes_the_row_and_keeps_aliases_pointing_to_it(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    add_user(tx, "a@example.nl")
    add_user(tx, "b@example.nl")
    aliases.add_alias(tx, "info@example.nl", ["a@example.nl", "x@example.org"])
    aliases.add_alias(tx, "fwd@example.nl", ["a@example.nl"])
    pointing = users.delete_user(tx, "a@example.nl")
    assert sorted(pointing, key=lambda a: a.source) == [
        aliases.AliasInfo("fwd@example.nl", ("a@example.nl",)),
        aliases.AliasInfo("info@example.nl", ("a@example.nl", "x@example.org")),
    ]
    assert "2 alias(es) still point to a@example.nl: fwd@example.nl, info@example.nl" in (
        tx.warnings
    )
    assert column(db, "virtual_users", "email") == ["b@example.nl"]
    # Documented: user del only warns; aliases of other sources stay untouched.
    current = alias_map(db)
    assert current["fwd@example.nl"] == ("a@example.nl",)
    assert current["info@example.nl"] == ("a@example.nl", "x@example.org")
    assert tx.changes[-1] == Change("delete", "virtual_users", "a@example.nl")


def test_user_del_drops_the_local_copy_of_its_own_forward(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    add_user(tx, "joe@example.nl")
    add_user(tx, "ann@example.nl")
    aliases.add_alias(tx, "joe@example.nl", ["joe@example.nl", "x@example.org"])
    aliases.add_alias(tx, "ann@example.nl", ["ann@example.nl"])
    assert users.delete_user(tx, "joe@example.nl") == []
    users.delete_user(tx, "ann@example.nl")
    current = alias_map(db)
    assert current["joe@example.nl"] == ("x@example.org",)
    assert "ann@example.nl" not in current
    assert count(db, "virtual_users") == 0


def test_user_del_unknown_user(tx: Tx) -> None:
    with pytest.raises(NotFound, match="user a@example.nl does not exist"):
        users.delete_user(tx, "a@example.nl")


# ------------------------------------------------------------------ alias add


def test_alias_add_merges_into_one_row(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    first = aliases.add_alias(tx, "info@example.nl", ["a@example.org"])
    assert (first.created, first.changed) == (True, ("a@example.org",))
    second = aliases.add_alias(
        tx, "INFO@example.nl", ["a@example.org", "b@example.org,C@example.org", "b@example.org"]
    )
    assert (second.created, second.changed) == (False, ("b@example.org", "c@example.org"))
    assert second.destinations == ("a@example.org", "b@example.org", "c@example.org")
    assert alias_rows(db, "info@example.nl") == ["a@example.org,b@example.org,c@example.org"]
    assert tx.changes[-1] == Change(
        "update", "virtual_aliases", "info@example.nl", "+ b@example.org, c@example.org"
    )


def test_alias_add_of_present_destinations_only_refused(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    aliases.add_alias(tx, "info@example.nl", ["a@example.org", "b@example.org"])
    with pytest.raises(AlreadyExists, match="alias info@example.nl already delivers to"):
        aliases.add_alias(tx, "info@example.nl", ["b@example.org"])
    assert alias_rows(db, "info@example.nl") == ["a@example.org,b@example.org"]


def test_alias_add_extends_the_first_of_hand_made_rows(tx: Tx, db: Db) -> None:
    domain = domains.add_domain(tx, "example.nl")
    insert_alias_rows(db, domain.id, "info@example.nl", "a@x.org", " b@x.org ")
    change = aliases.add_alias(tx, "info@example.nl", ["b@x.org", "c@x.org"])
    assert change.changed == ("c@x.org",)
    assert alias_rows(db, "info@example.nl") == ["a@x.org,c@x.org", " b@x.org "]
    assert alias_map(db)["info@example.nl"] == ("a@x.org", "c@x.org", "b@x.org")


def test_alias_add_in_unhosted_domain_refused(tx: Tx) -> None:
    with pytest.raises(DomainNotHosted, match="domain unhosted.nl is not hosted here"):
        aliases.add_alias(tx, "x@unhosted.nl", ["a@example.org"])


def test_catchall_warns_about_shadowing_once(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    add_user(tx, "a@example.nl")
    add_user(tx, "b@example.nl")
    tx.warnings.clear()
    change = aliases.add_alias(tx, "@Example.NL", [ADMIN])
    assert (change.source, change.created) == ("@example.nl", True)
    [warning] = tx.warnings
    assert warning.startswith("catch-all @example.nl: ")
    assert "the domain's 2 existing mailbox(es)" in warning
    assert warning.endswith("(see the docs: how-to/catch-all)")
    aliases.add_alias(tx, "@example.nl", ["other@example.org"])
    assert len(tx.warnings) == 1  # merging into an existing catch-all warns no more
    assert alias_map(db)["@example.nl"] == (ADMIN, "other@example.org")


def test_alias_domain_has_exactly_one_destination(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "alias.nl")
    aliases.add_alias(tx, "@alias.nl", ["@example.nl"])
    assert any(w.startswith("catch-all @alias.nl") for w in tx.warnings)
    with pytest.raises(Conflict, match="an alias domain has exactly one"):
        aliases.add_alias(tx, "@alias.nl", ["@example.org"])
    with pytest.raises(InvalidName, match="an alias domain has exactly one @domain destination"):
        aliases.add_alias(tx, "@alias.nl", ["@a.org", "@b.org"])
    assert alias_map(db)["@alias.nl"] == ("@example.nl",)


def test_alias_on_a_mailbox_refused_unless_it_keeps_a_copy_or_force(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    add_user(tx, "u@example.nl")
    with pytest.raises(Conflict, match="u@example.nl is a mailbox; an alias for it must keep"):
        aliases.add_alias(tx, "u@example.nl", ["x@example.org"])
    assert alias_rows(db, "u@example.nl") == []
    aliases.add_alias(tx, "u@example.nl", ["u@example.nl", "x@example.org"])
    assert alias_rows(db, "u@example.nl") == ["u@example.nl,x@example.org"]
    add_user(tx, "v@example.nl")
    aliases.add_alias(tx, "v@example.nl", ["x@example.org"], force=True)
    assert alias_rows(db, "v@example.nl") == ["x@example.org"]


def test_alias_to_itself_refused_when_not_a_mailbox(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    with pytest.raises(Conflict, match="would point to itself and it is not a mailbox"):
        aliases.add_alias(tx, "a@example.nl", ["a@example.nl", "b@example.org"], force=True)
    assert alias_rows(db, "a@example.nl") == []


@pytest.mark.parametrize(
    ("values", "error", "why"),
    [
        ([], InvalidName, "give at least one destination"),
        ([" , ,"], InvalidName, "give at least one destination"),
        (["not-an-address"], InvalidName, "invalid address: 'not-an-address'"),
        (["a/b@example.org"], InvalidName, "local part may use"),
        (["a@localhost"], InvalidName, "at least two labels"),
        (["@example.org"], InvalidName, "@domain only works as the destination of an alias"),
    ],
)
def test_alias_destination_validation(
    tx: Tx, db: Db, values: list[str], error: type[Exception], why: str
) -> None:
    domains.add_domain(tx, "example.nl")
    with pytest.raises(error, match=why):
        aliases.add_alias(tx, "info@example.nl", values)
    assert alias_rows(db, "info@example.nl") == []


# ------------------------------------------------------------------ alias del


def test_alias_del_of_one_destination_keeps_the_others(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    aliases.add_alias(tx, "info@example.nl", ["a@x.org", "b@x.org", "c@x.org"])
    change = aliases.delete_alias(tx, "info@example.nl", ["B@x.org"])
    assert (change.destinations, change.changed, change.deleted) == (
        ("a@x.org", "c@x.org"),
        ("b@x.org",),
        False,
    )
    assert alias_rows(db, "info@example.nl") == ["a@x.org,c@x.org"]
    assert tx.changes[-1] == Change("update", "virtual_aliases", "info@example.nl", "- b@x.org")
    with pytest.raises(NotFound, match="alias info@example.nl has no destination b@x.org"):
        aliases.delete_alias(tx, "info@example.nl", ["b@x.org"])
    last = aliases.delete_alias(tx, "info@example.nl", ["a@x.org", "c@x.org"])
    assert (last.destinations, last.deleted) == ((), True)
    assert alias_rows(db, "info@example.nl") == []


def test_alias_del_without_destinations_removes_every_row(tx: Tx, db: Db) -> None:
    domain = domains.add_domain(tx, "example.nl")
    insert_alias_rows(db, domain.id, "info@example.nl", "a@x.org", "b@x.org")
    change = aliases.delete_alias(tx, "info@example.nl")
    assert (change.changed, change.deleted) == (("a@x.org", "b@x.org"), True)
    assert alias_rows(db, "info@example.nl") == []
    assert tx.changes[-1] == Change(
        "delete", "virtual_aliases", "info@example.nl", "a@x.org, b@x.org"
    )
    assert sorted(alias_map(db)) == [
        f"{local}@example.nl" for local in ("abuse", "dmarc-reports", "postmaster", "tls-report")
    ]


def test_alias_del_unknown_alias(tx: Tx) -> None:
    domains.add_domain(tx, "example.nl")
    with pytest.raises(NotFound, match="alias nothere@example.nl does not exist"):
        aliases.delete_alias(tx, "nothere@example.nl")


# ------------------------------------------------------------------ DKIM key lifecycle


def test_key_rotate_activate_retire(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    tx.new_keys.clear()
    dated = f"mail{keys.now():%Y%m%d}"
    pending = keys.rotate(tx, domains.get_domain(db, "example.nl"))
    assert (pending.selector, pending.state, pending.activated_at) == (dated, "pending", None)
    assert [k.selector for k in tx.new_keys] == [dated]
    with pytest.raises(Conflict, match=f"already has a pending rsa key \\({dated}\\)"):
        keys.rotate(tx, domains.get_domain(db, "example.nl"))
    domain = domains.get_domain(db, "example.nl")
    assert keys.find_key(tx, domain, None, "pending") == pending  # the row as stored
    entries = table_entries(db, tx.settings, algorithm="rsa", states=PUBLISHED)
    assert sorted(e.selector for e in entries) == sorted(["mail", dated])

    [old] = keys.activate(tx, pending)
    assert (old.selector, old.state) == ("mail", "retired")
    assert old.retired_at is not None
    assert keys.active_selectors(db) == {"example.nl": [dated]}
    assert keys.rotate(tx, domains.get_domain(db, "example.nl")).selector == dated + "b"

    retired = keys.find_key(tx, domain, "mail", "retired")
    assert retired == old  # the row activate() retired, as stored
    keys.retire(tx, retired, "example.nl")
    assert retired.state == "archived"
    assert keys.find_key(tx, domain, "mail", "archived") == retired  # and so stored
    assert tx.keys_to_archive == [("example.nl", "mail")]
    with pytest.raises(Conflict, match="key mail of example.nl is archived, not active"):
        keys.find_key(tx, domain, "mail", "active")
    with pytest.raises(NotFound, match="example.nl has no DKIM key with selector nope"):
        keys.find_key(tx, domain, "nope", "active")


def test_archive_key_files_moves_the_pair(settings: Settings) -> None:
    private = keys.key_file(settings, "example.nl", "mail")
    write_key(private, b"key")
    private.with_suffix(".txt").write_text("txt")
    target = keys.archive_key_files(settings, "example.nl", "mail")
    assert target is not None and target.parent == private.parent / "archive"
    assert target.read_bytes() == b"key"
    assert not private.exists() and not private.with_suffix(".txt").exists()
    assert keys.archive_key_files(settings, "example.nl", "mail") is None


def test_alias_with_many_destinations_keeps_order_and_each_once(tx: Tx, db: Db) -> None:
    domains.add_domain(tx, "example.nl")
    many = [f"u{i}@example.org" for i in range(40_000)]
    aliases.add_alias(tx, "list@example.nl", [*many, *many[:100]])
    aliases.delete_alias(tx, "list@example.nl", many[:20_000])
    (row,) = alias_rows(db, "list@example.nl")
    assert row.split(",") == many[20_000:]
