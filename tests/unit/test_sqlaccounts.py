"""`setup sql`'s statements (golden, passwords masked) and how it reads its config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailctl.core.config import build_settings
from mailctl.errors import ConfigError, MailctlError, UsageError
from mailctl.setup.accounts import admin_url, generate, read_account_password, target_from
from mailctl.setup.sqlscript import MASK, Account, Target, mariadb_login, postgres_login, script


def settings(url: str, **setup: str) -> object:
    return build_settings(
        {
            "database": {"url": url, "password_file": "/etc/mailctl/db.password"},
            "setup": setup,
        }
    )


MARIA = "mysql+pymysql://mailctl@127.0.0.1/mailserver"
PG = "postgresql+psycopg://mailctl@127.0.0.1:5432/mailserver"


def test_mariadb_script_golden() -> None:
    target = target_from(settings(MARIA))  # type: ignore[arg-type]
    assert script(target) == (
        "-- mailctl setup sql: mailserver on MariaDB/MySQL; passwords masked: mailctl generates\n"
        "-- them into /etc/mailctl/db.password and /etc/mailctl/mailuser.password.\n"
        "CREATE DATABASE IF NOT EXISTS `mailserver`"
        " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
        "-- mailctl account\n"
        "CREATE USER IF NOT EXISTS 'mailctl'@'127.0.0.1' IDENTIFIED BY '********';\n"
        "ALTER USER 'mailctl'@'127.0.0.1' IDENTIFIED BY '********';\n"
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'mailctl'@'127.0.0.1';\n"
        "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES, DROP"
        " ON `mailserver`.* TO 'mailctl'@'127.0.0.1';\n"
        "-- read-only account (the table grants need the schema:\n"
        "-- mailctl db upgrade runs as the mailctl account in between)\n"
        "CREATE USER IF NOT EXISTS 'mailuser'@'127.0.0.1' IDENTIFIED BY '********';\n"
        "ALTER USER 'mailuser'@'127.0.0.1' IDENTIFIED BY '********';\n"
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'mailuser'@'127.0.0.1';\n"
        "GRANT SELECT ON `mailserver`.`virtual_domains` TO 'mailuser'@'127.0.0.1';\n"
        "GRANT SELECT ON `mailserver`.`virtual_users` TO 'mailuser'@'127.0.0.1';\n"
        "GRANT SELECT ON `mailserver`.`virtual_aliases` TO 'mailuser'@'127.0.0.1';\n"
        # the policy the rendered queries join: read only
        "GRANT SELECT ON `mailserver`.`mailctl_user_policy` TO 'mailuser'@'127.0.0.1';\n"
        "GRANT SELECT ON `mailserver`.`mailctl_domain_policy` TO 'mailuser'@'127.0.0.1';\n"
        "GRANT SELECT ON `mailserver`.`mailctl_sender_grants` TO 'mailuser'@'127.0.0.1';\n"
        # what Dovecot's quota_clone and last_login write: no DELETE
        "GRANT SELECT, INSERT, UPDATE ON `mailserver`.`mailctl_quota_usage`"
        " TO 'mailuser'@'127.0.0.1';\n"
        "GRANT SELECT, INSERT, UPDATE ON `mailserver`.`mailctl_last_login`"
        " TO 'mailuser'@'127.0.0.1';\n"
    )


def test_postgres_script_golden() -> None:
    target = target_from(settings(PG, readonly_user="postfixdovecot"))  # type: ignore[arg-type]
    lines = script(target).splitlines()
    assert lines[2:] == [
        "-- only if the database does not exist yet (run from another database):",
        "CREATE DATABASE \"mailserver\" ENCODING 'UTF8' TEMPLATE template0;",
        '\\connect "mailserver"',
        "-- mailctl account",
        'DO $$BEGIN CREATE ROLE "mailctl" NOLOGIN;'
        " EXCEPTION WHEN duplicate_object THEN NULL; END$$;",
        "ALTER ROLE \"mailctl\" WITH LOGIN PASSWORD '********';",
        'GRANT CONNECT ON DATABASE "mailserver" TO "mailctl";',
        'GRANT USAGE, CREATE ON SCHEMA public TO "mailctl";',
        "DO $$DECLARE t record; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE"
        " schemaname = 'public' AND (tablename IN ('virtual_domains', 'virtual_users',"
        " 'virtual_aliases') OR tablename LIKE 'mailctl\\_%') LOOP EXECUTE"
        " format('ALTER TABLE public.%I OWNER TO %I', t.tablename, 'mailctl');"
        " END LOOP; END$$;",
        "-- read-only account (the table grants need the schema:",
        "-- mailctl db upgrade runs as the mailctl account in between)",
        'DO $$BEGIN CREATE ROLE "postfixdovecot" NOLOGIN;'
        " EXCEPTION WHEN duplicate_object THEN NULL; END$$;",
        "ALTER ROLE \"postfixdovecot\" WITH LOGIN PASSWORD '********';",
        'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "postfixdovecot";',
        'GRANT CONNECT ON DATABASE "mailserver" TO "postfixdovecot";',
        'GRANT USAGE ON SCHEMA public TO "postfixdovecot";',
        "GRANT SELECT ON public.virtual_domains, public.virtual_users, public.virtual_aliases,"
        " public.mailctl_user_policy, public.mailctl_domain_policy, public.mailctl_sender_grants"
        ' TO "postfixdovecot";',
        "GRANT SELECT, INSERT, UPDATE ON public.mailctl_quota_usage, public.mailctl_last_login"
        ' TO "postfixdovecot";',
    ]


def test_the_read_only_accounts_tables_are_the_schemas() -> None:
    """A renamed policy table fails here, not as a GRANT on a table that does not exist."""
    from mailctl.core.tables import Base
    from mailctl.setup.sqlscript import DOVECOT_WRITES, READONLY_SELECT

    assert set(READONLY_SELECT) | set(DOVECOT_WRITES) <= set(Base.metadata.tables)


def test_a_schema_before_the_policy_gets_the_guide_grants_only() -> None:
    from mailctl.setup.sqlscript import mariadb_readonly_grants, readonly_privileges

    target = target_from(settings(MARIA))  # type: ignore[arg-type]
    present = {"virtual_domains", "virtual_users", "virtual_aliases", "mailctl_dkim_keys"}
    grants = [g.sql for g in mariadb_readonly_grants(target, present)]
    assert len(grants) == 4 and not any("mailctl_" in g for g in grants)
    assert readonly_privileges(present) == (
        "SELECT on virtual_domains, virtual_users, virtual_aliases"
    )


def test_statements_carry_the_secret_but_show_a_mask() -> None:
    account = Account("mailctl", "mailctl", "127.0.0.1", Path("/x"))
    for statement in [*mariadb_login(account, "Secret-1"), *postgres_login(account, "Secret-1")]:
        assert "Secret-1" not in statement.shown
    assert any("Secret-1" in s.sql for s in mariadb_login(account, "Secret-1"))
    assert MASK in mariadb_login(account, "Secret-1")[0].shown


@pytest.mark.parametrize(
    ("url", "extra", "message"),
    [
        ("sqlite:////var/lib/m.sqlite3", {}, "SQLite has no SQL accounts"),
        ("mysql+pymysql://mailctl:pw@127.0.0.1/mailserver", {}, "holds a password"),
        ("mysql+pymysql://127.0.0.1/mailserver", {}, "user in database.url"),
        ("mysql+pymysql://mailctl@127.0.0.1/mail-server", {}, "database in database.url"),
        (MARIA, {"readonly_user": "mailctl"}, "must differ"),
    ],
)
def test_target_refuses(url: str, extra: dict[str, str], message: str) -> None:
    with pytest.raises(MailctlError, match=message):
        target_from(settings(url, **extra))  # type: ignore[arg-type]


def test_target_needs_a_password_file() -> None:
    with pytest.raises(ConfigError, match="database.password_file"):
        target_from(build_settings({"database": {"url": MARIA}}))


def test_names_are_checked_before_they_reach_ddl() -> None:
    with pytest.raises(ConfigError):
        Account("x", "mail'user", "127.0.0.1", Path("/x"))
    with pytest.raises(ConfigError):
        Account("x", "mailuser", "host'", Path("/x"))
    good = Account("x", "mailuser", "%", Path("/x"))
    with pytest.raises(ConfigError):
        Target("mysql", "db`; DROP", good, good)


def test_admin_url_defaults_to_root_or_postgres_on_the_same_server() -> None:
    maria = admin_url(settings(MARIA))  # type: ignore[arg-type]
    assert (maria.username, maria.host, maria.password) == ("root", "127.0.0.1", None)
    pg = admin_url(settings(PG))  # type: ignore[arg-type]
    assert (pg.username, pg.port) == ("postgres", 5432)


def test_admin_url_on_argv_must_not_hold_a_password() -> None:
    with pytest.raises(UsageError, match="must not contain a password"):
        admin_url(settings(MARIA), override="mysql+pymysql://root:pw@127.0.0.1/")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="same kind of server"):
        admin_url(settings(MARIA), override="postgresql+psycopg://postgres@127.0.0.1/")  # type: ignore[arg-type]


def test_admin_password_from_a_private_file(tmp_path: Path) -> None:
    secret = tmp_path / "admin.pw"
    secret.write_text("t0p s3cret with space\n")
    secret.chmod(0o600)
    url = admin_url(settings(MARIA), password_file=str(secret))  # type: ignore[arg-type]
    assert url.password == "t0p s3cret with space"
    os.chmod(secret, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        admin_url(settings(MARIA), password_file=str(secret))  # type: ignore[arg-type]
    # from the config: a URL holding the password is allowed there (the file is 0600)
    configured = settings(MARIA, admin_url="mysql+pymysql://admin:pw@db.example/")
    assert admin_url(configured).password == "pw"  # type: ignore[arg-type]


def test_account_passwords_must_be_writable_unquoted(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("has a space\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="setup sql --rotate"):
        read_account_password(path, "read-only password file")
    path.write_text(generate() + "\n")
    assert len(read_account_password(path, "read-only password file")) == 43
