"""The Debian package: built once, checked by lintian, installed with apt-get, used,
removed and purged, on this machine. The install tests share one install (module
scope) and run in file order; the last one removes and purges, and the fixture
purges again whatever happens."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pkgtools import SYSTEM_PATH, run, system_env
from support.env import INSTALLED, REPO_ROOT, need

import mailctl

DOC = REPO_ROOT / "docs" / "how-to" / "install-packages.md"
OVERRIDES = REPO_ROOT / "debian" / "mailctl.lintian-overrides"
ETC = Path("/etc/mailctl")
VENV = Path("/opt/venvs/mailctl")
# The remove/purge test writes this config; a file that starts with it is the tier's
# own, safe to delete when an interrupted run left it behind.
TEST_CONFIG = "# written by mailctl's tests/package/test_deb.py: safe to delete\n"
# Everywhere the package's files, and what its maintainer scripts make, can be:
# searched before the install and after the purge.
SCAN_ROOTS = (
    "/etc",
    "/lib/systemd",
    "/opt",
    "/usr",
    "/var/cache",
    "/var/lib/dpkg/info",
    "/var/lib/systemd",
)
CACHE = Path("/var/cache/mailctl")  # root's parsed configs (mailctl.core.configcache)

UNITS = ("mailctl-sync.service", "mailctl-sync.timer")
SHIPPED = {
    "/usr/bin/mailctl": "symlink to the venv's console script",
    "/opt/venvs/mailctl/bin/mailctl": "the venv's console script",
    "/usr/share/man/man1/mailctl.1.gz": "man page",
    "/usr/share/bash-completion/completions/mailctl": "bash completion",
    "/usr/share/zsh/vendor-completions/_mailctl": "zsh completion",
    "/usr/share/fish/vendor_completions.d/mailctl.fish": "fish completion",
    "/etc/logrotate.d/mailctl": "logrotate rule for the audit log",
    "/lib/systemd/system/mailctl-sync.service": "sync service",
    "/lib/systemd/system/mailctl-sync.timer": "sync timer",
    "/usr/lib/mailctl/certbot-deploy-hook": "certbot deploy hook",
    "/usr/share/doc/mailctl/changelog.gz": "CHANGELOG.md",
    "/usr/share/doc/mailctl/copyright": "copyright",
    "/etc/mailctl": "config directory, no file in it",
}


def field(deb: Path, name: str) -> str:
    return run(["dpkg-deb", "-f", str(deb), name]).stdout.strip()


def contents(deb: Path) -> dict[str, str]:
    """Path (absolute, no trailing slash) -> `ls -l` type and mode, e.g. 'drwxr-xr-x'."""
    out: dict[str, str] = {}
    for line in run(["dpkg-deb", "-c", str(deb)]).stdout.splitlines():
        mode, _owner, _size, _date, _time, name = line.split(maxsplit=5)
        name = name.split(" -> ")[0].removeprefix(".").rstrip("/") or "/"
        out[name] = mode
    return out


# ------------------------------------------------------------------ the .deb itself


def test_control_fields(deb: Path, wheel: Path) -> None:
    version = mailctl.__version__
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    assert deb.name == f"mailctl_{version}_{arch}.deb"
    assert field(deb, "Version") == version
    assert wheel.name.startswith(f"mailctl-{version}-")  # one version source
    # Compiled wheels (cryptography, bcrypt, argon2, psycopg-binary): not 'all'.
    assert field(deb, "Architecture") == arch
    depends = field(deb, "Depends")
    assert "python3.11" in depends
    recommends = {r.strip() for r in field(deb, "Recommends").split(",")}
    assert recommends >= {"postfix", "dovecot-core", "opendkim"}
    for required in ("postfix", "dovecot", "opendkim", "mariadb"):
        assert required not in depends, f"{required} is recommended, not required: {depends}"
    # /etc/mailctl/config.toml is no conffile: mailctl init writes it, dpkg never does.
    assert run(["dpkg-deb", "-I", str(deb), "conffiles"]).stdout.split() == [
        "/etc/logrotate.d/mailctl"
    ]


def test_contents(deb: Path) -> None:
    files = contents(deb)
    missing = {path: what for path, what in SHIPPED.items() if path not in files}
    assert not missing, f"not in the package: {missing}"
    assert files["/usr/bin/mailctl"].startswith("l")
    assert not [p for p in files if p.startswith("/etc/mailctl/")], "no config file is shipped"
    # No bytecode shipped (postinst compiles it), nothing from the build tree.
    assert not [p for p in files if p.endswith(".pyc") or "__pycache__" in p]
    assert not [p for p in files if "/debian/" in p or "/build/" in p]
    # The private venv holds mailctl, built from this tree, with its migrations.
    site = "/opt/venvs/mailctl/lib/python3.11/site-packages"
    assert f"{site}/mailctl/migrations/env.py" in files
    assert f"{site}/psycopg_binary" in files  # the postgresql extra
    hook = files["/usr/lib/mailctl/certbot-deploy-hook"]
    assert hook == "-rwxr-xr-x"


def _documented_lintian_tags() -> set[str]:
    """The tags docs/how-to/install-packages.md's 'lintian' section justifies."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## lintian", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9][a-z0-9+.-]*)` \|", section, flags=re.M))


