"""Managed server files: rendered from the database, written atomically,
followed by exactly the steps each changed file needs (serverfiles.targets).

One path for every command: `sync` and every mutating command call `plan()`
(pure rendering + merge into the current files) and `apply()` (write, then the
steps before the commit: postmap and checks — restoring the previous files if
anything fails). Reloads run only after the database commit, through
`Applied.reload()`. `Plan.steps()` is the one list both apply and --dry-run use.
"""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mailctl.core.config import Settings
from mailctl.errors import MailctlError
from mailctl.model.dkimstates import PUBLISHED, SIGNING
from mailctl.serverfiles import state
from mailctl.serverfiles.render import DkimEntry
from mailctl.serverfiles.targets import Step, Target, steps, targets
from mailctl.serverfiles.tls import TlsStatus, check_domain
from mailctl.system import process as system
from mailctl.system.files import atomic_write, ensure_dir, make_dirs, read_regular
from mailctl.system.owners import as_root, resolve_owner

if TYPE_CHECKING:
    from mailctl.dkim.paths import NewKey
    from mailctl.store.connection import Db

Runner = Callable[..., system.Ran]


@dataclass(frozen=True)
class Rendered:
    """One managed file: its current text and the text the database implies."""

    spec: Target
    old: str | None  # None: the file does not exist yet
    new: str | None  # None: remove it (a whole file no longer wanted)
    duplicates: tuple[str, ...]
    stale: str | None = None  # why its unchanged text must be rebuilt and reloaded anyway

    @property
    def changed(self) -> bool:
        return self.old != self.new

    @property
    def outdated(self) -> bool:
        """Text to write, or the server's copy of what it names to refresh."""
        return self.changed or self.stale is not None

    def diff(self) -> str:
        from mailctl.serverfiles.blocks import unified_diff

        return unified_diff(self.old or "", self.new or "", str(self.spec.path))


@dataclass(frozen=True)
class Plan:
    """Every managed file rendered, and the TLS state of each domain."""

    files: tuple[Rendered, ...]
    tls: tuple[TlsStatus, ...]
    notes: tuple[str, ...] = ()
    # The database's keys whose file on this host is missing or differs (dkim.stored).
    keys: tuple[NewKey, ...] = ()

    @property
    def changed(self) -> tuple[Rendered, ...]:
        return tuple(f for f in self.files if f.changed)

    @property
    def outdated(self) -> tuple[Rendered, ...]:
        """Changed, or stale (serverfiles.state): what `sync` has to act on."""
        return tuple(f for f in self.files if f.outdated)

    @property
    def pending_tls(self) -> tuple[TlsStatus, ...]:
        return tuple(t for t in self.tls if not t.ready)

    @property
    def inputs(self) -> str:
        """Digest of the certificates and keys the TLS entries name."""
        return state.inputs_digest((t.domain, t.digest) for t in self.tls if t.ready)

    def steps(self, settings: Settings) -> list[Step]:
        """The commands `apply` and then `reload` run for this plan, in order."""
        return steps(settings, (*(r.spec for r in self.outdated), *signers(settings, self.keys)))

    def followups(self, settings: Settings) -> list[list[str]]:
        return [list(step.argv) for step in self.steps(settings)]


def dovecot_version(settings: Settings) -> tuple[str, str | None]:
    """The SNI syntax to write, and a note when it had to be guessed."""
    from mailctl.serverfiles.render.dovecot import parse_dovecot_version

    if settings.dovecot.version != "auto":
        return settings.dovecot.version, None
    if system.find_program("dovecot") is None:
        return "2.4", "dovecot not installed; writing Dovecot 2.4 syntax (set dovecot.version)"
    try:
        return parse_dovecot_version(system.run(["dovecot", "--version"], timeout=30).stdout), None
    except (MailctlError, ValueError) as exc:
        return "2.4", f"cannot tell the Dovecot version ({exc}); writing 2.4 syntax"


