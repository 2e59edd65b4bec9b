"""Import planning (services.bulk: check_rows, read_current, plan_import) on a real
SQLite database: what a clean document would create, update and leave alone, and
every bad row reported with its position while nothing is planned."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailctl.core import db as core_db
from mailctl.core.config import Settings, build_settings
from mailctl.dkim import keyfiles as dkim
from mailctl.errors import LimitReached, MailctlError
from mailctl.passwords.parallel import HashJob, HashParams, resolve
from mailctl.services import Tx
from mailctl.services import transfer as bulk
from mailctl.services.aliases import add_alias
from mailctl.services.domains import add_domain
from mailctl.services.users import add_user
from mailctl.store import policy
from mailctl.store.connection import Db, connect
from mailctl.store.guide import find_domain
from mailctl.store.policy import DomainPolicy, UserPolicy
from mailctl.transfer import fileformat as bulkfile
from mailctl.transfer.fileformat import ImportRejected

# A valid SHA512-CRYPT hash of "a good long password", and a second valid one.
HASH = (
    "{SHA512-CRYPT}$6$DWFBiWqTv8LJDAE0$QydmB/t9oeyGHmNMj/mkXmOrVt2layxEAV8Ldn"
    "8LhP26ADMG8qlOKwRiRq/kDtO9uqV2Zwb3aXQPVeMYPjuxj1"
)
HASH2 = "{SHA512-CRYPT}$6$otherSALT$" + "A" * 86
ADMIN = "admin@example.nl"
PEM = "<the module's private key>"  # replaced by a real key in the documents
STAMP = "2026-01-02T03:04:05"


# ------------------------------------------------------------------ fixtures


def make_settings(directory: Path) -> Settings:
    return build_settings(
        {
            "database": {"url": f"sqlite:///{directory / 'mail.sqlite3'}"},
            "server": {"hostname": "mail.example.nl", "admin_email": "admin@example.nl"},
            "passwords": {"bcrypt_cost": 4},
            "dkim": {"bits": 1024, "key_dir": str(directory / "keys")},
        }
    )


@pytest.fixture(scope="module")
def populated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once: the current schema (Alembic upgrade, as `db upgrade` does), then
    example.nl (with postmaster@/abuse@), mailbox joe@ and alias sales@ -> joe@."""
    settings = make_settings(tmp_path_factory.mktemp("template"))
    engine = core_db.make_engine(settings.database.url, create=True)
    try:
        core_db.upgrade(engine)
    finally:
        engine.dispose()
    db = connect(settings.database.url)
    try:
        with db.transaction():
            tx = Tx(db, settings)
            add_domain(tx, "example.nl")
            add_user(tx, "joe@example.nl", HASH)
            add_alias(tx, "sales@example.nl", ["joe@example.nl"])
    finally:
        db.close()
    return Path(settings.database.url.removeprefix("sqlite:///"))


@pytest.fixture(scope="module")
def pem() -> str:
    return dkim.generate_rsa_key(1024).decode("ascii")


@dataclass
class Env:
    settings: Settings
    db: Db

    def current(self) -> bulk.Current:
        return bulk.read_current(self.db)

    def checked(self, text: str, fmt: str = "json") -> bulk.Checked:
        document, errors = bulkfile.parse(text, fmt)
        return bulk.check_rows(document, self.settings, errors)

    def plan(self, text: str, fmt: str = "json", hashes: dict[str, str] | None = None) -> bulk.Plan:
        return bulk.plan_import(self.checked(text, fmt), self.current(), self.settings, hashes)

    def rejected(self, text: str, fmt: str = "json") -> list[tuple[str, str]]:
        """(position, message) of every error; the database must be as it was."""
        before = self.current()
        with pytest.raises(ImportRejected) as info:
            self.plan(text, fmt)
        assert self.current() == before
        assert str(info.value).startswith(
            f"{len(info.value.errors)} error(s) in the import file; nothing was imported:"
        )
        return [(e.where, e.message) for e in info.value.errors]


@pytest.fixture
def env(tmp_path: Path, populated_db: Path) -> Iterator[Env]:
    settings = make_settings(tmp_path)
    shutil.copyfile(populated_db, tmp_path / "mail.sqlite3")
    db = connect(settings.database.url)
    try:
        yield Env(settings, db)
    finally:
        db.close()


def document(**sections: list[dict[str, Any]]) -> str:
    return json.dumps({"version": 1, **sections})


