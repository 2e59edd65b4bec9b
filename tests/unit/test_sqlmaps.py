"""Golden strings for `setup render`: Postfix SQL maps (guide §8.1) and Dovecot's SQL
passdb (guide §6) for each backend and Dovecot version."""

from __future__ import annotations

import pytest

from mailctl.setup.sqlmaps import (
    ALIAS_MAPS,
    EMAIL2EMAIL,
    MAILBOX_DOMAINS,
    MAILBOX_MAPS,
    SENDER_LOGIN_MAPS,
    SqlSource,
    map_file_name,
    map_stems,
    postfix_main_cf,
    render_dovecot_sql,
    render_postfix_map,
)

PW = "s3cret-PW_0"
MARIA = SqlSource("mysql", dbname="mailserver", user="mailuser", password=PW)
PG = SqlSource(
    "pgsql", dbname="mailserver", host="db.example.nl", port=5433, user="mailuser", password=PW
)
LITE = SqlSource("sqlite", dbname="/var/lib/mailctl/mailctl.sqlite3")


def test_mysql_maps_are_the_guides() -> None:
    assert render_postfix_map(MARIA, MAILBOX_DOMAINS) == (
        "# mysql-virtual-mailbox-domains.cf: written by mailctl setup render\n"
        "user = mailuser\n"
        f"password = {PW}\n"
        "hosts = 127.0.0.1\n"
        "dbname = mailserver\n"
        "query = SELECT 1 FROM virtual_domains WHERE name='%s'\n"
    )
    queries = {
        stem: render_postfix_map(MARIA, stem).splitlines()[-1]
        for stem in map_stems(catchall_fix=True)
    }
    assert queries == {
        MAILBOX_DOMAINS: "query = SELECT 1 FROM virtual_domains WHERE name='%s'",
        MAILBOX_MAPS: "query = SELECT 1 FROM virtual_users WHERE email='%s'",
        ALIAS_MAPS: "query = SELECT destination FROM virtual_aliases WHERE source='%s'",
        SENDER_LOGIN_MAPS: "query = SELECT email FROM virtual_users WHERE email='%s'",
        EMAIL2EMAIL: "query = SELECT email FROM virtual_users WHERE email='%s'",
    }


def test_pgsql_map_with_port() -> None:
    assert render_postfix_map(PG, ALIAS_MAPS) == (
        "# pgsql-virtual-alias-maps.cf: written by mailctl setup render\n"
        "user = mailuser\n"
        f"password = {PW}\n"
        "hosts = db.example.nl:5433\n"
        "dbname = mailserver\n"
        "query = SELECT destination FROM virtual_aliases WHERE source='%s'\n"
    )


def test_mysql_map_over_a_unix_socket() -> None:
    source = SqlSource(
        "mysql", dbname="mailserver", host="/run/mysqld/mysqld.sock", user="mailuser", password=PW
    )
    assert "hosts = unix:/run/mysqld/mysqld.sock\n" in render_postfix_map(source, MAILBOX_MAPS)


def test_sqlite_map() -> None:
    assert render_postfix_map(LITE, SENDER_LOGIN_MAPS) == (
        "# sqlite-sender-login-maps.cf: written by mailctl setup render\n"
        "dbpath = /var/lib/mailctl/mailctl.sqlite3\n"
        "query = SELECT email FROM virtual_users WHERE email='%s'\n"
    )


def test_file_names_follow_the_guide() -> None:
    assert [map_file_name("mysql", s) for s in map_stems(catchall_fix=False)] == [
        "mysql-virtual-mailbox-domains.cf",
        "mysql-virtual-mailbox-maps.cf",
        "mysql-virtual-alias-maps.cf",
        "mysql-sender-login-maps.cf",
    ]
    assert map_file_name("pgsql", EMAIL2EMAIL) == "pgsql-virtual-email2email.cf"


def test_dovecot_23_mysql_is_guide_section_6() -> None:
    assert render_dovecot_sql(MARIA, "2.3", "SHA512-CRYPT") == (
        "# Dovecot 2.3 SQL passdb (guide section 6), written by mailctl setup render.\n"
        "# Use it with: passdb { driver = sql  args = <this file> }\n"
        "driver = mysql\n"
        f"connect = host=127.0.0.1 dbname=mailserver user=mailuser password={PW}\n"
        "default_pass_scheme = SHA512-CRYPT\n"
        "password_query = SELECT email AS user, password FROM virtual_users WHERE email='%u'\n"
    )


