"""Whatever a config file says, a command answers with one line, not a traceback.

For every key of every section, a value of the right TOML type but wrong
content is written into a working config (after `db upgrade`, with a valid
certificate in place, so that nothing but the config can fail); `domain add`
then refuses with exit 1 and one `mailctl: error:` line naming the key, and
the database and the managed files stay exactly as they were. The same for a
config that is no UTF-8 or no TOML, and for database URLs that parse but lead
nowhere.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from support.cli import Mailctl
from support.files import make_cert, snapshot
from unit.test_config import NO_WRONG_VALUE, WRONG_VALUES

from mailctl.core.config import SECTIONS


@pytest.fixture
def site(tmp_path: Path) -> Mailctl:
    """A good config on SQLite, schema at head, and example.nl's certificate ready."""
    root = tmp_path / "files"
    root.mkdir()
    m = Mailctl.create(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db.sqlite3'}", root)
    m("db", "upgrade")
    make_cert(root / "certs" / "example.nl", ["example.nl", "smtp.example.nl", "imap.example.nl"])
    return m


def toml_value(value: Any) -> str:
    """A TOML literal; JSON's string escapes (\\n, \\u0000) are TOML's too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def set_value(config: Path, key: str, value: Any) -> None:
    """Rewrite `key = ...` in the config file's text (build_settings would refuse
    the value, so the harness's writer cannot be used)."""
    section, name = key.split(".")
    lines = config.read_text().splitlines()
    current = ""
    for i, line in enumerate(lines):
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.startswith(f"{name} = "):
            lines[i] = f"{name} = {toml_value(value)}"
            break
    else:
        lines += [f"[{section}]", f"{name} = {toml_value(value)}"]
    config.write_text("\n".join(lines) + "\n")


def assert_one_line_refusal(m: Mailctl, result: Result, *, code: int = 1) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("mailctl: error:")]
    assert len(errors) == 1 and len(lines) == 1, result.stderr
    return errors[0]


def refuses_and_changes_nothing(m: Mailctl, *argv: str) -> str:
    rows, files = m.dump(), snapshot(m.root)
    line = assert_one_line_refusal(m, m(*argv, code=None))
    assert m.dump() == rows
    assert snapshot(m.root) == files
    return line


def test_the_unchanged_config_adds_the_domain(site: Mailctl) -> None:
    site("domain", "add", "example.nl")
    assert site.dump()["virtual_domains"] != []
    assert "smtp.example.nl" in (site.root / "vmail_ssl.map").read_text()


def test_the_table_covers_every_key() -> None:
    keys = {f"{s}.{name}" for s, cls in SECTIONS.items() for name in cls.__dataclass_fields__}
    assert set(WRONG_VALUES) | set(NO_WRONG_VALUE) == keys


@pytest.mark.parametrize(("key", "value"), list(WRONG_VALUES.items()), ids=list(WRONG_VALUES))
def test_a_wrong_value_is_one_line_and_changes_nothing(
    site: Mailctl, key: str, value: Any
) -> None:
    set_value(site.config, key, value)
    line = refuses_and_changes_nothing(site, "domain", "add", "example.nl")
    assert line.startswith(f"mailctl: error: At '{key}': "), line


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"server.ipv4": "", "server.ipv6": ""}, "server.ipv4"),
        ({"dkim.ed25519": True, "dkim.ed25519_selector": "mail"}, "dkim.ed25519_selector"),
        ({"postfix.sni_map": "/tmp/x/map", "dovecot.sni_conf": "/tmp/x/map"}, "dovecot.sni_conf"),
    ],
)
def test_rules_across_keys_are_one_line_too(
    site: Mailctl, values: dict[str, Any], key: str
) -> None:
    for name, value in values.items():
        set_value(site.config, name, value)
    line = refuses_and_changes_nothing(site, "domain", "add", "example.nl")
    assert line.startswith(f"mailctl: error: At '{key}': "), line


def test_a_config_that_is_not_utf8_is_one_line(site: Mailctl) -> None:
    site.config.write_bytes(site.config.read_bytes() + b'\n# caf\xe9 \xff\n')
    line = refuses_and_changes_nothing(site, "domain", "add", "example.nl")
    assert "not UTF-8" in line


def test_a_config_that_is_not_toml_is_one_line(site: Mailctl) -> None:
    site.config.write_text(site.config.read_text() + "\n[dkim\nbits = \n")
    line = refuses_and_changes_nothing(site, "domain", "add", "example.nl")
    assert "invalid TOML" in line


def test_a_file_that_is_not_a_database_is_one_line(site: Mailctl, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not an SQLite database\n" * 100)
    set_value(site.config, "database.url", f"sqlite:///{garbage}")
    files = snapshot(site.root)
    line = assert_one_line_refusal(site, site("domain", "add", "example.nl", code=None))
    assert f"database error on sqlite:///{garbage}" in line
    assert snapshot(site.root) == files


@pytest.mark.parametrize("password", ["s3cr3t", "se/cr3t", "s3:cr3t", "s3%40cr3t"])
def test_an_unreachable_database_is_one_line_without_the_password(
    site: Mailctl, password: str
) -> None:
    set_value(site.config, "database.url", f"mysql+pymysql://mailctl:{password}@127.0.0.1:1/m")
    files = snapshot(site.root)
    line = assert_one_line_refusal(site, site("domain", "list", code=None))
    assert "mysql+pymysql://mailctl:***@127.0.0.1:1/m" in line
    assert "cr3t" not in line
    assert snapshot(site.root) == files


def test_a_table_missing_mid_command_is_one_line(site: Mailctl) -> None:
    import sqlalchemy as sa

    site("domain", "add", "example.nl")
    engine = sa.create_engine(site.url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE virtual_aliases"))
    engine.dispose()
    line = assert_one_line_refusal(site, site("alias", "list", code=None))
    assert "virtual_aliases" in line