def fill(value: Any, pem: str) -> Any:
    """The value with every PEM placeholder replaced by the real key."""
    if isinstance(value, dict):
        return {k: fill(v, pem) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, pem) for v in value]
    return pem if value == PEM else value


def key(**fields: Any) -> dict[str, Any]:
    row = {
        "selector": "mail",
        "algorithm": "rsa",
        "bits": 1024,
        "state": "active",
        "created_at": STAMP,
        "activated_at": STAMP,
        "private_key": PEM,
    }
    return {k: v for k, v in {**row, **fields}.items() if v is not None}


# ------------------------------------------------------------------ the database as it is


def test_read_current_reads_every_row(env: Env) -> None:
    current = env.current()
    domain = find_domain(env.db, "example.nl")
    assert domain is not None
    assert current.domains == {"example.nl": domain.id}
    assert list(current.users) == ["joe@example.nl"]
    assert current.users["joe@example.nl"][1] == HASH
    assert sorted(current.aliases) == [
        "abuse@example.nl",
        "dmarc-reports@example.nl",
        "postmaster@example.nl",
        "sales@example.nl",
        "tls-report@example.nl",
    ]
    assert current.destinations("postmaster@example.nl") == ["admin@example.nl"]
    assert current.destinations("nobody@example.nl") == []
    # A hand-made database may hold several rows for one source, with stray spaces:
    # they read as one alias, in row order, without repeats.
    env.db.run_many(
        "INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (?, ?, ?)",
        [
            (domain.id, "sales@example.nl", " ann@x.nl , "),
            (domain.id, "sales@example.nl", "joe@example.nl"),
        ],
    )
    current = env.current()
    assert len(current.aliases["sales@example.nl"]) == 3
    assert current.destinations("sales@example.nl") == ["joe@example.nl", "ann@x.nl"]


# ------------------------------------------------------------------ a clean document

CLEAN = document(
    domains=[{"name": "example.nl"}, {"name": "Example.ORG"}, {"name": "bücher.example"}],
    users=[
        {"email": "Joe@Example.NL", "password": HASH},
        {"email": "ann@example.org", "password": HASH},
        {"email": "bob@bücher.example", "password": HASH2},
    ],
    aliases=[
        {"source": "sales@example.nl", "destinations": ["joe@example.nl"]},
        {"source": "abuse@example.nl", "destinations": ["JOE@example.nl"]},
        {"source": "info@example.org", "destinations": ["ann@example.org", "joe@example.nl"]},
    ],
)


def test_clean_document_plans_creates_updates_and_unchanged(env: Env) -> None:
    before = env.current()
    plan = env.plan(CLEAN)
    assert env.current() == before  # planning writes nothing
    tallies = {kind: (t.created, t.updated, t.unchanged) for kind, t in plan.tallies.items()}
    assert tallies == {"domains": (2, 0, 1), "users": (2, 0, 1), "aliases": (1, 1, 1)}
    assert plan.new_domains == [
        bulk.NewDomain("example.org", ()),
        bulk.NewDomain("xn--bcher-kva.example", ()),
    ]
    assert plan.new_users == [
        ("ann@example.org", "example.org", HASH),
        ("bob@xn--bcher-kva.example", "xn--bcher-kva.example", HASH2),
    ]
    assert plan.changed_users == []
    assert plan.new_aliases == [
        ("info@example.org", "example.org", "ann@example.org,joe@example.nl")
    ]
    abuse_id = before.aliases["abuse@example.nl"][0][0]
    assert plan.extended_aliases == [
        (abuse_id, "abuse@example.nl", "admin@example.nl,joe@example.nl", ("joe@example.nl",))
    ]
    assert plan.hash_jobs == {} and plan.warnings == []
    assert plan.writes == 6
    assert bulk.summary(plan, dry_run=True) == [
        "domains: 2 to create, 0 to update, 1 unchanged",
        "users: 2 to create, 0 to update, 1 unchanged",
        "aliases: 1 to create, 1 to update, 1 unchanged",
    ]


