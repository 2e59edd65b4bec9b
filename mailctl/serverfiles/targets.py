"""The one registry of managed files, and the steps a change to each one needs.

Each target says what it is (merge style, mode, owner), whether Postfix must
index it (`postmap -F`), which configuration check it affects and whose reload
it triggers. The server files below are managed blocks in shared files; the
web files (serverfiles.web) are whole files, one set per domain, and need no
step at all. `steps()` derives from that alone the commands that follow a
change, so `--dry-run`'s "would run" list and the real apply are one list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailctl.core.config import Settings


@dataclass(frozen=True)
class Target:
    """A file mailctl manages, and what must follow a change to it."""

    key: str  # short name used in messages
    path: Path
    # "table" or "dovecot": a managed block merged into the file (its style);
    # "whole": the file is all mailctl's, and goes when it is no longer wanted
    kind: str
    # whose reload it triggers: opendkim, opendkim-ed25519, postfix, dovecot; "" none
    service: str
    mode: int  # for a new file; an existing file keeps its mode and owner
    owner: tuple[int, int] | None = None
    indexed: bool = False  # postmap -F builds the .db Postfix reads
    certificates: bool = False  # names certificate files whose contents the server loads
    check: str | None = None  # the configuration check it affects: "Postfix" or "Dovecot"
    tree: Path | None = None  # a whole file's tree: removing it removes emptied dirs up to here


@dataclass(frozen=True)
class Step:
    """One command after writing: index, check (before the commit) or reload (after)."""

    argv: tuple[str, ...]
    kind: str  # "postmap", "check" or "reload"
    what: str  # "Postfix"/"Dovecot" for checks, the service for reloads
    indexed: Path | None = None  # the map a postmap step indexes

    @property
    def before_commit(self) -> bool:
        return self.kind != "reload"


def targets(settings: Settings) -> list[Target]:
    from mailctl.system.owners import resolve_owner

    dkim = settings.dkim
    owner, _ = resolve_owner(dkim.owner, dkim.group)
    found = [
        Target("KeyTable", Path(dkim.key_table), "table", "opendkim", 0o640, owner),
        Target("SigningTable", Path(dkim.signing_table), "table", "opendkim", 0o640, owner),
    ]
    if dkim.ed25519:
        # OpenDKIM signs with one algorithm per instance: Ed25519 keys get their
        # own tables, read by a second signing instance.
        ed = "opendkim-ed25519"
        found += [
            Target("Ed25519 KeyTable", Path(dkim.ed25519_key_table), "table", ed, 0o640, owner),
            Target(
                "Ed25519 SigningTable", Path(dkim.ed25519_signing_table), "table", ed, 0o640, owner
            ),
        ]
    # Each host writes what its own daemons read (host.roles): Postfix's files where
    # Postfix takes mail (the guide's main.cf and master.cf name both on every Postfix
    # host), Dovecot's where Dovecot serves mailboxes. OpenDKIM's tables go everywhere,
    # with the key files: any host may run the commands that make keys.
    roles = settings.host.roles
    if "mx" in roles or "submission" in roles:
        found += postfix_targets(settings)
    if "imap" in roles:
        found.append(
            Target(
                "Dovecot SNI",
                Path(settings.dovecot.sni_conf),
                "dovecot",
                "dovecot",
                0o644,
                check="Dovecot",
                certificates=True,
            )
        )
    return found


def postfix_targets(settings: Settings) -> list[Target]:
    """Postfix's SNI map (submission and smtps) and HELO checks (every smtpd)."""
    postfix = settings.postfix
    return [
        # The source map only names files, but postmap -F inlines the private keys
        # into the .db next to it: keep both private to root.
        Target(
            "SNI map",
            Path(postfix.sni_map),
            "table",
            "postfix",
            0o600,
            indexed=True,
            check="Postfix",
            certificates=True,
        ),
        Target(
            "HELO checks", Path(postfix.helo_checks), "table", "postfix", 0o644, check="Postfix"
        ),
    ]


def index_argv(settings: Settings, target: Target) -> tuple[str, ...]:
    """`postmap -F TYPE:PATH` for an indexed target (empty when postmap is off)."""
    if not settings.commands.postmap:
        return ()
    return (*settings.commands.postmap, "-F", f"{settings.postfix.map_type}:{target.path}")


def steps(settings: Settings, changed: Iterable[Target]) -> list[Step]:
    """Every command that follows writing `changed`, in order: postmap, checks, reloads."""
    changed = list(changed)
    commands = settings.commands
    checks = {"Postfix": commands.check_postfix, "Dovecot": commands.check_dovecot}
    reloads = {
        "opendkim": commands.reload_opendkim,
        "opendkim-ed25519": commands.reload_opendkim_ed25519,
        "postfix": commands.reload_postfix,
        "dovecot": commands.reload_dovecot,
    }
    out = [
        Step(argv, "postmap", "postmap", t.path)
        for t in changed
        if t.indexed and (argv := index_argv(settings, t))
    ]
    wanted_checks = {t.check for t in changed if t.check}
    out += [
        Step(tuple(argv), "check", name)
        for name, argv in checks.items()
        if name in wanted_checks and argv
    ]
    services = {t.service for t in changed}
    out += [
        Step(tuple(argv), "reload", service)
        for service, argv in reloads.items()
        if service in services and argv
    ]
    return out
