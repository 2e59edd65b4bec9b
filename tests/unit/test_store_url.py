"""The store's own URL parser reads every URL as SQLAlchemy does; its queries name
only tables and columns the models define; its schema head is Alembic's."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from mailctl.core import db, tables
from mailctl.errors import DatabaseError
from mailctl.store import dkimkeys, guide, hosts, policy, schema
from mailctl.store.connection import Tls, is_local, wants_tls
from mailctl.store.url import host_port, masked, parse_url, split_host_port, with_host

URLS = [
    "mysql+pymysql://mailctl@127.0.0.1/mailserver",
    "mysql+pymysql://mailctl:s%40cr%3At@127.0.0.1:3306/mailserver?charset=utf8mb4",
    "mysql+pymysql://root@localhost/mail?unix_socket=/run/mysqld/mysqld.sock",
    "mariadb+pymysql://u:p@db.example.net:3307/mail",
    "postgresql+psycopg://mailctl@[::1]:5432/mail?sslmode=require",
    "postgresql+psycopg://mailctl:pa ss+word@db.example.net/mail",
    "postgresql://user@/mail?host=/run/postgresql",
    "sqlite:///relative/mailctl.db",
    "sqlite:////var/lib/mailctl/mailctl.db",
    "sqlite://",
    "mysql+pymysql://us%2Fer:p%25w@h/d%20b",
]


@pytest.mark.parametrize("text", URLS)
def test_parsed_and_rendered_as_sqlalchemy_does(text: str) -> None:
    ours, theirs = parse_url(text), make_url(text)
    assert ours.drivername == theirs.drivername
    assert (ours.username, ours.password) == (theirs.username, theirs.password)
    assert (ours.host, ours.port, ours.database) == (theirs.host, theirs.port, theirs.database)
    assert ours.query == dict(theirs.query)
    assert ours.render() == theirs.render_as_string(hide_password=True)
    assert ours.render(hide_password=False) == theirs.render_as_string(hide_password=False)
    assert ours.backend == (
        "mysql" if theirs.get_backend_name() == "mariadb" else theirs.get_backend_name()
    )


@pytest.mark.parametrize("text", ["no url", "mysql+pymysql://u@h:port/d", "://x"])
def test_an_unreadable_url_is_one_line_without_its_secrets(text: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        parse_url(text)
    assert "\n" not in str(caught.value)
    assert masked("mysql+pymysql://u:secret@h:nope/d") == "mysql+pymysql://..."


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("mysql+pymysql://u@127.0.0.1/d", True),
        ("mysql+pymysql://u@localhost/d", True),
        ("mysql+pymysql://u@[::1]/d", True),
        ("mysql+pymysql://u@db.example.net/d?unix_socket=/run/mysqld/mysqld.sock", True),
        ("postgresql+psycopg://u@/d", True),
        ("postgresql+psycopg://u@/d?host=/run/postgresql", True),
        ("sqlite:////tmp/x.db", True),
        ("mysql+pymysql://u@192.0.2.10/d", False),
        ("postgresql+psycopg://u@db.example.net/d", False),
    ],
)
def test_tls_is_decided_by_where_the_database_is(text: str, local: bool) -> None:
    url = parse_url(text)
    assert is_local(url) is local
    assert wants_tls(url, Tls("auto")) is not local
    assert wants_tls(url, Tls("verify")) is (url.backend != "sqlite")
    assert wants_tls(url, Tls("off")) is False


@pytest.mark.parametrize(
    ("text", "host", "port", "shown"),
    [
        ("db2.example.net", "db2.example.net", 3307, "db2.example.net:3307"),
        ("10.0.0.2:3306", "10.0.0.2", 3306, "10.0.0.2:3306"),
        ("[2001:db8::2]:4000", "2001:db8::2", 4000, "[2001:db8::2]:4000"),
        ("2001:db8::2", "2001:db8::2", 3307, "[2001:db8::2]:3307"),
    ],
)
def test_a_failover_host_takes_the_urls_port_unless_it_gives_one(
    text: str, host: str, port: int, shown: str
) -> None:
    url = parse_url("mysql+pymysql://mailctl:pw@db1.example.net:3307/mailserver?charset=utf8mb4")
    other = with_host(url, text)
    assert (other.host, other.port) == (host, port)
    assert (other.username, other.password, other.database) == ("mailctl", "pw", "mailserver")
    assert other.query == url.query
    assert host_port(other) == shown


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "a host name or address, then :port"),
        ("db2:0", "the port must be 1-65535"),
        ("db2:x", "the port must be 1-65535"),
        ("[2001:db8::2", "[IPv6] or [IPv6]:port"),
        ("[::1]3306", "[IPv6] or [IPv6]:port"),
        ("user@db2", "a host name or address, then :port"),
        ("db2/mail", "a host name or address, then :port"),
    ],
)
def test_a_bad_failover_host_is_named_in_one_line(text: str, problem: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        split_host_port(text)
    assert str(caught.value) == f"invalid host {text!r}: {problem}"
    from mailctl.core.config import build_settings
    from mailctl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^At 'database.failover': invalid host"):
        build_settings({"database": {"failover": ["db2.example.net", text]}})


def test_the_store_names_only_what_the_models_define() -> None:
    defined = {
        table.name: set(table.columns.keys()) for table in tables.Base.metadata.sorted_tables
    }
    for module in (guide, dkimkeys, policy, hosts):
        for table, columns in module.COLUMNS.items():
            assert table in defined, table
            assert set(columns) <= defined[table], (table, set(columns) - defined[table])
    used = {**guide.COLUMNS, **dkimkeys.COLUMNS, **policy.COLUMNS, **hosts.COLUMNS}
    for table, columns in defined.items():  # and every model column is known to the store
        assert set(used.get(table, ())) == columns, table


def test_schema_head_is_alembics() -> None:
    assert schema.HEAD == db.head_revision()


@pytest.mark.parametrize(
    ("url", "mode", "status"),
    [
        ("mysql+pymysql://u@192.0.2.10/d", "auto", "OK"),
        ("mysql+pymysql://u@192.0.2.10/d", "off", "WARN"),
        ("mysql+pymysql://u@192.0.2.10/d?ssl_disabled=true", "auto", "WARN"),
        ("postgresql+psycopg://u@db.example.net/d?sslmode=prefer", "auto", "WARN"),
        ("postgresql+psycopg://u@db.example.net/d?sslmode=verify-full", "off", "OK"),
        ("mysql+pymysql://u@127.0.0.1/d", "off", None),
    ],
)
def test_doctor_warns_about_a_remote_database_without_tls(
    url: str, mode: str, status: str | None
) -> None:
    from dataclasses import replace

    from mailctl.core.settings import Settings
    from mailctl.services.doctor import database_tls
    from mailctl.store.connection import Db

    settings = Settings()
    settings = replace(settings, database=replace(settings.database, tls=mode))
    results = list(database_tls(Db(None, parse_url(url), ()), settings))
    assert [r.status for r in results] == ([status] if status else [])