def test_same_document_again_is_all_unchanged(env: Env) -> None:
    tx = Tx(env.db, env.settings)
    plan = env.plan(CLEAN)
    with env.db.transaction():
        bulk.apply_import(tx, plan)
    assert [(k.domain, k.selector) for k in tx.new_keys] == [
        ("example.org", "mail"),
        ("xn--bcher-kva.example", "mail"),
    ]
    current = env.current()
    assert sorted(current.domains) == ["example.nl", "example.org", "xn--bcher-kva.example"]
    assert current.destinations("abuse@example.nl") == ["admin@example.nl", "joe@example.nl"]

    again = env.plan(CLEAN)
    tallies = {kind: (t.created, t.updated, t.unchanged) for kind, t in again.tallies.items()}
    assert tallies == {"domains": (0, 0, 3), "users": (0, 0, 3), "aliases": (0, 0, 3)}
    assert again.writes == 0
    assert again.domain_ids == current.domains
    # The same rows in another format plan the same.
    records, _ = bulkfile.parse(CLEAN, "json")
    for fmt in ("csv", "jsonl"):
        other = env.plan(bulkfile.render(records, fmt), fmt)
        assert other.tallies == again.tallies and other.writes == 0


def test_a_changed_hash_is_an_update(env: Env) -> None:
    plan = env.plan(document(users=[{"email": "joe@example.nl", "password": HASH2}]))
    joe_id = env.current().users["joe@example.nl"][0]
    assert plan.changed_users == [(joe_id, "joe@example.nl", HASH, HASH2)]
    assert (plan.tallies["users"].updated, plan.writes) == (1, 1)


def test_plaintext_passwords_are_planned_as_hash_jobs(env: Env) -> None:
    text = document(
        users=[
            {"email": "joe@example.nl", "plaintext": "a good long password"},
            {"email": "carl@example.nl", "plaintext": "another long password"},
        ]
    )
    first = env.plan(text)
    assert first.hash_jobs == {
        "joe@example.nl": HashJob("a good long password", HASH),
        "carl@example.nl": HashJob("another long password", None),
    }
    # Not hashed yet: both count as changes.
    assert first.tallies["users"].created == 1 and first.tallies["users"].updated == 1

    s = env.settings.passwords
    results = resolve(
        list(first.hash_jobs.values()), HashParams(s.scheme, s.bcrypt_cost, s.default_scheme)
    )
    hashes = dict(zip(first.hash_jobs, results, strict=True))
    assert hashes["joe@example.nl"] == HASH  # the stored hash still verifies: kept
    second = env.plan(text, hashes=hashes)
    assert second.hash_jobs == {}
    assert second.changed_users == []
    assert second.new_users == [("carl@example.nl", "example.nl", hashes["carl@example.nl"])]
    assert hashes["carl@example.nl"].startswith("{SHA512-CRYPT}$6$")


def test_catch_all_with_new_mailboxes_is_warned(env: Env) -> None:
    plan = env.plan(
        document(
            users=[{"email": "dan@example.nl", "password": HASH}],
            aliases=[{"source": "@example.nl", "destinations": ["joe@example.nl"]}],
        )
    )
    assert plan.new_aliases == [("@example.nl", "example.nl", "joe@example.nl")]
    assert len(plan.warnings) == 1
    assert plan.warnings[0].startswith("catch-all @example.nl: ")
    assert "the domain's 1 existing mailbox(es), of its 1 new one(s)" in plan.warnings[0]
    assert plan.warnings[0].endswith("(see the docs: how-to/catch-all)")


# ------------------------------------------------------------------ one rule, one message

# (id, the single-row command, the same change as an import file's only row)
SAME_RULE: list[tuple[str, Callable[[Tx], object], str, dict[str, Any]]] = [
    (
        "not-hosted",
        lambda tx: add_user(tx, "bob@unhosted.example", HASH),
        "users",
        {"email": "bob@unhosted.example", "password": HASH},
    ),
    (
        "mailbox-where-an-alias-is",
        lambda tx: add_user(tx, "sales@example.nl", HASH),
        "users",
        {"email": "sales@example.nl", "password": HASH},
    ),
    (
        "alias-takes-a-mailbox",
        lambda tx: add_alias(tx, "joe@example.nl", ["ann@example.org"]),
        "aliases",
        {"source": "joe@example.nl", "destinations": ["ann@example.org"]},
    ),
    (
        "alias-to-itself",
        lambda tx: add_alias(tx, "help@example.nl", ["help@example.nl"]),
        "aliases",
        {"source": "help@example.nl", "destinations": ["help@example.nl"]},
    ),
    (
        "alias-domain-gets-two",
        lambda tx: add_alias(tx, "@example.nl", ["@example.org", "joe@example.nl"]),
        "aliases",
        {"source": "@example.nl", "destinations": ["@example.org", "joe@example.nl"]},
    ),
]


