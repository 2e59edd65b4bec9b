"""managed.plan / apply / Applied.undo on a real SQLite database, with a fake runner:
the written files, the follow-up commands in order, and a full rollback whichever
step fails."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailctl.core import db
from mailctl.core.config import Settings, build_settings
from mailctl.dkim.paths import NewKey
from mailctl.errors import MailctlError
from mailctl.serverfiles import managed
from mailctl.serverfiles.blocks import BEGIN, END
from mailctl.services import Tx
from mailctl.services.domains import add_domain
from mailctl.store.connection import Db, connect
from mailctl.system.process import CommandFailed, Ran

POSTMAP = ["fake-postmap"]
CHECK_POSTFIX = ["fake-postfix", "check"]
CHECK_DOVECOT = ["fake-doveconf", "-n"]
RELOADS = {
    "reload_postfix": ["fake-postfix", "reload"],
    "reload_dovecot": ["fake-doveadm", "reload"],
    "reload_opendkim": ["fake-systemctl", "reload", "opendkim-sign"],
    "reload_opendkim_ed25519": ["fake-systemctl", "reload", "opendkim-sign-ed25519"],
}
HELO = "554 5.7.1 Spoofed HELO (you are not me)"
MANAGED_FILES = 7  # RSA and Ed25519 tables, SNI map, HELO checks, Dovecot SNI

Snapshot = dict[str, tuple[int, bytes | None]]


def snapshot(root: Path) -> Snapshot:
    """Every directory and file under root: relative path -> (mode, bytes; None for a dir)."""
    found: Snapshot = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            st = path.lstat()
            data = None if stat.S_ISDIR(st.st_mode) else path.read_bytes()
            found[str(path.relative_to(root))] = (stat.S_IMODE(st.st_mode), data)
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def block(*lines: str) -> str:
    return "".join(f"{line}\n" for line in (BEGIN, *lines, END))


def make_cert(directory: Path, names: Sequence[str]) -> None:
    """A self-signed certificate and its key (EC P-256: fast), as certbot lays them out."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True)
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (directory / "privkey.pem").chmod(0o600)


