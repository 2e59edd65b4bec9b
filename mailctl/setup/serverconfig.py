"""`mailctl setup render`: the Postfix map files and Dovecot's SQL passdb, userdb and
dict, and its quota/quota-status/quota_clone/last_login fragment, written from the
configuration with the read-only account's password (see setup/sqlmaps.py).

These files are mailctl's whole (no managed block): most hold a password, so
they are written atomically with their final mode, 0640, group postfix or
dovecot (root owns them), which is how Postfix and Dovecot read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailctl.core.config import Settings
from mailctl.errors import ConfigError, MailctlError
from mailctl.model.servers import POSTFIX_MAP_TYPES
from mailctl.setup.sqlmaps import (
    SqlSource,
    Vmail,
    map_file_name,
    map_stems,
    postfix_main_cf,
    render_dovecot_dict_23,
    render_dovecot_policy,
    render_dovecot_sql,
    render_postfix_map,
)

FILE_MODE = 0o640


@dataclass(frozen=True)
class SqlFile:
    """One SQL config file for Postfix or Dovecot."""

    path: Path
    text: str
    group: str  # who reads it: postfix or dovecot
    old: str | None  # current content; None when missing

    @property
    def changed(self) -> bool:
        return self.old != self.text

    def masked_diff(self, password: str) -> str:
        from mailctl.serverfiles.blocks import unified_diff

        def mask(text: str) -> str:
            return text.replace(password, "********") if password else text

        return unified_diff(mask(self.old or ""), mask(self.text), str(self.path))


@dataclass(frozen=True)
class SqlFiles:
    """The SQL config files setup render writes."""

    source: SqlSource
    files: tuple[SqlFile, ...]
    main_cf: tuple[str, ...]
    dovecot_usage: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass
class Written:
    """What setup render wrote or left as it was."""

    changed: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def source_from(settings: Settings) -> SqlSource:
    """Where and as whom Postfix and Dovecot connect: database.url's server and database,
    the read-only account and its password file."""
    from sqlalchemy.engine import make_url

    from mailctl.setup.accounts import read_account_password

    url = make_url(settings.database.url)
    backend = POSTFIX_MAP_TYPES.get(url.get_backend_name())
    if backend is None:
        raise ConfigError(f"setup render does not know database backend {url.get_backend_name()}")
    try:
        if backend == "sqlite":
            path = Path(url.database or "").expanduser()
            if not path.is_absolute():
                raise ConfigError(
                    f"database.url: Postfix and Dovecot need an absolute SQLite path, not {path}"
                )
            return SqlSource("sqlite", dbname=str(path))
        socket = url.query.get("unix_socket")
        host = socket if isinstance(socket, str) else (url.host or "localhost")
        password_file = Path(settings.setup.readonly_password_file)
        if not password_file.exists():
            raise ConfigError(
                f"no password for {settings.setup.readonly_user} in {password_file}:"
                " run 'mailctl setup sql' first"
            )
        return SqlSource(
            backend,
            dbname=url.database or "",
            host=host,
            port=url.port,
            user=settings.setup.readonly_user,
            password=read_account_password(password_file, "read-only password file"),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def plan(settings: Settings, *, dovecot_version: str, catchall_fix: bool) -> SqlFiles:
    source = source_from(settings)
    setup = settings.setup
    map_dir = Path(setup.postfix_map_dir)
    files = [
        _file(
            map_dir / map_file_name(source.backend, stem),
            render_postfix_map(source, stem, send_as_alias=setup.send_as_alias),
            "postfix",
        )
        for stem in map_stems(catchall_fix=catchall_fix)
    ]
    sql_path, dict_path = Path(setup.dovecot_sql_conf), Path(setup.dovecot_dict_conf)
    policy_path = Path(setup.dovecot_policy_conf)
    vmail_user, notes = vmail_user_name(settings.vmail.uid)
    try:
        vmail = Vmail(settings.vmail.uid, settings.vmail.gid, settings.vmail.home, vmail_user)
        files.append(
            _file(
                sql_path,
                render_dovecot_sql(
                    source, dovecot_version, settings.passwords.default_scheme, vmail
                ),
                "dovecot",
            )
        )
        if dovecot_version == "2.3":  # 2.4 keeps the dict in the SQL fragment
            files.append(_file(dict_path, render_dovecot_dict_23(source), "dovecot"))
        policy = render_dovecot_policy(
            dovecot_version, source.backend, str(dict_path), setup.quota_status_port, vmail_user
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    files.append(_file(policy_path, policy, "dovecot"))
    if dovecot_version == "2.3":
        usage: tuple[str, ...] = (
            f"passdb {{ driver = sql  args = {sql_path} }}",
            f"userdb {{ driver = sql  args = {sql_path} }}  (instead of the static userdb)",
            f"!include {policy_path}  (unless conf.d/*.conf already includes it)",
        )
    else:
        usage = (
            f"!include {sql_path}  (instead of the passdb and the static userdb)",
            f"!include {policy_path}  (unless conf.d/*.conf already includes it)",
        )
    return SqlFiles(
        source=source,
        files=tuple(files),
        main_cf=tuple(
            postfix_main_cf(
                source.backend,
                str(map_dir),
                catchall_fix=catchall_fix,
                quota_status_port=setup.quota_status_port,
            )
        ),
        dovecot_usage=usage,
        notes=tuple(notes),
    )


def vmail_user_name(uid: int) -> tuple[str, list[str]]:
    """The system user that owns the mail processes (vmail.uid), for the dict socket:
    Dovecot names a listener's owner, it takes no number."""
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name, []
    except KeyError:
        return "vmail", [
            f"vmail.uid {uid} has no user name here: Dovecot's dict socket is given to"
            " 'vmail' (guide section 5); create that user before Dovecot reads the file"
        ]


def _file(path: Path, text: str, group: str) -> SqlFile:
    try:
        old: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise MailctlError(f"cannot read {path}: {exc.strerror}") from None
    return SqlFile(path, text, group, old)


def _owner(group: str, notes: list[str]) -> tuple[int, int] | None:
    from mailctl.system.owners import as_root, resolve_owner

    owner, why = resolve_owner(0, group)
    if owner is None and as_root():
        notes.append(f"group {group!r} does not exist: files it should read stay root:root")
        return 0, 0
    return owner


def write(files: SqlFiles) -> Written:
    """Write every changed file (0640 root:GROUP); an unchanged one keeps its inode."""
    from mailctl.system.files import atomic_write

    result = Written()
    owners: dict[str, tuple[int, int] | None] = {}
    for item in files.files:
        if not item.changed and _mode_ok(item.path):
            result.unchanged.append(item.path)
            continue
        if item.group not in owners:
            owners[item.group] = _owner(item.group, result.notes)
        atomic_write(item.path, item.text, mode=FILE_MODE, owner=owners[item.group])
        result.changed.append(item.path)
    return result


def _mode_ok(path: Path) -> bool:
    try:
        return (path.stat().st_mode & 0o777) == FILE_MODE
    except OSError:
        return False