def plan(db: Db, settings: Settings, *, adopt: bool = False) -> Plan:
    """Render every managed block from the database and merge it into the current files;
    render the web files whole (serverfiles.web)."""
    from mailctl.serverfiles.blocks import merge_block
    from mailctl.serverfiles.render.dovecot import render_dovecot_sni
    from mailctl.serverfiles.render.opendkim import render_key_table, render_signing_table
    from mailctl.serverfiles.render.postfix import render_helo_checks, render_sni_map
    from mailctl.serverfiles.web import web_files
    from mailctl.store.guide import domain_names

    domains, invalid = usable_domains(domain_names(db))
    tls = tuple(check_domain(settings, d) for d in domains)
    ready = [t.entry for t in tls if t.entry is not None]
    specs = targets(settings)
    # Only a host that writes Dovecot's block asks which Dovecot it runs (host.roles).
    version, note = (
        dovecot_version(settings) if any(t.key == "Dovecot SNI" for t in specs) else ("2.4", None)
    )
    notes = [note] if note else []
    notes += [
        f"virtual_domains holds {name!r}, which is no domain name: it is left out of the"
        f" managed files (mailctl domain del {name!r} removes it)"
        for name in invalid
    ]

    def keys(algorithm: str, states: tuple[str, ...]) -> list[DkimEntry]:
        entries = table_entries(db, settings, algorithm=algorithm, states=states)
        return [e for e in entries if e.domain not in invalid]

    blocks = {
        "KeyTable": render_key_table(keys("rsa", PUBLISHED)),
        "SigningTable": render_signing_table(keys("rsa", SIGNING)),
        "Ed25519 KeyTable": render_key_table(keys("ed25519", PUBLISHED)),
        "Ed25519 SigningTable": render_signing_table(keys("ed25519", SIGNING)),
        "SNI map": render_sni_map(ready, settings.postfix.sni_names),
        "HELO checks": render_helo_checks(domains, settings.server.hostname),
        "Dovecot SNI": render_dovecot_sni(ready, settings.dovecot.sni_names, version),
    }
    restores = key_files(db, settings, invalid, notes)
    inputs = state.inputs_digest((t.domain, t.digest) for t in tls if t.ready)
    files = []
    for spec in specs:
        old = _read(spec.path)
        try:
            merged = merge_block(old or "", blocks[spec.key], adopt=adopt, kind=spec.kind)
        except MailctlError as exc:
            raise MailctlError(f"{spec.path}: {exc}") from None
        stale = None
        if spec.certificates and old == merged.text:
            stale = state.staleness(spec, inputs, index_type(settings) if spec.indexed else None)
        files.append(Rendered(spec, old, merged.text, merged.duplicates, stale))
    files += [
        Rendered(spec, _read(spec.path), new, ()) for spec, new in web_files(settings, domains)
    ]
    return Plan(tuple(files), tls, tuple(notes), tuple(restores))


def key_files(db: Db, settings: Settings, invalid: set[str], notes: list[str]) -> list[NewKey]:
    """The published keys whose file on this host is not the database's: written by
    `apply` like new keys, so that any host renders its keys from the database alone."""
    from mailctl.dkim.stored import outdated_key_files
    from mailctl.store.dkimkeys import stored_keys

    keys = [k for k in stored_keys(db, PUBLISHED) if k.domain not in invalid]
    return outdated_key_files(keys, settings.dkim.key_dir, notes)


def signers(settings: Settings, keys: Iterable[NewKey]) -> list[Target]:
    """The KeyTable targets whose signer must reload for these restored key files:
    a rewritten key is read again only by a signer that reloads."""
    wanted = {"Ed25519 KeyTable" if k.algorithm == "ed25519" else "KeyTable" for k in keys}
    return [t for t in targets(settings) if t.key in wanted] if wanted else []