def test_dovecot_23_pgsql_and_sqlite() -> None:
    assert render_dovecot_sql(PG, "2.3", "SHA512-CRYPT").splitlines()[2:4] == [
        "driver = pgsql",
        f"connect = host=db.example.nl port=5433 dbname=mailserver user=mailuser password={PW}",
    ]
    assert render_dovecot_sql(LITE, "2.3", "BLF-CRYPT").splitlines()[2:5] == [
        "driver = sqlite",
        "connect = /var/lib/mailctl/mailctl.sqlite3",
        "default_pass_scheme = BLF-CRYPT",
    ]


def test_dovecot_24_mysql() -> None:
    assert render_dovecot_sql(MARIA, "2.4", "SHA512-CRYPT") == (
        "# Dovecot 2.4 SQL passdb (guide section 6), written by mailctl setup render.\n"
        "# Use it with: !include <this file>  (instead of a passdb with args = …)\n"
        "sql_driver = mysql\n"
        "mysql 127.0.0.1 {\n"
        "  user = mailuser\n"
        f"  password = {PW}\n"
        "  dbname = mailserver\n"
        "}\n"
        "passdb sql {\n"
        "  default_password_scheme = SHA512-CRYPT\n"
        "  query = SELECT email AS user, password FROM virtual_users WHERE email='%{user}'\n"
        "}\n"
    )


def test_dovecot_24_pgsql_uses_libpq_parameters() -> None:
    lines = render_dovecot_sql(PG, "2.4", "SHA512-CRYPT").splitlines()
    assert lines[2:11] == [
        "sql_driver = pgsql",
        "pgsql db.example.nl {",
        "  parameters {",
        "    port = 5433",
        "    user = mailuser",
        f"    password = {PW}",
        "    dbname = mailserver",
        "  }",
        "}",
    ]


def test_dovecot_24_sqlite_is_read_only() -> None:
    lines = render_dovecot_sql(LITE, "2.4", "SHA512-CRYPT").splitlines()
    assert lines[2:5] == [
        "sql_driver = sqlite",
        "sqlite_path = /var/lib/mailctl/mailctl.sqlite3",
        "sqlite_readonly = yes",
    ]


def test_main_cf_lines_put_the_alias_map_before_email2email() -> None:
    assert postfix_main_cf("mysql", "/etc/postfix/", catchall_fix=True) == [
        "virtual_mailbox_domains = mysql:/etc/postfix/mysql-virtual-mailbox-domains.cf",
        "virtual_mailbox_maps = mysql:/etc/postfix/mysql-virtual-mailbox-maps.cf",
        "virtual_alias_maps = mysql:/etc/postfix/mysql-virtual-alias-maps.cf,"
        " mysql:/etc/postfix/mysql-virtual-email2email.cf",
        "# master.cf, submission/smtps:"
        " -o smtpd_sender_login_maps=mysql:/etc/postfix/mysql-sender-login-maps.cf",
    ]
    plain = postfix_main_cf("sqlite", "/etc/postfix", catchall_fix=False)
    assert plain[2] == "virtual_alias_maps = sqlite:/etc/postfix/sqlite-virtual-alias-maps.cf"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"password": "has space"},
        {"password": "quote'"},
        {"password": "hash#"},
        {"password": "dollar$x"},
        {"password": "brace}"},
        {"password": ""},
        {"user": "mail user"},
        {"dbname": "mail;server"},
        {"host": "evil host"},
        {"port": 0},
    ],
)
def test_values_that_would_need_quoting_are_refused(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"dbname": "mailserver", "user": "mailuser", "password": PW}
    fields.update(kwargs)
    with pytest.raises(ValueError):
        SqlSource("mysql", **fields)  # type: ignore[arg-type]


def test_bad_backend_version_and_path() -> None:
    with pytest.raises(ValueError, match="unknown SQL map type"):
        SqlSource("oracle", dbname="x")
    with pytest.raises(ValueError, match="absolute path"):
        SqlSource("sqlite", dbname="relative.sqlite3")
    with pytest.raises(ValueError, match="2.3 or 2.4"):
        render_dovecot_sql(MARIA, "2.5", "SHA512-CRYPT")