def test_lintian(deb: Path) -> None:
    """No error; every warning kept, and every override, is justified in the docs."""
    proc = run(["lintian", "--pedantic", str(deb)], check=False, timeout=600)
    tags = re.findall(r"^([EWIPX]): mailctl(?: \w+)?: ([a-z0-9][a-z0-9+.-]*)", proc.stdout, re.M)
    errors = sorted({tag for level, tag in tags if level == "E"})
    assert not errors, f"lintian errors: {errors}\n{proc.stdout}{proc.stderr}"
    assert proc.returncode == 0, f"lintian exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    documented = _documented_lintian_tags()
    kept = {tag for level, tag in tags if level in "WP"}
    assert kept <= documented, f"lintian tags not justified in {DOC.name}: {kept - documented}"
    overridden = set(re.findall(r"^mailctl: ([a-z0-9-]+)", OVERRIDES.read_text(), re.M))
    assert overridden <= documented, f"overrides not justified in {DOC.name}: {overridden}"


# ------------------------------------------------------------------ installed


@dataclass
class Installed:
    """The package as dpkg installed it, and the machine as it was before."""

    files: list[str]  # dpkg -L
    preexisting: set[str]  # the package's paths that existed before (/usr/bin, ...)
    before: set[str]  # the scan of SCAN_ROOTS before the install


def _status() -> str:
    """dpkg's status of mailctl: 'ii' installed, 'rc' config files left, '' unknown."""
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "mailctl"],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _purge() -> None:
    if _status() not in ("", "un"):
        run(["apt-get", "purge", "-y", "-o", "DPkg::Lock::Timeout=600", "mailctl"])


def _drop_test_config() -> None:
    config = ETC / "config.toml"
    try:
        ours = config.read_text(encoding="utf-8").startswith(TEST_CONFIG)
    except FileNotFoundError:
        return
    if ours:
        config.unlink()
        if _status() not in ("ii", "rc") and not any(ETC.iterdir()):
            ETC.rmdir()


def _scan() -> set[str]:
    """Every path under SCAN_ROOTS with 'mailctl' in it (and all below such a dir)."""
    roots = [r for r in SCAN_ROOTS if os.path.isdir(r)]
    proc = run(["find", *roots, "-xdev", "-path", "*mailctl*"], check=False, timeout=300)
    return set(proc.stdout.splitlines())


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[Installed]:
    """apt-get install ./mailctl_*.deb; purged again afterwards, whatever happened."""
    # What an interrupted earlier run of this tier left is its own: clear it first.
    _drop_test_config()
    _purge()
    need(
        not ETC.exists(),
        f"{ETC} exists: this machine has a mailctl configuration the package tier would touch",
    )
    paths = contents(deb)
    preexisting = {p for p in paths if os.path.lexists(p)}
    before = _scan()
    try:
        run(
            ["apt-get", "install", "-y", "--no-install-recommends"]
            + ["-o", "DPkg::Lock::Timeout=600", str(deb)],
            timeout=600,
        )
        assert _status() == "ii"
        files = [os.path.normpath(p) for p in run(["dpkg", "-L", "mailctl"]).stdout.splitlines()]
        yield Installed(files=files, preexisting=preexisting, before=before)
    finally:
        _drop_test_config()
        _purge()
        _drop_test_config()