class FakeRunner:
    """Records every command; raises CommandFailed for the argv it is told to fail."""

    def __init__(self, fail: Sequence[str] | None = None) -> None:
        self.fail = list(fail) if fail is not None else None
        self.calls: list[list[str]] = []
        self.whats: list[str] = []

    def __call__(self, argv: Sequence[str], *, what: str = "", timeout: float = 120) -> Ran:
        self.calls.append(list(argv))
        self.whats.append(what)
        if self.fail is not None and list(argv[: len(self.fail)]) == self.fail:
            raise CommandFailed(f"{what}: {' '.join(argv)} failed (exit 1): injected")
        if what == "postmap":  # as postmap -F does: an index built from the map
            source = Path(argv[-1].split(":", 1)[1])
            Path(f"{source}.db").write_bytes(b"index of " + source.read_bytes())
        return Ran(tuple(argv), 0, "", "")


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def schema_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database at the current schema, made once the supported way (Alembic upgrade)."""
    path = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}", create=True)
    try:
        db.upgrade(engine)
        assert db.schema_status(engine).pending is False
    finally:
        engine.dispose()
    return path


def make_settings(tmp_path: Path, root: Path, **overrides: dict[str, Any]) -> Settings:
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    sections: dict[str, dict[str, Any]] = {
        "database": {"url": f"sqlite:///{tmp_path / 'db' / 'mail.sqlite3'}"},
        "server": {"hostname": "mail.example.nl", "admin_email": "admin@example.nl"},
        "vmail": {"home": str(root / "vmail"), "uid": os.getuid(), "gid": os.getgid()},
        "passwords": {"bcrypt_cost": 4},
        "dkim": {
            "bits": 1024,
            "ed25519": True,
            "owner": user,
            "group": group,
            "key_dir": str(root / "opendkim" / "keys"),
            "key_table": str(root / "opendkim" / "KeyTable"),
            "signing_table": str(root / "opendkim" / "SigningTable"),
            "ed25519_key_table": str(root / "opendkim" / "KeyTable.ed25519"),
            "ed25519_signing_table": str(root / "opendkim" / "SigningTable.ed25519"),
        },
        "tls": {
            "cert": str(root / "certs" / "{domain}" / "fullchain.pem"),
            "key": str(root / "certs" / "{domain}" / "privkey.pem"),
        },
        "postfix": {
            "sni_map": str(root / "postfix" / "vmail_ssl.map"),
            "helo_checks": str(root / "postfix" / "helo_checks.pcre"),
        },
        "dovecot": {
            "sni_conf": str(root / "dovecot" / "conf.d" / "11-ssl-sni.conf"),
            "version": "2.3",
        },
        "audit": {"log": str(tmp_path / "log" / "audit.log")},
        "lock": {"path": str(tmp_path / "log" / "mailctl.lock")},
        "commands": {
            "postmap": POSTMAP,
            "check_postfix": CHECK_POSTFIX,
            "check_dovecot": CHECK_DOVECOT,
            **RELOADS,
        },
    }
    for name, values in overrides.items():
        sections[name] = {**sections[name], **values}
    return build_settings(sections)


# What the administrator had before mailctl ran: some files with their own lines
# and modes, a stale managed block, files and the key directory still missing.
KEY_TABLE_BEFORE = (
    "# OpenDKIM keys, see opendkim.conf\n"
    "old._domainkey.legacy.example legacy.example:old:/srv/legacy/old.private\n"
)
ED_SIGNING_BEFORE = block("*@gone.example ed._domainkey.gone.example")
SNI_BEFORE = (
    "# admin entries\n"
    "smtp.legacy.example /srv/legacy/key.pem /srv/legacy/cert.pem\n"
    "\n" + block("smtp.gone.example /srv/gone/key.pem /srv/gone/cert.pem")
)
HELO_BEFORE = "/^localhost$/ 550 Don't use my name\n"


def lay_out(root: Path) -> None:
    for directory in ("opendkim", "postfix", "dovecot/conf.d"):
        (root / directory).mkdir(parents=True)
    (root / "opendkim" / "KeyTable").write_text(KEY_TABLE_BEFORE)
    (root / "opendkim" / "KeyTable").chmod(0o600)
    (root / "opendkim" / "SigningTable.ed25519").write_text(ED_SIGNING_BEFORE)
    (root / "opendkim" / "SigningTable.ed25519").chmod(0o640)
    (root / "postfix" / "vmail_ssl.map").write_text(SNI_BEFORE)
    (root / "postfix" / "vmail_ssl.map").chmod(0o600)
    # ...and the index postmap built from it (what FakeRunner's postmap writes).
    (root / "postfix" / "vmail_ssl.map.db").write_bytes(b"index of " + SNI_BEFORE.encode())
    (root / "postfix" / "vmail_ssl.map.db").chmod(0o600)
    (root / "postfix" / "helo_checks.pcre").write_text(HELO_BEFORE)
    (root / "postfix" / "helo_checks.pcre").chmod(0o664)
    make_cert(root / "certs" / "example.nl", ["example.nl", "smtp.example.nl", "imap.example.nl"])


@dataclass
class Env:
    root: Path
    settings: Settings
    db: Db
    new_keys: list[NewKey]
    plan: managed.Plan

    @property
    def keys(self) -> Path:
        return Path(self.settings.dkim.key_dir)

    def replan(self) -> managed.Plan:
        return managed.plan(self.db, self.settings)


@contextmanager
def build_env(
    tmp_path: Path,
    schema_db: Path,
    layout: Callable[[Path], None] = lay_out,
    **overrides: dict[str, Any],
) -> Iterator[Env]:
    root = tmp_path / "srv"
    root.mkdir()
    layout(root)
    settings = make_settings(tmp_path, root, **overrides)
    db_file = Path(settings.database.url.removeprefix("sqlite:///"))
    db_file.parent.mkdir()
    shutil.copyfile(schema_db, db_file)
    store = connect(settings.database.url)
    try:
        tx = Tx(store, settings)
        with store.transaction():
            for name in ("example.nl", "example.org"):
                add_domain(tx, name)
        assert tx.files_dirty
        yield Env(root, settings, store, tx.new_keys, managed.plan(store, settings))
    finally:
        store.close()


EnvFactory = Callable[..., Env]


@pytest.fixture
def make_env(tmp_path: Path, schema_db: Path) -> Iterator[EnvFactory]:
    """build_env with another layout or settings; closed again after the test."""
    stack = ExitStack()

    def make(layout: Callable[[Path], None] = lay_out, **overrides: dict[str, Any]) -> Env:
        return stack.enter_context(build_env(tmp_path, schema_db, layout, **overrides))

    with stack:
        yield make


@pytest.fixture
def env(make_env: EnvFactory) -> Env:
    return make_env()


# ------------------------------------------------------------------ the happy path


def expected_files(env: Env) -> dict[str, tuple[str, int]]:
    """Managed file key -> (text after apply, mode)."""
    keys, certs = env.keys, env.root / "certs" / "example.nl"
    tls = f"{certs}/privkey.pem {certs}/fullchain.pem"
    return {
        "KeyTable": (
            KEY_TABLE_BEFORE
            + "\n"
            + block(
                f"mail._domainkey.example.nl example.nl:mail:{keys}/example.nl/mail.private",
                f"mail._domainkey.example.org example.org:mail:{keys}/example.org/mail.private",
            ),
            0o600,  # existing file: the administrator's mode stays
        ),
        "SigningTable": (
            block(
                "*@example.nl mail._domainkey.example.nl",
                "*@example.org mail._domainkey.example.org",
            ),
            0o640,
        ),
        "Ed25519 KeyTable": (
            block(
                f"ed._domainkey.example.nl example.nl:ed:{keys}/example.nl/ed.private",
                f"ed._domainkey.example.org example.org:ed:{keys}/example.org/ed.private",
            ),
            0o640,
        ),
        "Ed25519 SigningTable": (
            block(
                "*@example.nl ed._domainkey.example.nl",
                "*@example.org ed._domainkey.example.org",
            ),
            0o640,
        ),
        "SNI map": (
            SNI_BEFORE.split(BEGIN)[0] + block(f"example.nl {tls}", f"smtp.example.nl {tls}"),
            0o600,
        ),
        "HELO checks": (
            HELO_BEFORE
            + "\n"
            + block(
                rf"/^example\.nl$/ {HELO}",
                rf"/^example\.org$/ {HELO}",
                rf"/^mail\.example\.nl$/ {HELO}",
            ),
            0o664,  # existing file: the administrator's mode stays
        ),
        "Dovecot SNI": (
            "".join(
                f"{line}\n"
                for line in (
                    BEGIN,
                    "local_name imap.example.nl {",
                    f"  ssl_cert = <{certs}/fullchain.pem",
                    f"  ssl_key = <{certs}/privkey.pem",
                    "}",
                    END,
                )
            ),
            0o644,
        ),
    }


def test_plan_renders_every_file_without_writing(env: Env) -> None:
    before = snapshot(env.root)
    plan = env.replan()
    assert snapshot(env.root) == before
    assert [f.spec.key for f in plan.changed] == list(expected_files(env))
    assert {f.spec.key: f.new for f in plan.files} == {
        key: text for key, (text, _mode) in expected_files(env).items()
    }
    assert {f.spec.key: f.old for f in plan.files if f.old is not None} == {
        "KeyTable": KEY_TABLE_BEFORE,
        "Ed25519 SigningTable": ED_SIGNING_BEFORE,
        "SNI map": SNI_BEFORE,
        "HELO checks": HELO_BEFORE,
    }
    assert [t.domain for t in plan.tls] == ["example.nl", "example.org"]
    assert [t.domain for t in plan.pending_tls] == ["example.org"]
    assert [(k.domain, k.selector) for k in env.new_keys] == [
        ("example.nl", "mail"),
        ("example.nl", "ed"),
        ("example.org", "mail"),
        ("example.org", "ed"),
    ]


def test_apply_writes_files_keys_and_runs_checks_in_order(env: Env) -> None:
    runner = FakeRunner()
    applied = managed.apply(env.plan, env.settings, new_keys=env.new_keys, runner=runner)

    for rendered in env.plan.files:
        text, file_mode = expected_files(env)[rendered.spec.key]
        assert rendered.spec.path.read_text() == text, rendered.spec.key
        assert mode(rendered.spec.path) == file_mode, rendered.spec.key
    for key in env.new_keys:
        private = env.keys / key.domain / f"{key.selector}.private"
        assert private.read_bytes() == key.pem
        assert mode(private) == 0o600
        txt = private.with_suffix(".txt")
        assert txt.read_text().startswith(f"{key.selector}._domainkey\tIN\tTXT\t(")
        assert mode(txt) == 0o644
        assert mode(private.parent) == 0o750
    assert mode(env.keys) == 0o750
    assert applied.created_dirs == [env.keys, env.keys / "example.nl", env.keys / "example.org"]
    assert [r.spec.key for r in applied.written] == [r.spec.key for r in env.plan.changed]

    sni_map = env.settings.postfix.sni_map
    checks = [[*POSTMAP, "-F", f"hash:{sni_map}"], CHECK_POSTFIX, CHECK_DOVECOT]
    followups = env.plan.followups(env.settings)
    assert runner.calls == checks == followups[: len(checks)]
    assert runner.whats[0] == "postmap"
    assert "Postfix rejected" in runner.whats[1] and "Dovecot rejected" in runner.whats[2]

    # Reloads wait for the commit; they are the rest of followups(), in order.
    applied.reload()
    assert runner.calls == followups
    assert runner.calls[len(checks) :] == [
        RELOADS["reload_opendkim"],
        RELOADS["reload_opendkim_ed25519"],
        RELOADS["reload_postfix"],
        RELOADS["reload_dovecot"],
    ]
    assert runner.whats[len(checks) :] == ["reload"] * 4


def test_second_plan_changes_nothing_and_runs_nothing(env: Env) -> None:
    managed.apply(env.plan, env.settings, new_keys=env.new_keys, runner=FakeRunner())
    after = snapshot(env.root)
    again = env.replan()
    assert again.changed == ()
    assert again.followups(env.settings) == []
    runner = FakeRunner()
    applied = managed.apply(again, env.settings, runner=runner)
    applied.reload()
    assert runner.calls == []
    assert applied.written == [] and applied.created_dirs == []
    assert snapshot(env.root) == after


def test_only_the_changed_files_steps_run(env: Env) -> None:
    managed.apply(env.plan, env.settings, new_keys=env.new_keys, runner=FakeRunner())
    # A line deleted by hand inside the HELO block: only that file is rewritten, and
    # only Postfix is checked and reloaded (no postmap: the SNI map did not change).
    helo = Path(env.settings.postfix.helo_checks)
    good = helo.read_text()
    helo.write_text(good.replace(rf"/^example\.org$/ {HELO}" + "\n", ""))
    plan = env.replan()
    assert [r.spec.key for r in plan.changed] == ["HELO checks"]
    assert plan.changed[0].new == good
    runner = FakeRunner()
    managed.apply(plan, env.settings, runner=runner).reload()
    assert runner.calls == [CHECK_POSTFIX, RELOADS["reload_postfix"]]
    assert runner.calls == plan.followups(env.settings)


def test_undo_after_success_restores_every_file(env: Env) -> None:
    before = snapshot(env.root)
    runner = FakeRunner()
    applied = managed.apply(env.plan, env.settings, new_keys=env.new_keys, runner=runner)
    assert snapshot(env.root) != before
    applied.undo()
    assert snapshot(env.root) == before
    assert not env.keys.exists()
    # The SNI map's indexed file is rebuilt from the restored source.
    assert runner.calls[-1] == [*POSTMAP, "-F", f"hash:{env.settings.postfix.sni_map}"]


# ------------------------------------------------------------------ failures


def assert_untouched(env: Env, before: Snapshot) -> None:
    assert snapshot(env.root) == before
    assert not env.keys.exists()
    assert list(env.root.rglob("*.private")) == []


@pytest.mark.parametrize(
    ("fail", "calls"),
    [
        pytest.param(POSTMAP, ["postmap", "postmap"], id="postmap"),
        pytest.param(CHECK_POSTFIX, ["postmap", "check_postfix", "postmap"], id="check_postfix"),
        pytest.param(
            CHECK_DOVECOT,
            ["postmap", "check_postfix", "check_dovecot", "postmap"],
            id="check_dovecot",
        ),
    ],
)
def test_failing_command_restores_everything(env: Env, fail: list[str], calls: list[str]) -> None:
    before = snapshot(env.root)
    runner = FakeRunner(fail)
    with pytest.raises(CommandFailed, match="injected"):
        managed.apply(env.plan, env.settings, new_keys=env.new_keys, runner=runner)
    assert_untouched(env, before)
    argv = {
        "postmap": [*POSTMAP, "-F", f"hash:{env.settings.postfix.sni_map}"],
        "check_postfix": CHECK_POSTFIX,
        "check_dovecot": CHECK_DOVECOT,
    }
    # The steps up to the failing one, then postmap again over the restored map.
    assert runner.calls == [argv[name] for name in calls]


@pytest.mark.parametrize("failing_write", range(1, MANAGED_FILES + 1))
def test_failing_file_write_restores_everything(
    env: Env, monkeypatch: pytest.MonkeyPatch, failing_write: int
) -> None:
    assert len(env.plan.changed) == MANAGED_FILES
    real_write = managed.atomic_write
    targets: list[Path] = []

    def write(path: Path, data: str | bytes, **kwargs: Any) -> list[Path]:
        targets.append(path)
        if len(targets) == failing_write:
            raise MailctlError(f"cannot write {path}: injected")
        return real_write(path, data, **kwargs)

    monkeypatch.setattr(managed, "atomic_write", write)
    before = snapshot(env.root)
    runner = FakeRunner()
    with pytest.raises(MailctlError, match="injected"):
        managed.apply(env.plan, env.settings, new_keys=env.new_keys, runner=runner)
    assert_untouched(env, before)
    assert targets[failing_write - 1] == env.plan.changed[failing_write - 1].spec.path
    # No check ran; postmap only to rebuild the restored map if it had been written.
    sni_written = failing_write > [r.spec.key for r in env.plan.changed].index("SNI map") + 1
    assert runner.calls == (
        [[*POSTMAP, "-F", f"hash:{env.settings.postfix.sni_map}"]] if sni_written else []
    )


def test_unwritable_target_restores_everything(make_env: EnvFactory) -> None:
    def blocked(root: Path) -> None:
        lay_out(root)
        (root / "dovecot" / "conf.d").rmdir()
        (root / "dovecot" / "conf.d").write_text("a file where a directory should be\n")

    env = make_env(blocked)
    before = snapshot(env.root)
    runner = FakeRunner()
    with pytest.raises(MailctlError, match="cannot write .*11-ssl-sni.conf"):
        managed.apply(env.plan, env.settings, new_keys=env.new_keys, runner=runner)
    assert_untouched(env, before)
    assert runner.calls == [[*POSTMAP, "-F", f"hash:{env.settings.postfix.sni_map}"]]


def test_failing_key_write_removes_the_keys_already_written(make_env: EnvFactory) -> None:
    def blocked(root: Path) -> None:
        lay_out(root)
        (root / "opendkim" / "keys").mkdir(mode=0o750)
        (root / "opendkim" / "keys" / "example.org").write_text("not a directory\n")

    env = make_env(blocked)
    before = snapshot(env.root)
    runner = FakeRunner()
    with pytest.raises(MailctlError, match="example.org is not a directory"):
        managed.apply(env.plan, env.settings, new_keys=env.new_keys, runner=runner)
    assert snapshot(env.root) == before  # example.nl's keys and directory are gone again
    assert list(env.root.rglob("*.private")) == []
    assert runner.calls == []


def _spoil_key_files(env: Env) -> dict[Path, bytes]:
    """This host's key files no longer the database's: one holds another key, one
    may be read by its group, one is gone. Returns the stored bytes of each."""
    managed.apply(env.plan, env.settings, new_keys=env.new_keys, runner=FakeRunner())
    paths = [
        env.keys / "example.nl" / "mail.private",
        env.keys / "example.org" / "ed.private",
        env.keys / "example.org" / "mail.private",
    ]
    stored = {path: path.read_bytes() for path in paths}
    paths[0].write_bytes(b"-----BEGIN PRIVATE KEY-----\nanother\n-----END PRIVATE KEY-----\n")
    paths[1].chmod(0o640)
    paths[2].unlink()
    return stored


def test_key_files_are_written_from_the_database_and_put_back_by_undo(env: Env) -> None:
    stored = _spoil_key_files(env)
    plan = env.replan()
    assert plan.changed == ()
    assert [(k.domain, k.selector, k.restore) for k in plan.keys] == [
        ("example.nl", "mail", "another key"),
        ("example.org", "ed", "mode 0640"),
        ("example.org", "mail", "missing"),
    ]
    # A rewritten key is read again only by its signer's reload: both signers here.
    assert plan.followups(env.settings) == [
        RELOADS["reload_opendkim"],
        RELOADS["reload_opendkim_ed25519"],
    ]
    before = snapshot(env.root)
    runner = FakeRunner()
    applied = managed.apply(plan, env.settings, runner=runner)
    for path, data in stored.items():
        assert path.read_bytes() == data and mode(path) == 0o600
    assert env.replan().keys == ()
    applied.undo()
    assert snapshot(env.root) == before
    managed.apply(plan, env.settings, runner=runner).reload()
    assert runner.calls == [RELOADS["reload_opendkim"], RELOADS["reload_opendkim_ed25519"]]


def test_a_failing_key_write_puts_back_the_keys_written_before_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailctl.dkim import keyfiles

    _spoil_key_files(env)
    plan = env.replan()
    before = snapshot(env.root)
    real_write = keyfiles.atomic_write

    def write(path: Path, data: str | bytes, **kwargs: Any) -> list[Path]:
        if path.name == "mail.private" and path.parent.name == "example.org":
            raise MailctlError(f"cannot write {path}: injected")
        return real_write(path, data, **kwargs)

    monkeypatch.setattr(keyfiles, "atomic_write", write)
    with pytest.raises(MailctlError, match="injected"):
        managed.apply(plan, env.settings, runner=FakeRunner())
    assert snapshot(env.root) == before


@pytest.mark.parametrize("missing", ["managed-file-parent", "key-dir-parent"])
def test_failure_removes_parent_directories_apply_created(
    make_env: EnvFactory, tmp_path: Path, missing: str
) -> None:
    if missing == "managed-file-parent":

        def without(root: Path) -> None:
            lay_out(root)
            shutil.rmtree(root / "dovecot")

        env = make_env(without)
    else:
        # key_dir's parent does not exist either (the tables stay in opendkim/).
        env = make_env(dkim={"key_dir": str(tmp_path / "srv" / "dkim" / "keys")})
    before = snapshot(env.root)
    with pytest.raises(CommandFailed):
        managed.apply(
            env.plan, env.settings, new_keys=env.new_keys, runner=FakeRunner(CHECK_DOVECOT)
        )
    assert snapshot(env.root) == before
