"""The plan of an import: the checked rows compared with the database, with the
rules of `domain add`, `user add` and `alias add` (model.rules), every problem
collected with its row's location; then the domain limits (transfer.policy)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from mailctl.core.config import Settings
from mailctl.errors import InvalidInput
from mailctl.model.rules import (
    alias_problem,
    catchall_warning,
    is_catchall,
    join_destinations,
    mailbox_problem,
    merge_destinations,
    not_hosted_message,
)
from mailctl.passwords.parallel import HashJob
from mailctl.services.transfer.current import Current
from mailctl.services.transfer.keys import KeyProblem, NewDomain, other_keys, plan_keys
from mailctl.services.transfer.policy import PolicyChange, check_limits, plan_domain, plan_user
from mailctl.services.transfer.rows import Checked, RowErrors
from mailctl.store.policy import DomainPolicy, UserPolicy
from mailctl.transfer.records import ImportRejected

KINDS = ("domains", "users", "aliases")
PENDING_HASH = "(not hashed yet)"


@dataclass
class Tally:
    """How many rows an import creates, changes and leaves alone."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class Plan:
    """What an import will write, computed before anything is written."""

    domain_ids: dict[str, int]
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})
    new_domains: list[NewDomain] = field(default_factory=list)
    new_users: list[tuple[str, str, str]] = field(default_factory=list)  # email, domain, hash
    # id, email, old hash, new hash
    changed_users: list[tuple[int, str, str, str]] = field(default_factory=list)
    new_aliases: list[tuple[str, str, str]] = field(default_factory=list)  # source, domain, dest
    # row id, source, destination after the merge, destinations added
    extended_aliases: list[tuple[int, str, str, tuple[str, ...]]] = field(default_factory=list)
    # Account policy rows (new or changed), send-as grants to add (login, address),
    # and the sessions a suspension or a service turned off ends.
    domain_policies: list[PolicyChange[DomainPolicy]] = field(default_factory=list)
    user_policies: list[PolicyChange[UserPolicy]] = field(default_factory=list)
    new_grants: list[tuple[str, str]] = field(default_factory=list)
    logins_to_kick: list[str] = field(default_factory=list)
    # Users given a plaintext password whose hash is not known yet (email -> job).
    hash_jobs: dict[str, HashJob] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return (
            len(self.new_domains)
            + len(self.new_users)
            + len(self.changed_users)
            + len(self.new_aliases)
            + len(self.extended_aliases)
            + len(self.domain_policies)
            + len(self.user_policies)
            + len(self.new_grants)
        )


def plan_import(
    checked: Checked,
    current: Current,
    settings: Settings,
    hashes: Mapping[str, str] | None = None,
) -> Plan:
    """Compare the checked rows with the database; ImportRejected lists every bad row,
    LimitReached names the domain whose limit the file would pass.

    `hashes` holds the hash to store for each plaintext password (by address);
    a plaintext without one becomes a `hash_jobs` entry and counts as a change.
    """
    plan = Plan(domain_ids=dict(current.domains))
    errors = RowErrors(checked.errors)
    new_names = _plan_domains(checked, current, settings, plan, errors)
    hosted = set(current.domains) | new_names
    mailboxes = _plan_users(checked, current, hosted, hashes or {}, plan, errors)
    _plan_aliases(checked, current, hosted, mailboxes, plan, errors)
    _warn_catchalls(current, plan)
    if errors:
        raise ImportRejected(errors)
    check_limits(plan, current)
    return plan


def _plan_domains(
    checked: Checked, current: Current, settings: Settings, plan: Plan, errors: RowErrors
) -> set[str]:
    kept_keys = 0
    tally = plan.tallies["domains"]
    for name, record in checked.domains:
        try:
            changed = plan_domain(plan, current, name, checked.domain_policies.get(name, {}))
        except InvalidInput as exc:
            errors.add(record.where, str(exc))
            continue
        if name in current.domains:
            if changed:
                tally.updated += 1
            else:
                tally.unchanged += 1
            kept_keys += other_keys(settings, name, record)
            continue
        try:
            keys = plan_keys(settings, name, record, plan.warnings)
        except KeyProblem as exc:
            errors.add(exc.where, str(exc))
            continue
        except InvalidInput as exc:
            errors.add(record.where, str(exc))
            continue
        plan.new_domains.append(NewDomain(name, keys))
        tally.created += 1
    if kept_keys:
        plan.warnings.append(
            f"{kept_keys} domain(s) exist already and keep their own DKIM keys;"
            " the file's other keys for them were not imported"
        )
    return {d.name for d in plan.new_domains}