def test_version_and_path(installed: Installed, wheel: Path) -> None:
    version = mailctl.__version__
    assert run(["mailctl", "--version"]).stdout.strip() == f"mailctl, version {version}"
    assert shutil.which("mailctl", path=SYSTEM_PATH) == "/usr/bin/mailctl"
    assert os.path.realpath("/usr/bin/mailctl") == str(VENV / "bin" / "mailctl")
    # The venv runs on Debian's python3.11, not the one that built the tests' venv.
    cfg = (VENV / "pyvenv.cfg").read_text()
    assert re.search(r"^home = /usr/bin$", cfg, re.M), cfg
    # The other tiers keep running the venv's mailctl: /usr/bin comes after it.
    if INSTALLED:
        assert shutil.which("mailctl") == str(Path(sys.executable).parent / "mailctl")


COMPILED_MODULES = """
import argon2, bcrypt, markupsafe._speedups, psycopg
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.util import _collections_cy
assert bcrypt.checkpw(b"pw", bcrypt.hashpw(b"pw", bcrypt.gensalt(4)))
argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("pw")
ed25519.Ed25519PrivateKey.generate()
assert psycopg.pq.__impl__ == "binary", psycopg.pq.__impl__
print("ok")
"""


def test_compiled_modules_load(installed: Installed) -> None:
    """The stripped extension modules (and psycopg's bundled libpq) work as installed."""
    proc = run([str(VENV / "bin" / "python"), "-c", COMPILED_MODULES])
    assert proc.stdout.strip() == "ok"


def test_config_dir(installed: Installed) -> None:
    st = ETC.stat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert list(ETC.iterdir()) == [], "the package writes no config file"
    overrides = run(["dpkg-statoverride", "--list", str(ETC)]).stdout.strip()
    assert overrides == "root root 700 /etc/mailctl"


def test_man_page(installed: Installed) -> None:
    assert run(["man", "-w", "mailctl"]).stdout.strip() == "/usr/share/man/man1/mailctl.1.gz"
    page = run(["man", "-P", "cat", "mailctl"], env=system_env(MANWIDTH="80")).stdout
    assert "mailctl" in page and "domain add" in page


def test_completions(installed: Installed, tmp_path: Path) -> None:
    for shell, path in (
        ("bash", "/usr/share/bash-completion/completions/mailctl"),
        ("zsh", "/usr/share/zsh/vendor-completions/_mailctl"),
        ("fish", "/usr/share/fish/vendor_completions.d/mailctl.fish"),
    ):
        assert Path(path).read_text() == run(["mailctl", "completion", shell]).stdout, path
    # An interactive bash of a new user (Debian's /etc/skel/.bashrc loads
    # bash-completion) finds the completion the way TAB does: by the command's name.
    home = tmp_path / "user"
    home.mkdir()
    shutil.copy("/etc/skel/.bashrc", home / ".bashrc")
    proc = run(
        ["bash", "-ic", "_completion_loader mailctl; complete -p mailctl"],
        env=system_env(HOME=str(home)),
    )
    assert "-F _mailctl_completion mailctl" in proc.stdout, proc.stdout + proc.stderr


def test_systemd_units(installed: Installed) -> None:
    units = [f"/lib/systemd/system/{unit}" for unit in UNITS]
    # systemd-analyze verify works without a running systemd: syntax, ExecStart's
    # binary, the man page named in Documentation=.
    proc = run(["systemd-analyze", "verify", *units])
    assert proc.stdout + proc.stderr == ""
    service = Path(units[0]).read_text()
    assert "ExecStart=/usr/bin/mailctl -q sync" in service
    assert "ConditionPathExists=/etc/mailctl/config.toml" in service
    # Present, not enabled, not started.
    wants = list(Path("/etc/systemd/system").rglob("mailctl-sync.*"))
    assert wants == [], f"enabled: {wants}"
    proc = run(["systemctl", "is-enabled", "mailctl-sync.timer"], check=False)
    assert proc.stdout.strip() == "disabled", proc.stdout + proc.stderr


