"""Golden strings for what `setup render` writes to enforce the account policy:
Dovecot's SQL dict (2.3), its quota/quota-status/quota_clone/last_login fragment
(2.3 and 2.4), and the main.cf line for the quota check. Real Dovecots read the
same output in tests/integration/test_setup_sql.py."""

from __future__ import annotations

import pytest

from mailctl.setup.serverconfig import vmail_user_name
from mailctl.setup.sqlmaps import (
    SqlSource,
    Vmail,
    password_query,
    postfix_main_cf,
    quota_policy_line,
    render_dovecot_dict_23,
    render_dovecot_policy,
    user_query,
)

PW = "s3cret-PW_0"
MARIA = SqlSource("mysql", dbname="mailserver", user="mailuser", password=PW)
LITE = SqlSource("sqlite", dbname="/var/lib/mailctl/mailctl.sqlite3")
DICT = "/etc/dovecot/dovecot-dict-sql.conf.ext"


def test_dict_23_maps_quota_clone_and_last_login_to_mailctl_tables() -> None:
    assert render_dovecot_dict_23(MARIA) == (
        "# Dovecot 2.3 SQL dict for quota_clone and last_login, written by mailctl setup\n"
        "# render. Use it with: dict { mailctl = mysql:<this file> }\n"
        f"connect = host=127.0.0.1 dbname=mailserver user=mailuser password={PW}\n"
        "map {\n"
        "  pattern = priv/quota/storage\n"
        "  table = mailctl_quota_usage\n"
        "  username_field = username\n"
        "  value_field = bytes\n"
        "  value_type = uint\n"
        "}\n"
        "map {\n"
        "  pattern = priv/quota/messages\n"
        "  table = mailctl_quota_usage\n"
        "  username_field = username\n"
        "  value_field = messages\n"
        "  value_type = uint\n"
        "}\n"
        # last_login writes shared/ + last_login_key (default last-login/<user>)
        "map {\n"
        "  pattern = shared/last-login/$user\n"
        "  table = mailctl_last_login\n"
        "  value_field = last_login\n"
        "  value_type = uint\n"
        "  fields {\n"
        "    username = $user\n"
        "  }\n"
        "}\n"
    )
    assert render_dovecot_dict_23(LITE).splitlines()[2] == (
        "connect = /var/lib/mailctl/mailctl.sqlite3"
    )


def test_policy_23() -> None:
    assert render_dovecot_policy("2.3", "mysql", DICT, 12340, "vmail") == (
        "# Dovecot 2.3 account policy (quota, quota-status, quota_clone, last_login),\n"
        "# written by mailctl setup render. Keep it after any file that sets mail_plugins.\n"
        "mail_plugins = $mail_plugins quota quota_clone\n"
        "protocol imap {\n"
        "  mail_plugins = $mail_plugins imap_quota last_login\n"
        "}\n"
        "protocol pop3 {\n"
        "  mail_plugins = $mail_plugins last_login\n"
        "}\n"
        "plugin {\n"
        "  quota = count:User quota\n"
        "  quota_vsizes = yes\n"
        "  quota_status_success = DUNNO\n"
        "  quota_status_nouser = DUNNO\n"
        "  quota_clone_dict = proxy::mailctl\n"
        "  last_login_dict = proxy::mailctl\n"
        "}\n"
        "dict {\n"
        "  mailctl = mysql:/etc/dovecot/dovecot-dict-sql.conf.ext\n"
        "}\n"
        "# Only the mail processes (the vmail user) may write through the dict.\n"
        "service dict {\n"
        "  unix_listener dict {\n"
        "    mode = 0600\n"
        "    user = vmail\n"
        "  }\n"
        "}\n"
        "service quota-status {\n"
        "  executable = quota-status -p postfix\n"
        "  client_limit = 1\n"
        "  inet_listener {\n"
        "    address = 127.0.0.1\n"
        "    port = 12340\n"
        "  }\n"
        "}\n"
    )