def usable_domains(names: Iterable[str]) -> tuple[list[str], set[str]]:
    """The stored domain names, sorted, apart from rows no valid domain name is in
    (a database made by hand can hold anything): one bad row must not stop every
    other domain's files."""
    from mailctl.errors import InvalidName
    from mailctl.model.names import normalize_domain

    usable, invalid = [], set()
    for name in sorted(names):
        try:
            ok = normalize_domain(name) == name
        except InvalidName:
            ok = False
        if ok:
            usable.append(name)
        else:
            invalid.add(name)
    return usable, invalid


def index_type(settings: Settings) -> str | None:
    """The map type postmap builds here; None where no index is built (postmap
    off, or skipped in the sandbox for lack of a configured Postfix)."""
    postmap = settings.commands.postmap
    if not postmap:
        return None
    if settings.sandbox and (
        system.find_program(postmap[0]) is None or system.unconfigured_postfix(postmap)
    ):
        return None
    return settings.postfix.map_type


def table_entries(
    db: Db, settings: Settings, *, algorithm: str, states: tuple[str, ...]
) -> list[DkimEntry]:
    """KeyTable input (pending, active, retired keys) or SigningTable input (active)."""
    from mailctl.dkim.paths import key_file
    from mailctl.store.dkimkeys import selectors

    rows = selectors(db, states, algorithm)
    key_dir = settings.dkim.key_dir
    return [DkimEntry(name, selector, key_file(key_dir, name, selector)) for name, selector in rows]