@pytest.mark.parametrize(
    ("command", "section", "row"), [pytest.param(*case[1:], id=case[0]) for case in SAME_RULE]
)
def test_import_and_the_single_row_commands_give_one_message(
    env: Env, command: Callable[[Tx], object], section: str, row: dict[str, Any]
) -> None:
    """The file's message is the command's, less the command's --force and plus the
    file's own remedy (a domain row)."""
    [(_where, message)] = env.rejected(document(**{section: [row]}))
    with pytest.raises(MailctlError) as info, env.db.transaction():
        command(Tx(env.db, env.settings))
    said = str(info.value).removesuffix(", or use --force").removesuffix(" or use --force")
    if "not hosted" in said:
        said = said.removesuffix(")") + ", or give it a domain row in the file)"
    assert message == said


def test_import_and_alias_add_warn_alike_of_a_catch_all(env: Env) -> None:
    plan = env.plan(document(aliases=[{"source": "@example.nl", "destinations": [ADMIN]}]))
    tx = Tx(env.db, env.settings)
    with env.db.transaction():
        add_alias(tx, "@example.nl", [ADMIN])
    assert plan.warnings == tx.warnings
    assert tx.warnings[0].endswith(
        "mailctl setup render --catchall-fix writes the map that fixes it"
        " (see the docs: how-to/catch-all)"
    )


# ------------------------------------------------------------------ DKIM keys in the file


def test_keys_of_a_new_domain_are_checked_and_planned(env: Env, pem: str) -> None:
    text = document(
        domains=[
            fill(
                {
                    "name": "new.example",
                    "dkim": [
                        key(),
                        key(selector="old", state="archived", private_key=None),
                        key(selector="next", state="pending", private_key=None),
                    ],
                },
                pem,
            )
        ]
    )
    plan = env.plan(text)
    [new] = plan.new_domains
    assert new.name == "new.example"
    assert [(k.record.selector, k.pem, k.write) for k in new.keys] == [
        ("mail", pem.encode("ascii"), True),
        ("old", None, False),
    ]
    assert plan.warnings == [
        "new.example: the pending key next has no private key in the file and was not imported"
    ]
    # The very same key already on disk: reused, not written again.
    dkim.write_key_pair(
        Path(env.settings.dkim.key_dir), "new.example", "mail", pem.encode(), owner=None
    )
    [again] = env.plan(text).new_domains
    assert [(k.record.selector, k.write) for k in again.keys] == [("mail", False), ("old", False)]


def test_existing_domain_keeps_its_own_key(env: Env, pem: str) -> None:
    text = document(domains=[fill({"name": "example.nl", "dkim": [key()]}, pem)])
    plan = env.plan(text)
    assert plan.new_domains == [] and plan.tallies["domains"].unchanged == 1
    assert plan.warnings == [
        "1 domain(s) exist already and keep their own DKIM keys;"
        " the file's other keys for them were not imported"
    ]
    # With that key on disk there is nothing the file would have changed.
    dkim.write_key_pair(
        Path(env.settings.dkim.key_dir), "example.nl", "mail", pem.encode(), owner=None
    )
    assert env.plan(text).warnings == []


# ------------------------------------------------------------------ account policy


POLICY_DOC = document(
    domains=[
        {"name": "example.nl", "max_users": 5, "default_quota": "1G"},
        {"name": "new.example", "suspended": True, "suspend_reason": "not yet"},
    ],
    users=[
        {"email": "joe@example.nl", "password": HASH, "imap": False,
         "send_as": ["sales@example.nl", "@new.example", "SALES@example.nl"]},
        {"email": "ann@new.example", "password": HASH, "quota": "500M", "suspended": False},
        {"email": "bob@example.nl", "password": HASH},
    ],
)