def test_logrotate_keeps_mode(installed: Installed, tmp_path: Path) -> None:
    rule = Path("/etc/logrotate.d/mailctl").read_text()
    assert "/var/log/mailctl/audit.log" in rule
    run(["logrotate", "-d", "/etc/logrotate.d/mailctl"])
    # The installed rule, run for real on a copy of an audit log.
    log = tmp_path / "log" / "audit.log"
    log.parent.mkdir(mode=0o700)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b'{"command": ["mailctl", "domain", "add", "example.nl"]}\n')
    os.close(fd)
    conf = tmp_path / "logrotate.conf"
    conf.write_text(rule.replace("/var/log/mailctl/audit.log", str(log)))
    run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(conf)])
    rotated = log.with_name("audit.log.1")
    assert rotated.read_bytes().startswith(b'{"command"')
    for path in (log, rotated):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert log.stat().st_size == 0


def test_certbot_hook(installed: Installed, tmp_path: Path) -> None:
    hook = "/usr/lib/mailctl/certbot-deploy-hook"
    text = Path(hook).read_text()
    assert "exec mailctl -q sync" in text
    # As certbot runs it (no config here: root's sandbox under a scratch HOME).
    proc = run([hook], env=system_env(HOME=str(tmp_path)))
    assert proc.returncode == 0


def test_sandbox_quick_start(installed: Installed, tmp_path: Path) -> None:
    env = system_env(HOME=str(tmp_path))
    added = run(["mailctl", "domain", "add", "example.nl"], env=env)
    assert "added domain example.nl" in added.stderr  # messages go to stderr
    sandbox = tmp_path / ".local" / "share" / "mailctl"
    assert f"using the sandbox in {sandbox}" in added.stderr
    listed = run(["mailctl", "domain", "list"], env=env).stdout
    assert re.search(r"^example\.nl\texample\.nl\t0\t\d+\tmail\tpending$", listed, re.M), listed
    assert (sandbox / "mailctl.sqlite3").is_file()


def test_remove_keeps_config_purge_leaves_nothing(installed: Installed) -> None:
    config = ETC / "config.toml"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, TEST_CONFIG.encode())
    os.close(fd)
    shown = run(["mailctl", "--config", str(config), "config", "show"], env=system_env())
    assert "[database]" in shown.stdout
    assert list(CACHE.glob("config-*.marshal")), "root's parse of the config is kept"

    run(["apt-get", "remove", "-y", "-o", "DPkg::Lock::Timeout=600", "mailctl"])
    assert _status() == "rc"
    assert config.read_text() == TEST_CONFIG, "remove must keep the config"
    assert stat.S_IMODE(ETC.stat().st_mode) == 0o700
    assert not os.path.lexists("/usr/bin/mailctl")
    assert not VENV.exists(), "remove leaves nothing of the venv (bytecode included)"
    assert not CACHE.exists(), "remove drops the config cache"

    run(["apt-get", "purge", "-y", "-o", "DPkg::Lock::Timeout=600", "mailctl"])
    assert _status() in ("", "un")
    # Purge removes what the package made; the administrator's config stays.
    assert config.read_text() == TEST_CONFIG
    assert sorted(p.name for p in ETC.iterdir()) == ["config.toml"]
    left = sorted(
        p for p in installed.files if os.path.lexists(p) and p not in installed.preexisting
    )
    assert left == ["/etc/mailctl"], f"left by purge: {left}"
    assert run(["dpkg-statoverride", "--list", str(ETC)], check=False).stdout == ""
    new = sorted(_scan() - installed.before)
    assert new == ["/etc/mailctl", "/etc/mailctl/config.toml"], f"left by purge: {new}"
