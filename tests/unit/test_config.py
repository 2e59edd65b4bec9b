"""Config loading: guide defaults, sandbox, validation with key paths, file modes."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mailctl.core.config import (
    SECTIONS,
    as_dict,
    build_settings,
    database_url,
    load_settings,
    render_toml,
)
from mailctl.errors import ConfigError
from mailctl.store.url import masked


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_defaults_are_the_guides_values() -> None:
    s = build_settings({})
    assert s.database.url == "mysql+pymysql://mailctl@127.0.0.1/mailserver"
    assert (s.vmail.uid, s.vmail.gid, s.vmail.home) == (5000, 5000, "/var/mail/vhosts")
    assert s.passwords.scheme == "SHA512-CRYPT"
    assert s.dkim.key_table == "/etc/opendkim/KeyTable"
    assert s.postfix.sni_map == "/etc/postfix/vmail_ssl.map"
    assert s.dovecot.sni_conf == "/etc/dovecot/conf.d/11-ssl-sni.conf"
    assert s.commands.reload_postfix == ["postfix", "reload"]


def test_no_config_file_means_sandbox_under_xdg_data_home(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    s = load_settings(None, None, env)
    assert s.sandbox
    root = tmp_path / "data" / "mailctl"
    assert s.database.url == f"sqlite:///{root / 'mailctl.sqlite3'}"
    assert s.dkim.key_dir.startswith(str(root))
    assert s.commands.reload_postfix == []


def test_db_override_wins_over_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[database]\nurl = "sqlite:///a.db"\n')
    s = load_settings(str(cfg), "sqlite:///b.db", {})
    assert s.database.url == "sqlite:///b.db"
    s = load_settings(None, None, {"MAILCTL_CONFIG": str(cfg), "MAILCTL_DB_URL": "sqlite:///c.db"})
    assert s.database.url == "sqlite:///c.db"
    assert not s.sandbox


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[dkim]\nbits = 512\n", "At 'dkim.bits': must be an integer from 1024 to 8192"),
        ('[dkim]\nbits = "many"\n', "At 'dkim.bits': must be an integer"),
        ('[passwords]\nscheme = "md5"\n', "At 'passwords.scheme': must be one of"),
        ("[vmail]\ncreate_maildirs = 1\n", "At 'vmail.create_maildirs': must be true or false"),
        ('[postfix]\nsni_names = "smtp"\n', "At 'postfix.sni_names': must be a list of strings"),
        ("[dkim]\nbitz = 2048\n", "At 'dkim.bitz': unknown key"),
        ("[dkm]\nbits = 2048\n", "At 'dkm': unknown section"),
        ("dkim = 3\n", "At 'dkim': must be a table"),
        ('[database]\nurl = "localhost"\n', "At 'database.url': must be a database URL"),
    ],
)
def test_errors_name_the_key_path(tmp_path: Path, toml: str, message: str) -> None:
    cfg = write(tmp_path / "c.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_settings(str(cfg), None, {})
    assert message in str(info.value)


def test_scheme_names_are_case_insensitive(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[passwords]\nscheme = "blf-crypt"\n')
    assert load_settings(str(cfg), None, {}).passwords.scheme == "BLF-CRYPT"


def test_invalid_toml_is_one_clear_error(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[dkim\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(str(cfg), None, {})


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "nope.toml"), None, {})


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_config_readable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    cfg = write(tmp_path / "c.toml", "", mode)
    with pytest.raises(ConfigError) as info:
        load_settings(str(cfg), None, {})
    assert f"chmod 600 {cfg}" in str(info.value)


def test_password_file_goes_into_the_url_and_must_be_private(tmp_path: Path) -> None:
    secret = write(tmp_path / "db.password", "s3cr3t/p@ss\n")
    cfg = write(
        tmp_path / "c.toml",
        f'[database]\nurl = "mysql+pymysql://mailctl@127.0.0.1/mailserver"\n'
        f'password_file = "{secret}"\n',
    )
    s = load_settings(str(cfg), None, {})
    url = database_url(s)
    from sqlalchemy.engine import make_url

    assert make_url(url).password == "s3cr3t/p@ss"
    os.chmod(secret, 0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        database_url(s)


def test_mask_url_hides_the_password() -> None:
    assert masked("mysql+pymysql://u:pw@h/db") == "mysql+pymysql://u:***@h/db"
    assert masked("mysql+pymysql://u@h/db") == "mysql+pymysql://u@h/db"
    assert masked("sqlite:////x/y.db") == "sqlite:////x/y.db"


def test_rendered_config_is_complete_and_loads_back(tmp_path: Path) -> None:
    original = build_settings({"server": {"hostname": "mx.example.org"}, "dkim": {"bits": 3072}})
    text = render_toml(original, masked=False, commented=True)
    assert "# RSA key size" in text
    parsed = tomllib.loads(text)
    assert parsed["server"]["hostname"] == "mx.example.org"
    again = build_settings(parsed)
    assert again == original


def test_mask_url_never_shows_a_password_sqlalchemy_would_use() -> None:
    # A "/" in the password once left the whole URL unmasked.
    assert masked("mysql+pymysql://u:se/cret@h/db") == "mysql+pymysql://u:***@h/db"
    assert "s3cr3t" not in masked("mysql+pymysql://u:s3cr3t@h:notaport/db")


# ------------------------------------------------------------------ every key's rule

# A value of the right TOML type but wrong content, for every key of every section.
WRONG_VALUES: dict[str, Any] = {
    "database.url": "mysql+pymysql://mailctl@127.0.0.1:port/mailserver",
    "database.password_file": "db.password",
    "database.tls": "required",
    "database.tls_ca": "ca.pem",
    "database.failover": ["db2.example.net", "db3.example.net:port"],
    "server.hostname": "mail example.nl",
    "server.primary_domain": "example",
    "server.ipv4": "203.0.113.300",
    "server.ipv6": "2001:db8::g",
    "server.admin_email": "admin",
    "host.name": "mx 2.example.nl",
    "host.roles": ["mx", "pop3"],
    "host.sync_stale_after": 0,
    "vmail.uid": 2**32 - 1,
    "vmail.gid": -1,
    "vmail.home": "var/mail/vhosts",
    "passwords.scheme": "MD5-CRYPT",
    "passwords.default_scheme": "ROT13",
    "passwords.bcrypt_cost": 3,
    "passwords.min_length": 0,
    "dkim.selector": "mail_key",
    "dkim.bits": 512,
    "dkim.key_dir": "/etc/opendkim/my keys",
    "dkim.key_table": "KeyTable",
    "dkim.signing_table": "/etc/opendkim/Signing\nTable",
    "dkim.owner": "open dkim",
    "dkim.group": "-opendkim",
    "dkim.ed25519_selector": "ed/25519",
    "dkim.ed25519_key_table": "opendkim/KeyTable.ed25519",
    "dkim.ed25519_signing_table": "/etc/opendkim/SigningTable.ed25519\x00",
    "tls.cert": "/etc/letsencrypt/live/mail.example.nl/fullchain.pem",
    "tls.key": "/etc/letsencrypt/live/{domain}/priv key.pem",
    "tls.probe_host": "127.0.0.1:993",
    "tls.imaps_port": 65536,
    "tls.submission_port": -1,
    "postfix.sni_map": "vmail_ssl.map",
    "postfix.sni_names": ["smtp.example.nl"],
    "postfix.map_type": "btree",
    "postfix.helo_checks": "",
    "dovecot.sni_conf": "conf.d/11-ssl-sni.conf",
    "dovecot.sni_names": ["*.{domain}"],
    "dovecot.version": "2.2",
    "dns.ttl": 2**31,
    "dns.spf": "v=spf1 mx -al",
    "dns.dmarc": "v=DMARC1; p=rejct",
    "dns.tlsrpt_rua": "tls-report@{domain}",
    "dns.reports_to": "reports at example.org",
    "dns.mta_sts_mode": "on",
    "dns.mta_sts_max_age": 0,
    "web.root": "www/mailctl",
    "web.nginx_conf": "",
    "web.probe_host": "127.0.0.1:443",
    "web.ca_file": "ca.pem",
    "audit.log": "audit.log",
    "lock.path": "mailctl.lock",
    "lock.timeout": -1,
    "commands.postmap": [""],
    "commands.reload_postfix": ["", "reload"],
    "commands.reload_dovecot": [" ", "reload"],
    "commands.reload_opendkim": ["systemctl", "reload\x00"],
    "commands.reload_opendkim_ed25519": [""],
    "commands.check_postfix": ["", "check"],
    "commands.check_dovecot": ["", "-n"],
    "commands.kick": ["doveadm", 7],
    "setup.admin_url": "root@localhost",
    "setup.admin_password_file": "admin.password",
    "setup.readonly_user": "mail-user",
    "setup.readonly_password_file": "mailuser.password",
    "setup.account_host": "127.0.0.1 localhost",
    "setup.postfix_map_dir": "/etc/postfix maps",
    "setup.dovecot_sql_conf": "/etc/dovecot/dovecot-sql.conf.ext;",
    "setup.dovecot_dict_conf": "dovecot-dict-sql.conf.ext",
    "setup.dovecot_policy_conf": "/etc/dovecot/conf.d/90 policy.conf",
    "setup.quota_status_port": 0,
}
# true and false are both valid for these switches: no wrong value of the right type.
NO_WRONG_VALUE = [
    "vmail.create_maildirs",
    "dkim.ed25519",
    "dns.dane",
    "dns.smtps",
    "setup.send_as_alias",
]


def all_keys() -> list[str]:
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def test_every_key_has_a_wrong_value_or_is_listed_as_having_none() -> None:
    assert set(WRONG_VALUES).isdisjoint(NO_WRONG_VALUE)
    assert sorted([*WRONG_VALUES, *NO_WRONG_VALUE]) == sorted(all_keys())
    defaults = as_dict(build_settings({}), masked=False)
    for key in NO_WRONG_VALUE:
        section, name = key.split(".")
        assert isinstance(defaults[section][name], bool), key


@pytest.mark.parametrize(("key", "value"), list(WRONG_VALUES.items()), ids=list(WRONG_VALUES))
def test_a_wrong_value_of_the_right_type_is_refused_naming_its_key(key: str, value: Any) -> None:
    section, name = key.split(".")
    default = getattr(getattr(build_settings({}), section), name)
    assert type(value) is type(default), "the wrong value must have the key's TOML type"
    with pytest.raises(ConfigError) as info:
        build_settings({section: {name: value}})
    assert str(info.value).startswith(f"At '{key}': ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"server": {"ipv4": "", "ipv6": ""}}, "At 'server.ipv4': is empty and so is server.ipv6"),
        ({"dkim": {"ed25519": True, "ed25519_selector": "MAIL"}}, "At 'dkim.ed25519_selector'"),
        ({"tls": {"key": "/c/{domain}.pem", "cert": "/c/{domain}.pem"}}, "At 'tls.key'"),
        (
            {"passwords": {"scheme": "BLF-CRYPT", "min_length": 73}},
            "At 'passwords.min_length': exceeds 72",
        ),
        (
            {"postfix": {"helo_checks": "/etc/opendkim/KeyTable"}},
            "At 'postfix.helo_checks': is the same file as dkim.key_table",
        ),
        (
            {"dkim": {"ed25519": True, "ed25519_key_table": "/etc/opendkim//KeyTable"}},
            "At 'dkim.ed25519_key_table': is the same file as dkim.key_table",
        ),
        (
            {
                "database": {"password_file": "/etc/mailctl/p"},
                "setup": {"readonly_password_file": "/etc/mailctl/p"},
            },
            "At 'setup.readonly_password_file'",
        ),
    ],
)
def test_rules_across_keys_name_the_key_to_change(
    sections: dict[str, dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        build_settings(sections)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("server.ipv4", ""),  # an IPv6-only server
        ("server.ipv6", ""),
        ("server.admin_email", ""),  # no role aliases
        ("server.hostname", "MX1.Example.NL"),
        ("dkim.selector", "s" * 54),
        ("dkim.ed25519_selector", "mail"),  # equal selectors are fine while ed25519 is off
        ("vmail.uid", 0),
        ("vmail.gid", 2**32 - 2),
        ("dns.ttl", 2**31 - 1),
        ("dns.spf", ""),
        ("dns.spf", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mx.{domain}/24//64 ~all"),
        ("dns.spf", "v=spf1 include:_spf.%{d} redirect=_spf.example.org"),
        ("dns.dmarc", ""),
        ("dns.dmarc", "v=DMARC1; p=none; rua=mailto:a@{domain}!10m,mailto:b@example.org"),
        ("dns.tlsrpt_rua", ""),
        ("dns.tlsrpt_rua", "https://tlsrpt.example.org/v1,mailto:tls@{domain}"),
        ("postfix.sni_names", [".{domain}", "{domain}"]),  # Postfix: any subdomain
        ("postfix.sni_names", []),
        ("commands.postmap", []),
        ("database.url", "postgresql+psycopg://mailctl@[::1]:5432/mail?sslmode=require"),
        ("database.url", "sqlite://"),
        ("setup.admin_url", ""),
    ],
)
def test_valid_edge_values_load(key: str, value: Any) -> None:
    section, name = key.split(".")
    assert getattr(getattr(build_settings({section: {name: value}}), section), name) == value


def test_every_default_and_the_sandbox_pass_every_rule(tmp_path: Path) -> None:
    text = render_toml(build_settings({}), masked=False, commented=False)
    assert build_settings(tomllib.loads(text)) == build_settings({})
    sandbox = load_settings(None, None, {"XDG_DATA_HOME": str(tmp_path), "HOME": str(tmp_path)})
    text = render_toml(sandbox, masked=False, commented=False)
    build_settings(tomllib.loads(text))


def test_the_key_types_table_agrees_with_the_annotations() -> None:
    """The schema reads its annotations from a table instead of evaluating them
    (typing.get_type_hints) on every start; the table must say what they say."""
    from typing import get_type_hints

    import mailctl.core.settings as schema

    assert not hasattr(schema, "get_type_hints")
    sections = get_type_hints(schema.Settings)
    for name, cls in schema.SECTIONS.items():
        assert cls is sections[name]
        hints = get_type_hints(cls)
        assert {key: kind for key, (kind, _f) in schema.FIELDS[name].items()} == hints


def test_config_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b'[server]\nhostname = "mail.\xff.nl"\n')
    cfg.chmod(0o600)
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(str(cfg), None, {})


def test_a_relative_xdg_data_home_is_ignored(tmp_path: Path) -> None:
    s = load_settings(None, None, {"XDG_DATA_HOME": "data", "HOME": str(tmp_path)})
    assert s.audit.log == str(tmp_path / ".local/share/mailctl/audit.log")


def test_a_sandbox_path_the_rules_refuse_says_where_it_comes_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, None, {"XDG_DATA_HOME": str(tmp_path / "my data")})
    assert str(info.value).startswith("At 'dkim.key_dir': must not contain blanks")
    assert str(info.value).endswith("(a sandbox path: set XDG_DATA_HOME elsewhere)")