def test_policy_is_planned_applied_and_then_unchanged(env: Env) -> None:
    plan = env.plan(POLICY_DOC)
    tallies = {kind: (t.created, t.updated, t.unchanged) for kind, t in plan.tallies.items()}
    assert tallies == {"domains": (1, 1, 0), "users": (2, 1, 0), "aliases": (0, 0, 0)}
    assert [(c.key, c.stored, c.details()) for c in plan.domain_policies] == [
        ("example.nl", False, "default-quota 1G, max-users 5"),
        ("new.example", False, "suspended"),
    ]
    # ann's `suspended: false` is the default: only her quota makes a row.
    assert [(c.key, c.stored, c.details()) for c in plan.user_policies] == [
        ("joe@example.nl", False, "imap off"),
        ("ann@new.example", False, "quota 500M"),
    ]
    assert plan.new_grants == [
        ("joe@example.nl", "sales@example.nl"),
        ("joe@example.nl", "@new.example"),
    ]
    assert plan.logins_to_kick == ["joe@example.nl"]  # IMAP off ends his open sessions
    assert plan.writes == 1 + 2 + 2 + 2 + 2  # new domain, new users, policy rows, grants

    tx = Tx(env.db, env.settings)
    with env.db.transaction():
        bulk.apply_import(tx, plan)
    current = env.current()
    joe_id, ann_id = current.users["joe@example.nl"][0], current.users["ann@new.example"][0]
    assert current.user_policies == {
        joe_id: UserPolicy(joe_id, imap=0),
        ann_id: UserPolicy(ann_id, quota_bytes=500 * 2**20),
    }
    nl, new = current.domains["example.nl"], current.domains["new.example"]
    assert current.domain_policies == {
        nl: DomainPolicy(nl, default_quota_bytes=2**30, max_users=5),
        new: DomainPolicy(new, suspended=1, suspend_reason="not yet"),
    }
    assert policy.grants(env.db) == [
        ("joe@example.nl", "@new.example"),
        ("joe@example.nl", "sales@example.nl"),
    ]
    assert "insert mailctl_sender_grants joe@example.nl" in " ".join(
        f"{c.action} {c.table} {c.key}" for c in tx.changes
    )
    assert tx.logins_to_kick == ["joe@example.nl"]

    again = env.plan(POLICY_DOC)
    tallies = {kind: (t.created, t.updated, t.unchanged) for kind, t in again.tallies.items()}
    assert tallies == {"domains": (0, 0, 2), "users": (0, 0, 3), "aliases": (0, 0, 0)}
    assert again.writes == 0 and again.logins_to_kick == []


def test_a_field_left_out_keeps_the_stored_value(env: Env) -> None:
    joe_id = env.current().users["joe@example.nl"][0]
    policy.save_user_policy(env.db, UserPolicy(joe_id, suspended=1, suspend_reason="why",
                                               pop3=0, quota_bytes=2**30))
    policy.add_grant(env.db, joe_id, "sales@example.nl")
    plan = env.plan(document(users=[{"email": "joe@example.nl", "password": HASH,
                                     "quota": "2G", "send_as": ["sales@example.nl"]}]))
    [change] = plan.user_policies
    assert change.stored and change.details() == "quota 2G"
    assert change.row == UserPolicy(joe_id, suspended=1, suspend_reason="why", pop3=0,
                                    quota_bytes=2 * 2**30)
    assert plan.new_grants == [] and plan.logins_to_kick == []
    # `suspended: false` resumes, and the reason goes with it.
    plan = env.plan(document(users=[{"email": "joe@example.nl", "password": HASH,
                                     "suspended": False}]))
    [change] = plan.user_policies
    assert (change.row.suspended, change.row.suspend_reason) == (0, None)
    assert change.details() == "resumed"


def test_limits_refuse_the_plan_in_one_line(env: Env) -> None:
    nl = env.current().domains["example.nl"]
    policy.save_domain_policy(env.db, DomainPolicy(nl, max_users=2, max_quota_bytes=2**30,
                                                   default_quota_bytes=2**20))
    two = [{"email": f"u{i}@example.nl", "password": HASH} for i in range(2)]
    with pytest.raises(LimitReached) as info:
        env.plan(document(users=two))
    assert str(info.value) == (
        "example.nl has 1 of its max-users 2: the import would add 2; nothing was imported"
        " (raise it: mailctl domain set example.nl --max-users N, or max_users in the file's"
        " row for example.nl)"
    )
    assert info.value.exit_code == 1
    # The file's own limit counts: raised, the same rows fit; lowered, one does not.
    raised = env.plan(document(domains=[{"name": "example.nl", "max_users": 3}], users=two))
    assert raised.tallies["users"].created == 2
    with pytest.raises(LimitReached, match="has 1 of its max-users 1: the import would add 1"):
        env.plan(document(domains=[{"name": "example.nl", "max_users": "1"}], users=two[:1]))
    with pytest.raises(
        LimitReached, match="u0@example.nl: quota 2G exceeds the domain's max-quota 1G"
    ):
        env.plan(document(users=[{**two[0], "quota": "2G"}]))
    # A bad row is reported as such first, with its place.
    with pytest.raises(ImportRejected):
        env.plan(document(users=[*two, {"email": "u9@example.nl", "password": HASH[:-1]}]))


