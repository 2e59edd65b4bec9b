"""Integration-tier fixtures: the real CLI (`support.cli.Mailctl`) against a real
database, a private tree of managed files and a private Postfix configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cli import Mailctl, make_mailctl
from support.mailconfig import MailConfig
from support.named import Named


@pytest.fixture
def mailctl(db_url: str, tmp_path: Path, mail_config: MailConfig) -> Mailctl:
    """mailctl on each backend (MariaDB, PostgreSQL, SQLite), schema at head."""
    return make_mailctl(db_url, tmp_path, mail_config)


@pytest.fixture
def maria(mariadb_url: str, tmp_path: Path, mail_config: MailConfig) -> Mailctl:
    """mailctl on MariaDB only, schema at head."""
    return make_mailctl(mariadb_url, tmp_path, mail_config)


@pytest.fixture
def lite(sqlite_url: str, tmp_path: Path, mail_config: MailConfig) -> Mailctl:
    """mailctl on SQLite, schema at head: for tests that are not about the database."""
    return make_mailctl(sqlite_url, tmp_path, mail_config)


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
