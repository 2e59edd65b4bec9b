"""The database and isolation fixtures in conftest.py do what tests rely on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text


@pytest.mark.mariadb
def test_mariadb_database_is_utf8mb4_unicode_ci(mariadb_url: str) -> None:
    url = make_url(mariadb_url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME"
                    " FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :db"
                ),
                {"db": url.database},
            ).one()
            assert tuple(row) == ("utf8mb4", "utf8mb4_unicode_ci")
            # The connection itself must talk utf8mb4 too (?charset=utf8mb4).
            assert conn.execute(text("SELECT @@character_set_client")).scalar() == "utf8mb4"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_database_exists(postgres_url: str) -> None:
    url = make_url(postgres_url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == url.database
            assert conn.execute(text("SHOW server_encoding")).scalar() == "UTF8"
    finally:
        engine.dispose()


def test_db_url_gives_a_usable_empty_database(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY, name VARCHAR(50))"))
            conn.execute(text("INSERT INTO probe (id, name) VALUES (1, 'müller')"))
            assert conn.execute(text("SELECT name FROM probe")).scalar() == "müller"
    finally:
        engine.dispose()


def test_user_environment_is_isolated(tmp_path: Path) -> None:
    assert Path(os.environ["HOME"]).is_relative_to(tmp_path)
    assert Path(os.environ["XDG_CONFIG_HOME"]).is_relative_to(tmp_path)
    assert Path(os.environ["XDG_DATA_HOME"]).is_relative_to(tmp_path)
    assert "MAILCTL_CONFIG" not in os.environ
    assert "MAILCTL_DB_URL" not in os.environ