# ------------------------------------------------------------------ bad rows

BASE: dict[str, list[dict[str, Any]]] = {
    "domains": [{"name": "example.nl"}, {"name": "example.org"}],
    "users": [{"email": "ann@example.org", "password": HASH}],
    "aliases": [{"source": "info@example.org", "destinations": ["ann@example.org"]}],
}

# (id, section, the bad row appended to it, its position, the message)
BAD_ROWS: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "bad-user-address",
        "users",
        {"email": "bob@@example.org", "password": HASH},
        "users[1]",
        "invalid address: 'bob@@example.org' (expected user@domain)",
    ),
    (
        "bad-alias-destination",
        "aliases",
        {"source": "help@example.org", "destinations": ["ann@example.org", "no address"]},
        "aliases[1]",
        "invalid address: 'no address' (expected user@domain or @domain)",
    ),
    (
        "bad-domain-name",
        "domains",
        {"name": "bad_domain.example"},
        "domains[2]",
        "invalid domain (labels use letters, digits and inner hyphens only): 'bad_domain.example'",
    ),
    (
        "user-domain-not-hosted",
        "users",
        {"email": "bob@unhosted.example", "password": HASH},
        "users[1]",
        "bob@unhosted.example: domain unhosted.example is not hosted here"
        " (add it first: mailctl domain add unhosted.example, or give it a domain row in the"
        " file)",
    ),
    (
        "alias-domain-not-hosted",
        "aliases",
        {"source": "info@unhosted.example", "destinations": ["ann@example.org"]},
        "aliases[1]",
        "info@unhosted.example: domain unhosted.example is not hosted here"
        " (add it first: mailctl domain add unhosted.example, or give it a domain row in the"
        " file)",
    ),
    (
        "duplicate-user",
        "users",
        {"email": "ANN@Example.ORG", "password": HASH2},
        "users[1]",
        "duplicate: user ann@example.org is also at users[0]",
    ),
    (
        "duplicate-domain",
        "domains",
        {"name": "EXAMPLE.org."},
        "domains[2]",
        "duplicate: domain example.org is also at domains[1]",
    ),
    (
        "duplicate-alias",
        "aliases",
        {"source": "Info@example.org", "destinations": ["joe@example.nl"]},
        "aliases[1]",
        "duplicate: alias info@example.org is also at aliases[0]",
    ),
    (
        "alias-hides-existing-mailbox",
        "aliases",
        {"source": "joe@example.nl", "destinations": ["ann@example.org"]},
        "aliases[1]",
        "joe@example.nl is a mailbox; an alias for it must keep joe@example.nl among its"
        " destinations (forward with a local copy)",
    ),
    (
        "alias-hides-mailbox-of-the-file",
        "aliases",
        {"source": "ann@example.org", "destinations": ["joe@example.nl"]},
        "aliases[1]",
        "ann@example.org is a mailbox; an alias for it must keep ann@example.org among its"
        " destinations (forward with a local copy)",
    ),
    (
        "alias-to-itself",
        "aliases",
        {"source": "help@example.org", "destinations": ["help@example.org"]},
        "aliases[1]",
        "alias help@example.org would point to itself and it is not a mailbox",
    ),
    (
        "alias-domain-gets-two-destinations",
        "aliases",
        {"source": "@example.org", "destinations": ["@example.nl", "joe@example.nl"]},
        "aliases[1]",
        "alias domain @example.org -> @example.nl: an alias domain has exactly one"
        " @domain destination",
    ),
    (
        "user-hidden-by-existing-alias",
        "users",
        {"email": "sales@example.nl", "password": HASH},
        "users[1]",
        "sales@example.nl is an alias (-> joe@example.nl); remove it first"
        " (mailctl alias del sales@example.nl)",
    ),
    (
        "malformed-hash",
        "users",
        {"email": "bob@example.org", "password": HASH[:-3]},
        "users[1]",
        "bob@example.org: malformed SHA512-CRYPT hash: expected {SHA512-CRYPT}$6$<salt>$<86"
        " characters>",
    ),
    (
        "hash-with-blanks",
        "users",
        {"email": "bob@example.org", "password": "{SHA512-CRYPT}$6$salt$ " + "A" * 85},
        "users[1]",
        "bob@example.org: malformed password hash: it contains blanks or non-ASCII characters",
    ),
    (
        "dkim-not-a-key",
        "domains",
        {"name": "new.example", "dkim": [key(private_key="-----BEGIN PRIVATE KEY-----\nAAAA\n")]},
        "domains[2].dkim[0]",
        "private key of mail: private key is not a PEM private key",
    ),
    (
        "dkim-bits-do-not-match",
        "domains",
        {"name": "new.example", "dkim": [key(bits=2048)]},
        "domains[2].dkim[0]",
        "the private key is rsa 1024 bits; the row says rsa 2048",
    ),
    (
        "dkim-wrong-algorithm",
        "domains",
        {"name": "new.example", "dkim": [key(algorithm="ed25519", bits=256)]},
        "domains[2].dkim[0]",
        "the private key is rsa 1024 bits; the row says ed25519 256",
    ),
    (
        "dkim-unknown-state",
        "domains",
        {"name": "new.example", "dkim": [key(state="enabled")]},
        "domains[2].dkim[0]",
        "state 'enabled'; accepted: pending, active, retired, archived",
    ),
    (
        "dkim-bad-timestamp",
        "domains",
        {"name": "new.example", "dkim": [key(created_at="yesterday")]},
        "domains[2].dkim[0]",
        "'yesterday' is not a date and time like 2026-01-31T12:00:00",
    ),
    (
        "dkim-selector-twice",
        "domains",
        {"name": "new.example", "dkim": [key(), key(state="retired")]},
        "domains[2].dkim[1]",
        "selector 'mail' appears twice for new.example",
    ),
    (
        "dkim-selector-not-a-path",
        "domains",
        {"name": "new.example", "dkim": [key(selector="../mail")]},
        "domains[2].dkim[0]",
        "invalid selector for a key path: '../mail'",
    ),
    (
        "quota-not-a-size",
        "users",
        {"email": "bob@example.org", "password": HASH, "quota": "lots"},
        "users[1]",
        "bob@example.org: quota: invalid size 'lots': a whole number with K, M, G or T"
        " (1024-based), e.g. 500M",
    ),
    (
        "quota-of-nothing",
        "users",
        {"email": "bob@example.org", "password": HASH, "quota": "0"},
        "users[1]",
        "bob@example.org: quota: a quota of 0 bytes: use 'unlimited' for no quota",
    ),
    (
        "max-users-not-a-count",
        "domains",
        {"name": "new.example", "max_users": "lots"},
        "domains[2]",
        "new.example: max_users: invalid count 'lots': a whole number, or 'none'",
    ),
    (
        "max-aliases-a-digit-int-refuses",
        "domains",
        {"name": "new.example", "max_aliases": "\u00b2"},
        "domains[2]",
        "new.example: max_aliases: invalid count '\u00b2': a whole number, or 'none'",
    ),
    (
        "max-quota-not-whole",
        "domains",
        {"name": "new.example", "max_quota": "1.5G"},
        "domains[2]",
        "new.example: max_quota: invalid size '1.5G': a whole number with K, M, G or T"
        " (1024-based), e.g. 500M",
    ),
    (
        "default-quota-over-max-quota",
        "domains",
        {"name": "new.example", "default_quota": "2G", "max_quota": "1536M"},
        "domains[2]",
        "new.example: default_quota 2G exceeds max_quota 1536M",
    ),
    (
        "reason-without-suspension",
        "users",
        {"email": "bob@example.org", "password": HASH, "suspend_reason": "why"},
        "users[1]",
        "bob@example.org: suspend_reason: only with suspended: true",
    ),
    (
        "reason-not-printable",
        "domains",
        {"name": "new.example", "suspended": True, "suspend_reason": "two\nlines"},
        "domains[2]",
        "new.example: suspend_reason: at most 255 printable characters",
    ),
    (
        "reason-too-long",
        "users",
        {"email": "bob@example.org", "password": HASH, "suspended": True,
         "suspend_reason": "x" * 256},
        "users[1]",
        "bob@example.org: suspend_reason: at most 255 printable characters",
    ),
    (
        "send-as-not-an-address",
        "users",
        {"email": "bob@example.org", "password": HASH, "send_as": ["not an address"]},
        "users[1]",
        "bob@example.org: send_as: invalid address: 'not an address' (expected user@domain or"
        " @domain)",
    ),
    (
        "send-as-itself",
        "users",
        {"email": "bob@example.org", "password": HASH, "send_as": ["BOB@example.org"]},
        "users[1]",
        "bob@example.org: send_as: bob@example.org may always send as itself",
    ),
    (
        "send-as-unhosted",
        "users",
        {"email": "bob@example.org", "password": HASH, "send_as": ["@unhosted.example"]},
        "users[1]",
        "bob@example.org: send_as @unhosted.example: domain unhosted.example is not hosted here"
        " (add it first: mailctl domain add unhosted.example, or give it a domain row in the"
        " file)",
    ),
    (
        "dkim-no-active-key",
        "domains",
        {"name": "new.example", "dkim": [key(state="pending", activated_at=None)]},
        "domains[2]",
        "new.example: no active DKIM key with its private key",
    ),
]


