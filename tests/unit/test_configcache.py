"""The parsed-config cache: used only for the exact bytes it was made from, only when
private and ours, and never at the cost of a command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailctl.core import config, configcache
from mailctl.errors import ConfigError

CONFIG = b'[server]\nhostname = "mail.example.nl"\n[database]\nurl = "sqlite:////tmp/x.db"\n'


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def env(cache: Path) -> dict[str, str]:
    return {"MAILCTL_CACHE_DIR": str(cache)}


def _config(tmp_path: Path, text: bytes = CONFIG) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(text)
    path.chmod(0o600)
    return path


def _entry(cache: Path, path: Path) -> Path:
    return Path(configcache.entry_path(str(cache), str(path)))


@pytest.fixture
def cached(tmp_path: Path, cache: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """A config read once: (the config, its cache entry)."""
    path = _config(tmp_path)
    configcache.parse(str(path), path.read_bytes(), env)
    return path, _entry(cache, path)


def _kept(cache: Path, path: Path) -> dict[str, object] | None:
    return configcache.load(str(cache), str(path), path.read_bytes())


def test_the_second_read_takes_the_cached_parse(
    tmp_path: Path, cache: Path, env: dict[str, str]
) -> None:
    path = _config(tmp_path)
    first = configcache.parse(str(path), path.read_bytes(), env)
    entry = _entry(cache, path)
    assert entry.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
    # What the next command reads, without parsing the file again.
    kept = configcache.load(str(cache), str(path), path.read_bytes())
    assert kept == first == {
        "server": {"hostname": "mail.example.nl"},
        "database": {"url": "sqlite:////tmp/x.db"},
    }


def test_a_command_with_a_cached_config_imports_no_toml_parser(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = _config(tmp_path)
    probe = (
        "import sys\n"
        "from mailctl.core.config import load_settings\n"
        f"s = load_settings({str(path)!r})\n"
        "print(s.server.hostname, 'tomllib' in sys.modules)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs == [["mail.example.nl", "True"], ["mail.example.nl", "False"]]


def test_an_edit_is_seen_even_with_the_same_size_and_time(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = _config(tmp_path)
    assert config.load_settings(str(path), env=env).server.hostname == "mail.example.nl"
    before = path.stat()
    path.write_bytes(CONFIG.replace(b"mail.example.nl", b"mail.example.be"))  # same length
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert config.load_settings(str(path), env=env).server.hostname == "mail.example.be"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_an_entry_others_can_reach_is_not_read(
    cached: tuple[Path, Path], cache: Path, mode: int
) -> None:
    path, entry = cached
    entry.chmod(mode)
    assert _kept(cache, path) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_an_entry_of_another_user_is_not_read(cached: tuple[Path, Path], cache: Path) -> None:
    path, entry = cached
    os.chown(entry, 65534, 65534)
    assert _kept(cache, path) is None


def test_a_damaged_entry_is_parsed_anew_and_replaced(
    cached: tuple[Path, Path], cache: Path, env: dict[str, str]
) -> None:
    path, entry = cached
    for damage in (b"", b"\x00garbage", entry.read_bytes()[:-7]):
        entry.write_bytes(damage)
        assert _kept(cache, path) is None
        assert config.load_settings(str(path), env=env).server.hostname == "mail.example.nl"
        assert _kept(cache, path) is not None


def test_a_symlinked_entry_is_not_followed(
    cached: tuple[Path, Path], cache: Path, tmp_path: Path
) -> None:
    path, entry = cached
    real = tmp_path / "elsewhere"
    entry.rename(real)
    entry.symlink_to(real)
    assert _kept(cache, path) is None


def test_no_entry_in_a_directory_others_can_write(tmp_path: Path, cache: Path) -> None:
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    path = _config(tmp_path)
    configcache.parse(str(path), path.read_bytes(), {"MAILCTL_CACHE_DIR": str(cache)})
    assert list(cache.iterdir()) == []


def test_an_empty_cache_dir_turns_the_cache_off(tmp_path: Path) -> None:
    path = _config(tmp_path)
    parsed = configcache.parse(str(path), path.read_bytes(), {"MAILCTL_CACHE_DIR": ""})
    assert parsed["server"] == {"hostname": "mail.example.nl"}
    assert configcache.cache_dir({"MAILCTL_CACHE_DIR": ""}) is None
    assert list(tmp_path.rglob("*.marshal")) == []


def test_an_unwritable_cache_costs_nothing_but_time(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = _config(tmp_path)
    env = {"MAILCTL_CACHE_DIR": str(blocker / "cache")}
    assert config.load_settings(str(path), env=env).server.hostname == "mail.example.nl"


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the suite's isolation moves root's cache away from /var/cache
    if os.geteuid() == 0:
        assert configcache.cache_dir({}) == "/var/cache/mailctl"
    else:
        assert configcache.cache_dir({"XDG_CACHE_HOME": "/x"}) == "/x/mailctl"
    assert configcache.cache_dir({"MAILCTL_CACHE_DIR": "/y"}) == "/y"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"[server\n", "invalid TOML"),
        (b'[server]\nhostname = "\xff"\n', r"not UTF-8 text \(byte"),
    ],
)
def test_a_bad_file_is_reported_as_before_and_not_kept(
    tmp_path: Path, cache: Path, env: dict[str, str], text: bytes, error: str
) -> None:
    path = _config(tmp_path, text)
    for _ in range(2):
        with pytest.raises(ConfigError, match=error):
            config.load_settings(str(path), env=env)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_toml_date_is_parsed_every_time(tmp_path: Path, cache: Path, env: dict[str, str]) -> None:
    """marshal keeps no datetime: such a file is simply not cached."""
    path = _config(tmp_path, CONFIG + b"[extra]\nwhen = 2026-12-01\n")
    parsed = configcache.parse(str(path), path.read_bytes(), env)
    assert str(parsed["extra"]["when"]) == "2026-12-01"
    assert not _entry(cache, path).exists()