def _read(path: Path) -> str | None:
    try:
        return read_regular(path).decode("utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None  # absent; writing it will say why if it cannot be created
    except OSError as exc:
        raise MailctlError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise MailctlError(
            f"{path} is not UTF-8 (byte {exc.start}); mailctl leaves it alone: fix or move it"
        ) from None


@dataclass
class Applied:
    """What `apply` wrote, so it can be undone (before commit) or reloaded (after)."""

    settings: Settings
    written: list[Rendered] = field(default_factory=list)
    refreshed: list[Rendered] = field(default_factory=list)  # stale: rebuilt, not rewritten
    created_keys: list[Path] = field(default_factory=list)
    created_files: list[Path] = field(default_factory=list)  # a reused key's new .txt
    created_dirs: list[Path] = field(default_factory=list)
    restored: list[NewKey] = field(default_factory=list)  # keys written from the database
    replaced: list[Saved] = field(default_factory=list)  # their files as they were
    runner: Runner = system.run
    notes: list[str] = field(default_factory=list)
    recorded: list[tuple[Path, str | None]] = field(default_factory=list)  # state files, as before

    def undo(self) -> None:
        """Put back every file as it was; remove keys this run created."""
        for rendered in reversed(self.written):
            _restore(rendered)
        for path, old in reversed(self.recorded):
            _put_back(path, old, 0o600)
        for step in steps(self.settings, (r.spec for r in self.written)):
            if step.kind == "postmap":  # the .db must match the restored map again
                with contextlib.suppress(MailctlError):
                    _run(step, self.settings, self.runner, self.notes)
        for path in self.created_keys:
            for file in (path, path.with_suffix(".txt")):
                with contextlib.suppress(OSError):
                    file.unlink()
        for saved in reversed(self.replaced):
            saved.put_back()
        for file in self.created_files:
            with contextlib.suppress(OSError):
                file.unlink()
        for directory in reversed(self.created_dirs):
            with contextlib.suppress(OSError):
                directory.rmdir()

    def reload(self) -> None:
        changed = (r.spec for r in (*self.written, *self.refreshed))
        for step in steps(self.settings, (*changed, *signers(self.settings, self.restored))):
            if not step.before_commit:
                _run(step, self.settings, self.runner, self.notes)

    def record_state(self, plan_: Plan) -> None:
        """Note what each certificate-reading target is now built from."""
        index = index_type(self.settings)
        for rendered in (*self.written, *self.refreshed):
            spec = rendered.spec
            if not spec.certificates:
                continue
            path = state.state_path(spec)
            self.recorded.append((path, _read(path)))
            text = state.render(spec, plan_.inputs, index if spec.indexed else None)
            atomic_write(path, text, mode=0o600)


@dataclass(frozen=True)
class Saved:
    """A key file as it was before a restore wrote over it, to put back on undo."""

    path: Path
    data: bytes | None  # None: absent (or a symlink, then `link` is its target)
    mode: int = 0o600
    owner: tuple[int, int] | None = None
    link: str | None = None

    @classmethod
    def of(cls, path: Path) -> Saved:
        try:
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                return cls(path, None, link=str(path.readlink()))
            data = read_regular(path)
        except (OSError, MailctlError):
            return cls(path, None)  # absent, or nothing mailctl could have read back
        owner = (st.st_uid, st.st_gid) if as_root() else None
        return cls(path, data, stat.S_IMODE(st.st_mode), owner)

    def put_back(self) -> None:
        with contextlib.suppress(OSError, MailctlError):
            if self.data is not None:
                atomic_write(self.path, self.data, mode=self.mode, owner=self.owner)
                return
            self.path.unlink(missing_ok=True)
            if self.link is not None:
                self.path.symlink_to(self.link)


def _restore(rendered: Rendered) -> None:
    mode, owner = _mode_owner(rendered.spec)
    _put_back(rendered.spec.path, rendered.old, mode, owner)


def _put_back(path: Path, old: str | None, mode: int, owner: tuple[int, int] | None = None) -> None:
    with contextlib.suppress(OSError, MailctlError):
        if old is None:
            path.unlink()
        else:
            atomic_write(path, old, mode=mode, owner=owner)


def _remove(spec: Target) -> None:
    """Remove a whole file, and the directories of its tree it leaves empty (undo
    writes it back, directories and all)."""
    try:
        spec.path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise MailctlError(f"cannot remove {spec.path}: {exc.strerror}") from None
    tree = spec.tree or spec.path.parent
    for directory in spec.path.parents:
        if directory == tree or tree not in directory.parents:
            break
        try:
            directory.rmdir()
        except OSError:
            break  # not empty: something else lives there


def _mode_owner(spec: Target) -> tuple[int, tuple[int, int] | None]:
    """Keep the mode and owner an administrator gave an existing file."""
    try:
        st = spec.path.stat()
    except OSError:
        return spec.mode, spec.owner
    owner = (st.st_uid, st.st_gid) if as_root() else None
    return stat.S_IMODE(st.st_mode), owner


def _run(step: Step, settings: Settings, runner: Runner, notes: list[str]) -> None:
    if step.kind == "reload":
        runner(list(step.argv), what="reload")
        return
    skipped = (
        f"skipped the {step.what} check"
        if step.kind == "check"
        else f"skipped: {system.describe(step.argv)}"
    )
    if not _runnable(step.argv, settings, notes, skipped):
        return
    if step.kind == "check":
        what = f"{step.what} rejected the new configuration; previous files restored"
        runner(list(step.argv), what=what)
        return
    runner(list(step.argv), what="postmap")
    # postmap -F inlines private keys: make sure the indexed file is not world-readable.
    with contextlib.suppress(OSError):
        db_file = Path(f"{step.indexed}.db")
        if db_file.stat().st_mode & 0o077:
            db_file.chmod(0o600)


def _runnable(argv: Sequence[str], settings: Settings, notes: list[str], skipped: str) -> bool:
    """Whether to run a follow-up. The sandbox skips, with a note, what this host
    lacks: the program, or a Postfix with no main.cf. Anywhere else a missing
    program fails when it runs, and an unconfigured Postfix in `preflight`."""
    if settings.sandbox and system.find_program(argv[0]) is None:
        notes.append(f"{argv[0]} not installed; {skipped}")
        return False
    problem = system.unconfigured_postfix(argv)
    if problem is None:
        return True
    if settings.sandbox:
        notes.append(f"{problem}; {skipped}")
        return False
    raise MailctlError(_unconfigured_message(problem, argv))


def _unconfigured_message(problem: str, argv: Sequence[str]) -> str:
    return (
        f"{problem}, and {system.describe(argv)} needs it: configure Postfix first"
        " (the mail server guide, section 8), or name its directory in the command"
        f" ({argv[0]} -c DIR); nothing was changed"
    )


def preflight(plan_: Plan, settings: Settings) -> None:
    """Refuse, before anything is written, a change whose follow-ups cannot run
    because Postfix is installed but not configured."""
    if settings.sandbox:
        return  # skipped there, with a note
    for step in plan_.steps(settings):
        problem = system.unconfigured_postfix(step.argv)
        if problem is not None and system.find_program(step.argv[0]) is not None:
            raise MailctlError(_unconfigured_message(problem, step.argv))


def apply(
    plan_: Plan,
    settings: Settings,
    *,
    new_keys: Sequence[NewKey] = (),
    runner: Runner = system.run,
) -> Applied:
    """Write new keys, the database's keys this host lacks (plan.keys) and changed
    files, then postmap and validate; undo all on failure."""
    preflight(plan_, settings)
    applied = Applied(settings, runner=runner)
    owner, owner_note = resolve_owner(settings.dkim.owner, settings.dkim.group)
    made = {(k.domain, k.selector) for k in new_keys}  # written below already
    restores = [k for k in plan_.keys if (k.domain, k.selector) not in made]
    try:
        key_dir = Path(settings.dkim.key_dir)
        if (new_keys or restores) and not key_dir.is_dir():
            applied.created_dirs += make_dirs(key_dir.parent)
            # Owned by the dkim account like the guide's `install -d`: OpenDKIM runs
            # as opendkim and must be able to enter it.
            ensure_dir(key_dir, 0o750, owner)
            applied.created_dirs.append(key_dir)
        _write_keys(applied, key_dir, new_keys, owner)
        _restore_keys(applied, key_dir, restores, owner)
        if (new_keys or restores) and owner_note:
            applied.notes.append(owner_note)
        for rendered in plan_.changed:
            if rendered.new is None:
                _remove(rendered.spec)
            else:
                mode, file_owner = _mode_owner(rendered.spec)
                applied.created_dirs += atomic_write(
                    rendered.spec.path, rendered.new, mode=mode, owner=file_owner
                )
            applied.written.append(rendered)
        applied.refreshed = [r for r in plan_.outdated if not r.changed]
        for step in plan_.steps(settings):
            if step.before_commit:
                _run(step, settings, runner, applied.notes)
        applied.record_state(plan_)
    except BaseException:
        applied.undo()
        raise
    return applied


def _write_keys(
    applied: Applied, key_dir: Path, keys: Sequence[NewKey], owner: tuple[int, int] | None
) -> None:
    """Keys a command made (or an import brought): new files, never over another."""
    from mailctl.dkim import keyfiles as dkim

    for key in keys:
        if key.existing:  # reused: complete its .txt and owner, never replace it
            txt = dkim.complete_key_pair(key_dir, key.domain, key.selector, key.pem, owner=owner)
            applied.created_files += [txt] if txt else []
            continue
        if not (key_dir / key.domain).exists():
            applied.created_dirs.append(key_dir / key.domain)
        files = dkim.write_key_pair(key_dir, key.domain, key.selector, key.pem, owner=owner)
        applied.created_keys.append(files.private)


def _restore_keys(
    applied: Applied, key_dir: Path, keys: Sequence[NewKey], owner: tuple[int, int] | None
) -> None:
    """The database's keys over this host's missing or differing files (0600, the
    dkim owner, atomic); what was there is kept in memory until the commit."""
    if not keys:
        return
    from mailctl.dkim import keyfiles as dkim
    from mailctl.dkim.paths import key_paths

    for key in keys:
        directory, private, txt = key_paths(key_dir, key.domain, key.selector)
        if not directory.exists():
            applied.created_dirs.append(directory)
        applied.replaced += [Saved.of(private), Saved.of(txt)]
        dkim.write_key_pair(key_dir, key.domain, key.selector, key.pem, owner=owner, replace=True)
        applied.restored.append(key)
