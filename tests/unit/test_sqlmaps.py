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


JOIN = (
    "FROM virtual_users u LEFT JOIN mailctl_user_policy up ON up.user_id = u.id"
    " LEFT JOIN mailctl_domain_policy dp ON dp.domain_id = u.domain_id"
)
RECEIVES = "COALESCE(up.receive, 1) = 1 AND COALESCE(dp.receive, 1) = 1"


def test_mysql_maps_are_the_guides_joined_with_the_policy() -> None:
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
        # receive off, for the user or the domain: no mailbox, so RCPT gets 550
        MAILBOX_MAPS: f"query = SELECT 1 {JOIN} WHERE u.email='%s' AND {RECEIVES}",
        ALIAS_MAPS: "query = SELECT a.destination FROM virtual_aliases a"
        " LEFT JOIN mailctl_domain_policy dp ON dp.domain_id = a.domain_id"
        " WHERE a.source='%s' AND COALESCE(dp.receive, 1) = 1",
        # the owner, plus send-as grants of the address or of its whole domain
        SENDER_LOGIN_MAPS: "query = SELECT email FROM virtual_users WHERE email='%s'"
        " UNION SELECT u.email FROM mailctl_sender_grants g"
        " JOIN virtual_users u ON u.id = g.user_id"
        " WHERE g.address='%s' OR g.address='@%d'",
        EMAIL2EMAIL: f"query = SELECT u.email {JOIN} WHERE u.email='%s' AND {RECEIVES}",
    }


def test_pgsql_map_with_port() -> None:
    assert render_postfix_map(PG, ALIAS_MAPS) == (
        "# pgsql-virtual-alias-maps.cf: written by mailctl setup render\n"
        "user = mailuser\n"
        f"password = {PW}\n"
        "hosts = db.example.nl:5433\n"
        "dbname = mailserver\n"
        "query = SELECT a.destination FROM virtual_aliases a LEFT JOIN mailctl_domain_policy dp"
        " ON dp.domain_id = a.domain_id WHERE a.source='%s' AND COALESCE(dp.receive, 1) = 1\n"
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
        "query = SELECT email FROM virtual_users WHERE email='%s' UNION SELECT u.email"
        " FROM mailctl_sender_grants g JOIN virtual_users u ON u.id = g.user_id"
        " WHERE g.address='%s' OR g.address='@%d'\n"
    )


def test_file_names_follow_the_guide() -> None:
    assert [map_file_name("mysql", s) for s in map_stems(catchall_fix=False)] == [
        "mysql-virtual-mailbox-domains.cf",
        "mysql-virtual-mailbox-maps.cf",
        "mysql-virtual-alias-maps.cf",
        "mysql-sender-login-maps.cf",
    ]
    assert map_file_name("pgsql", EMAIL2EMAIL) == "pgsql-virtual-email2email.cf"


PASSWORD_23 = (
    f"SELECT u.email AS user, u.password {JOIN} WHERE u.email='%u'"
    " AND COALESCE(up.suspended, 0) = 0 AND COALESCE(dp.suspended, 0) = 0"
    " AND CASE '%s' WHEN 'imap' THEN COALESCE(up.imap, 1) WHEN 'pop3' THEN COALESCE(up.pop3, 1)"
    " WHEN 'smtp' THEN COALESCE(up.smtp, 1) WHEN 'submission' THEN COALESCE(up.smtp, 1)"
    " ELSE 1 END = 1"
)


def test_dovecot_23_mysql_is_guide_section_6_with_the_policy() -> None:
    assert render_dovecot_sql(MARIA, "2.3", "SHA512-CRYPT") == (
        "# Dovecot 2.3 SQL passdb and userdb (guide section 6, with mailctl's account\n"
        "# policy), written by mailctl setup render. Use it with:\n"
        "#   passdb { driver = sql  args = <this file> }\n"
        "#   userdb { driver = sql  args = <this file> }  (instead of the static userdb)\n"
        "driver = mysql\n"
        f"connect = host=127.0.0.1 dbname=mailserver user=mailuser password={PW}\n"
        "default_pass_scheme = SHA512-CRYPT\n"
        f"password_query = {PASSWORD_23}\n"
        # the guide's static userdb (uid=5000 gid=5000 home=/var/mail/vhosts/%d/%n) + quota
        "user_query = SELECT '/var/mail/vhosts/%d/%n' AS home, 5000 AS uid, 5000 AS gid,"
        " CASE WHEN COALESCE(up.quota_bytes, dp.default_quota_bytes, 0) > 0"
        " THEN CONCAT('*:bytes=', COALESCE(up.quota_bytes, dp.default_quota_bytes))"
        f" END AS quota_rule {JOIN} WHERE u.email='%u'\n"
        "iterate_query = SELECT email AS user FROM virtual_users\n"
    )