def test_policy_24() -> None:
    assert render_dovecot_policy("2.4", "pgsql", DICT, 10030, "mail") == (
        "# Dovecot 2.4 account policy (quota, quota-status, quota_clone, last_login),\n"
        "# written by mailctl setup render; the SQL dict is in the SQL fragment.\n"
        "mail_plugins {\n"
        "  quota = yes\n"
        "  quota_clone = yes\n"
        "}\n"
        "protocol imap {\n"
        "  mail_plugins {\n"
        "    imap_quota = yes\n"
        "    last_login = yes\n"
        "  }\n"
        "}\n"
        "protocol pop3 {\n"
        "  mail_plugins {\n"
        "    last_login = yes\n"
        "  }\n"
        "}\n"
        'quota "User quota" {\n'
        "  driver = count\n"
        "}\n"
        "quota_status_success = DUNNO\n"
        "quota_status_nouser = DUNNO\n"
        "quota_clone {\n"
        "  dict proxy {\n"
        "    name = mailctl\n"
        "  }\n"
        "}\n"
        "last_login {\n"
        "  dict proxy {\n"
        "    name = mailctl\n"
        "  }\n"
        "}\n"
        "# Only the mail processes (the vmail user) may write through the dict.\n"
        "service dict {\n"
        "  unix_listener dict {\n"
        "    mode = 0600\n"
        "    user = mail\n"
        "  }\n"
        "}\n"
        "service quota-status {\n"
        "  executable = quota-status -p postfix\n"
        "  client_limit = 1\n"
        "  inet_listener quota-status {\n"
        "    listen = 127.0.0.1\n"
        "    port = 10030\n"
        "  }\n"
        "}\n"
    )


def test_main_cf_names_the_quota_check_for_smtpd_recipient_restrictions() -> None:
    lines = postfix_main_cf("mysql", "/etc/postfix", catchall_fix=False, quota_status_port=12340)
    assert lines[-2:] == [
        "# smtpd_recipient_restrictions, after reject_unlisted_recipient and before"
        " reject_unauth_destination (a full mailbox is refused at RCPT):",
        "check_policy_service inet:127.0.0.1:12340",
    ]
    assert quota_policy_line(10030) == "check_policy_service inet:127.0.0.1:10030"
    assert len(postfix_main_cf("mysql", "/etc/postfix", catchall_fix=False)) == 4


def test_password_query_checks_each_service_with_its_own_variable() -> None:
    assert "CASE '%s' WHEN 'imap' THEN COALESCE(up.imap, 1)" in password_query("2.3")
    q24 = password_query("2.4")
    assert "CASE '%{protocol}' WHEN 'imap'" in q24 and "u.email='%{user}'" in q24
    # Postfix's SASL says smtp, Dovecot's own submission service says submission
    assert "WHEN 'smtp' THEN COALESCE(up.smtp, 1) WHEN 'submission' THEN COALESCE(up.smtp, 1)" in (
        q24
    )
    assert "%" not in q24.replace("%{user}", "").replace("%{protocol}", "")


def test_user_query_keeps_the_guides_static_userdb_from_settings() -> None:
    vmail = Vmail(uid=2000, gid=3000, home="/srv/mail/", user="mailer")
    query = user_query("sqlite", "2.3", vmail)
    assert query.startswith("SELECT '/srv/mail/%d/%n' AS home, 2000 AS uid, 3000 AS gid,")
    assert "'*:bytes=' || COALESCE(" in query and "CONCAT" not in query
    assert "CONCAT('*:bytes=', " in user_query("mysql", "2.3", vmail)
    q24 = user_query("pgsql", "2.4", vmail)
    assert "'/srv/mail/%{user | domain}/%{user | username}' AS home" in q24
    assert "END AS quota_storage_size" in q24 and "bytes=" not in q24


@pytest.mark.parametrize(
    "kwargs",
    [
        {"home": "/var/mail/it's"},
        {"home": "/var/mail/%u"},
        {"home": "relative"},
        {"home": "/var/mail vhosts"},
        {"user": "vmail user"},
        {"user": "Root"},
        {"uid": -1},
        {"gid": 2**32},
    ],
)
def test_vmail_values_that_would_need_quoting_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Vmail(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2.5", "mysql", DICT, 12340, "vmail"), "2.3 or 2.4"),
        (("2.3", "mysql", "/etc/dovecot/dict sql.conf", 12340, "vmail"), "unquoted"),
        (("2.3", "mysql", DICT, 0, "vmail"), "port"),
        (("2.4", "mysql", DICT, 70000, "vmail"), "port"),
        (("2.4", "mysql", DICT, 12340, "vmail}"), "system user"),
    ],
)
def test_policy_refuses_what_it_cannot_write(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_dovecot_policy(*args)  # type: ignore[arg-type]


def test_the_dict_socket_goes_to_the_vmail_uids_name() -> None:
    assert vmail_user_name(0) == ("root", [])
    name, notes = vmail_user_name(2**32 - 2)  # no such user here
    assert name == "vmail" and "has no user name here" in notes[0]