def test_the_base_of_the_bad_documents_is_clean(env: Env) -> None:
    plan = env.plan(document(**BASE))
    assert plan.writes == 3 and plan.tallies["domains"].unchanged == 1


@pytest.mark.parametrize(
    ("section", "row", "where", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_ROWS],
)
def test_each_bad_row_is_reported_and_nothing_planned(
    env: Env, pem: str, section: str, row: dict[str, Any], where: str, message: str
) -> None:
    sections = copy.deepcopy(BASE)
    sections[section].append(fill(row, pem))
    assert env.rejected(document(**sections)) == [(where, message)]


def test_every_bad_row_is_listed_in_file_order(env: Env, pem: str) -> None:
    text = document(
        domains=fill(
            [{"name": "example.org"}, {"name": "new.example", "dkim": [key(bits=2048)]}], pem
        ),
        users=[
            {"email": "bob@example.org", "password": HASH[:-1]},  # check_rows
            {"email": "eve@new.example", "password": HASH},  # its domain was refused
            {"email": 5, "password": HASH},  # the reader
            {"email": "ann@example.org", "password": HASH},
        ],
        aliases=[
            {"source": "ann@example.org", "destinations": ["joe@example.nl"]},
            {"source": "joe@example.nl", "destinations": ["joe@example.nl", "ann@example.org"]},
        ],
    )
    assert [where for where, _message in env.rejected(text)] == [
        "domains[1].dkim[0]",
        "users[0]",
        "users[1]",
        "users[2]",
        "aliases[0]",
    ]