def test_dovecot_23_pgsql_and_sqlite() -> None:
    pg = render_dovecot_sql(PG, "2.3", "SHA512-CRYPT").splitlines()
    assert pg[4:6] == [
        "driver = pgsql",
        f"connect = host=db.example.nl port=5433 dbname=mailserver user=mailuser password={PW}",
    ]
    # PostgreSQL and SQLite concatenate with ||
    assert "THEN '*:bytes=' || COALESCE(up.quota_bytes, dp.default_quota_bytes) END" in pg[8]
    lite = render_dovecot_sql(LITE, "2.3", "BLF-CRYPT").splitlines()
    assert lite[4:7] == [
        "driver = sqlite",
        "connect = /var/lib/mailctl/mailctl.sqlite3",
        "default_pass_scheme = BLF-CRYPT",
    ]
    assert "'*:bytes=' || COALESCE(" in lite[8]


def test_dovecot_24_mysql() -> None:
    password = (
        PASSWORD_23.replace("'%u'", "'%{user}'").replace("'%s'", "'%{protocol}'")
    )
    assert render_dovecot_sql(MARIA, "2.4", "SHA512-CRYPT") == (
        "# Dovecot 2.4 SQL passdb, userdb and dict (guide section 6, with mailctl's account\n"
        "# policy), written by mailctl setup render. Use it with: !include <this file>\n"
        "# (instead of a passdb with args = … and the static userdb)\n"
        "sql_driver = mysql\n"
        "mysql 127.0.0.1 {\n"
        "  user = mailuser\n"
        f"  password = {PW}\n"
        "  dbname = mailserver\n"
        "}\n"
        "passdb sql {\n"
        "  default_password_scheme = SHA512-CRYPT\n"
        f"  query = {password}\n"
        "}\n"
        "userdb sql {\n"
        "  query = SELECT '/var/mail/vhosts/%{user | domain}/%{user | username}' AS home,"
        " 5000 AS uid, 5000 AS gid,"
        " CASE WHEN COALESCE(up.quota_bytes, dp.default_quota_bytes, 0) > 0"
        " THEN COALESCE(up.quota_bytes, dp.default_quota_bytes) END AS quota_storage_size"
        f" {JOIN} WHERE u.email='%{{user}}'\n"
        "  iterate_query = SELECT email AS user FROM virtual_users\n"
        "}\n"
        "dict_server {\n"
        "  dict mailctl {\n"
        "    driver = sql\n"
        "    dict_map priv/quota/storage {\n"
        "      sql_table = mailctl_quota_usage\n"
        "      username_field = username\n"
        "      value_field bytes {\n"
        "        type = uint\n"
        "      }\n"
        "    }\n"
        "    dict_map priv/quota/messages {\n"
        "      sql_table = mailctl_quota_usage\n"
        "      username_field = username\n"
        "      value_field messages {\n"
        "        type = uint\n"
        "      }\n"
        "    }\n"
        "    dict_map shared/last-login/$user {\n"
        "      sql_table = mailctl_last_login\n"
        "      value_field last_login {\n"
        "        type = uint\n"
        "      }\n"
        "      key_field username {\n"
        "        value = $user\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


def test_dovecot_24_pgsql_uses_libpq_parameters() -> None:
    lines = render_dovecot_sql(PG, "2.4", "SHA512-CRYPT").splitlines()
    assert lines[3:12] == [
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


def test_dovecot_24_sqlite_is_read_only_but_its_dict_writes() -> None:
    text = render_dovecot_sql(LITE, "2.4", "SHA512-CRYPT")
    lines = text.splitlines()
    assert lines[3:6] == [
        "sql_driver = sqlite",
        "sqlite_path = /var/lib/mailctl/mailctl.sqlite3",
        "sqlite_readonly = yes",
    ]
    assert "  dict mailctl {\n    driver = sql\n    sqlite_readonly = no\n" in text


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
