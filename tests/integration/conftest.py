"""A `mailctl` fixture: the real CLI against a real database and a private file tree."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from dnsserver import Named

from mailctl.cli.root import cli

TABLES = ("virtual_domains", "virtual_users", "virtual_aliases")


def write_config(
    path: Path, url: str, root: Path, extra: str = "", commands: dict[str, list[str]] | None = None
) -> Path:
    argv = {
        "postmap": ["postmap"],
        "reload_postfix": [],
        "reload_dovecot": [],
        "reload_opendkim": [],
        "reload_opendkim_ed25519": [],
        "check_postfix": [],
        "check_dovecot": [],
        **(commands or {}),
    }
    command_lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in argv.items())
    path.write_text(
        f"""
[database]
url = "{url}"

[server]
admin_email = "admin@example.nl"

[passwords]
min_length = 12
bcrypt_cost = 5

[vmail]
home = "{root / 'vmail'}"

[dkim]
bits = 1024
key_dir = "{root / 'keys'}"
key_table = "{root / 'KeyTable'}"
signing_table = "{root / 'SigningTable'}"
ed25519_key_table = "{root / 'KeyTable.ed25519'}"
ed25519_signing_table = "{root / 'SigningTable.ed25519'}"

[postfix]
sni_map = "{root / 'vmail_ssl.map'}"
helo_checks = "{root / 'helo_checks.pcre'}"

[dovecot]
sni_conf = "{root / '11-ssl-sni.conf'}"

[audit]
log = "{root / 'audit.log'}"

[lock]
path = "{root / 'mailctl.lock'}"

[tls]
cert = "{root / 'certs/{domain}/fullchain.pem'}"
key = "{root / 'certs/{domain}/privkey.pem'}"

[commands]
{command_lines}
{extra}
"""
    )
    os.chmod(path, 0o600)
    return path


@dataclass
class Mailctl:
    url: str
    config: Path
    root: Path = Path("/nonexistent")  # the private file tree of managed files

    def __call__(self, *args: str, input: str | None = None, code: int | None = 0) -> Result:
        result = CliRunner().invoke(cli, ["--config", str(self.config), *args], input=input)
        if code is not None:
            assert result.exit_code == code, (
                f"mailctl {' '.join(args)} exited {result.exit_code}, expected {code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\n{result.exception!r}"
            )
        return result

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the guide's tables, to prove a failed command changed nothing."""
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return {
                    t: sorted(tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t}")))  # noqa: S608
                    for t in TABLES
                }
        finally:
            engine.dispose()

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params)]
        finally:
            engine.dispose()


def _make(url: str, tmp_path: Path) -> Mailctl:
    root = tmp_path / "files"
    root.mkdir()
    m = Mailctl(url, write_config(tmp_path / "config.toml", url, root), root)
    m("db", "upgrade")
    return m


@pytest.fixture
def mailctl(db_url: str, tmp_path: Path) -> Mailctl:
    """mailctl on each backend (MariaDB, PostgreSQL, SQLite), schema at head."""
    return _make(db_url, tmp_path)


@pytest.fixture
def maria(mariadb_url: str, tmp_path: Path) -> Mailctl:
    """mailctl on MariaDB only, schema at head."""
    return _make(mariadb_url, tmp_path)


@pytest.fixture
def pw() -> Callable[[str], str]:
    """stdin for --password-stdin."""
    return lambda password: password + "\n"


@pytest.fixture
def named(tmp_path: Path) -> Iterator[Named]:
    """A private BIND on 127.0.0.1:<free port>; `named.serve({origin: zone text})`."""
    directory = tmp_path / "named"
    directory.mkdir()
    server = Named(directory)
    try:
        yield server
    finally:
        server.stop()


def served(m: Mailctl, named: Named, edit: dict[str, str] | None = None) -> None:
    """Serve example.nl from `dns show --zone` (edited), plus the reverse zones."""
    zone = m("dns", "show", "example.nl", "--zone").stdout
    for old, new in (edit or {}).items():
        assert old in zone, old
        zone = zone.replace(old, new)
    records = json.loads(m("dns", "show", "example.nl", "-f", "json").stdout)
    zones = {"example.nl": zone}
    for r in records:
        if r["type"] == "PTR":  # the hosting provider's reverse zones, one name each
            origin = r["name"].rstrip(".")
            zones[origin] = (
                f"$ORIGIN {r['name']}\n$TTL 300\n"
                f"@ IN SOA ns1.example.nl. hostmaster.example.nl. 1 3600 600 86400 300\n"
                f"@ IN NS ns1.example.nl.\n@ IN PTR {r['value']}\n"
            )
    named.serve(zones)