CSV = (
    "kind,domain,email,password,source,destinations,selector,algorithm,bits,state,created_at,"
    "private_key\n"
    "domain,example.org,,,,,,,,,,\n"
    "domain,new.example,,,,,,,,,,\n"
    f"user,,ann@example.org,{HASH},,,,,,,,\n"
    f"dkim,new.example,,,,,mail,rsa,1024,active,{STAMP},not a key\n"
    f"user,,bob@unhosted.example,{HASH},,,,,,,,\n"
    'alias,,,,joe@example.nl,"ann@example.org,bob@example.org",,,,,,\n'
)
JSONL = "".join(
    json.dumps(row) + "\n"
    for row in (
        {"kind": "domain", "name": "example.org"},
        {"kind": "user", "email": "ann@example.org", "password": HASH},
        {"kind": "user", "email": "bob@unhosted.example", "password": HASH},
        {"kind": "alias", "source": "joe@example.nl", "destinations": ["ann@example.org"]},
        {"kind": "domain", "name": "new.example", "dkim": [key(state="bogus")]},
    )
)


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        pytest.param(
            "csv",
            CSV,
            [
                ("line 5", "private key of mail: private key is not a PEM private key"),
                ("line 6", "domain unhosted.example is not hosted here"),
                ("line 7", "joe@example.nl is a mailbox"),
            ],
            id="csv",
        ),
        pytest.param(
            "jsonl",
            JSONL,
            [
                ("line 3", "domain unhosted.example is not hosted here"),
                ("line 4", "joe@example.nl is a mailbox"),
                ("line 5.dkim[0]", "state 'bogus'"),
            ],
            id="jsonl",
        ),
    ],
)
def test_planning_errors_carry_line_numbers(
    env: Env, fmt: str, text: str, expected: list[tuple[str, str]]
) -> None:
    found = env.rejected(text, fmt)
    assert [where for where, _message in found] == [where for where, _part in expected]
    for (_where, message), (_w, part) in zip(found, expected, strict=True):
        assert part in message