def _plan_users(
    checked: Checked,
    current: Current,
    hosted: set[str],
    hashes: Mapping[str, str],
    plan: Plan,
    errors: RowErrors,
) -> set[str]:
    """Returns every mailbox there will be."""
    mailboxes = set(current.users)
    file_sources = {str(a.source) for a in checked.aliases}
    tally = plan.tallies["users"]
    for user in checked.users:
        email = user.email
        if user.domain not in hosted:
            errors.add(user.where, not_hosted_message(email, user.domain, in_file=True))
            continue
        unhosted = next((t for t in user.send_as if t.domain not in hosted), None)
        if unhosted is not None:
            message = not_hosted_message(str(unhosted), unhosted.domain, in_file=True)
            errors.add(user.where, f"{email}: send_as {message}")
            continue
        existing = current.users.get(email)
        # An alias in the file is checked with the mailboxes in mind (_plan_aliases).
        if existing is None and email not in file_sources:
            problem = mailbox_problem(email, current.destinations(email))
            if problem:
                errors.add(user.where, problem)
                continue
        if user.password is not None:
            stored = user.password
        else:
            assert user.plaintext is not None  # noqa: S101 - check_rows insists
            stored = hashes.get(email, PENDING_HASH)
            if stored == PENDING_HASH:
                plan.hash_jobs[email] = HashJob(user.plaintext, existing[1] if existing else None)
        if existing is None:
            plan.new_users.append((email, user.domain, stored))
            plan_user(plan, current, user, None)
            mailboxes.add(email)
            tally.created += 1
            continue
        policy_changed = plan_user(plan, current, user, existing[0])
        if existing[1] != stored:
            plan.changed_users.append((existing[0], email, existing[1], stored))
        if existing[1] != stored or policy_changed:
            tally.updated += 1
        else:
            tally.unchanged += 1
    return mailboxes


def _plan_aliases(
    checked: Checked,
    current: Current,
    hosted: set[str],
    mailboxes: set[str],
    plan: Plan,
    errors: RowErrors,
) -> None:
    """Merged into existing aliases like `alias add` (without --force)."""
    tally = plan.tallies["aliases"]
    for alias in checked.aliases:
        source = alias.source
        name = str(source)
        if source.domain not in hosted:
            errors.add(alias.where, not_hosted_message(name, source.domain, in_file=True))
            continue
        rows = current.rows(name)
        merge = merge_destinations(rows, alias.wanted)
        problem = alias_problem(name, merge.merged, is_mailbox=name in mailboxes)
        if problem:
            errors.add(alias.where, problem)
            continue
        if not merge.added:
            tally.unchanged += 1
        elif rows:
            first_id = current.aliases[name][0][0]  # like `alias add`: extend the first row
            plan.extended_aliases.append((first_id, name, merge.first_row(rows[0]), merge.added))
            tally.updated += 1
        else:
            plan.new_aliases.append((name, source.domain, join_destinations(merge.added)))
            tally.created += 1


def _warn_catchalls(current: Current, plan: Plan) -> None:
    """`alias add`'s and `user add`'s warning: a catch-all made, or given new mailboxes."""
    new_catchalls = {s for s, _d, _t in plan.new_aliases if is_catchall(s)}
    catchalls = {s for s in current.aliases if is_catchall(s)} | new_catchalls
    new = Counter(domain for _email, domain, _hash in plan.new_users)
    existing = Counter(email.rpartition("@")[2] for email in current.users)
    for source in sorted(catchalls):
        domain = source[1:]
        if source in new_catchalls or new[domain]:
            plan.warnings.append(catchall_warning(domain, existing[domain], new[domain]))


def summary(plan: Plan, *, dry_run: bool) -> list[str]:
    """One line per kind: what was (or would be) created, updated and left alone."""
    created, updated = ("to create", "to update") if dry_run else ("created", "updated")
    return [
        f"{kind}: {t.created} {created}, {t.updated} {updated}, {t.unchanged} unchanged"
        for kind, t in ((kind, plan.tallies[kind]) for kind in KINDS)
    ]
