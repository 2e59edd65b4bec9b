"""The read-only SQL glue of guide §8.1 (Postfix maps) and §6 (Dovecot passdb), with
the account policy of migration 0003 enforced by the queries themselves.

Postfix, one file per map, `mysql:` (mysql_table(5)), `pgsql:` (pgsql_table(5))
or `sqlite:` (sqlite_table(5)):

    user = mailuser                         dbpath = /var/lib/mailctl/mail.sqlite3
    password = …                            query = SELECT 1 FROM virtual_domains …
    hosts = 127.0.0.1
    dbname = mailserver
    query = SELECT 1 FROM virtual_domains WHERE name='%s'

Dovecot 2.3 (`dovecot-sql.conf.ext`, read via `passdb { driver = sql args = … }` and
`userdb { driver = sql args = … }`): `driver`, `connect`, `default_pass_scheme`,
`password_query`, `user_query`, `iterate_query`. Dovecot 2.4 (a fragment to
`!include`): `sql_driver`, a `mysql HOST { … }` / `pgsql HOST { parameters { … } }`
block or `sqlite_path`, `passdb sql { … }`, `userdb sql { … }` and the SQL dict
(`dict_server`). Dovecot 2.3's SQL dict is a file of its own
(`dovecot-dict-sql.conf.ext`, `map { … }` blocks); the quota, quota-status,
quota_clone and last_login settings go into a conf.d fragment (render_dovecot_policy).

What the queries enforce (a user or domain with no policy row has the defaults, so
the guide's own rows behave as under the guide):

- passdb: a suspended user or domain, or a service switched off for the user
  (imap, pop3; smtp covers Postfix's SASL and Dovecot's submission) finds no row,
  so the login fails. LMTP delivery asks the userdb only and is not affected.
- userdb: home, uid and gid as the guide's static userdb gives them, and the quota
  (the user's quota_bytes, else the domain's default_quota_bytes; 0 or none: no limit).
- Postfix: a mailbox with receive off, or in a domain with receive off, is not in
  virtual_mailbox_maps (RCPT gets 550); a domain with receive off has no aliases;
  the sender-login map adds send-as grants (an address, or @domain) to the owner.

Every query is plain SQL that MariaDB, PostgreSQL and SQLite all run (LEFT JOIN,
COALESCE, CASE, UNION); the one difference, string concatenation, is branched by
backend. The values written here are checked to need no quoting in either
program's config syntax, so a file can never be bent into saying something else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailctl.model.servers import DOVECOT_VERSIONS, POSTFIX_MAP_TYPES

BACKENDS = tuple(sorted(set(POSTFIX_MAP_TYPES.values())))

# Guide §8.1, in the order main.cf/master.cf use them; the stem follows the
# guide's file names (mysql-virtual-mailbox-domains.cf, mysql-sender-login-maps.cf).
MAILBOX_DOMAINS = "virtual-mailbox-domains"
MAILBOX_MAPS = "virtual-mailbox-maps"
ALIAS_MAPS = "virtual-alias-maps"
SENDER_LOGIN_MAPS = "sender-login-maps"
EMAIL2EMAIL = "virtual-email2email"

# The policy tables a user row joins (no row: NULL, which COALESCE turns into the default).
_JOIN_USER_POLICY = (
    "FROM virtual_users u"
    " LEFT JOIN mailctl_user_policy up ON up.user_id = u.id"
    " LEFT JOIN mailctl_domain_policy dp ON dp.domain_id = u.domain_id"
)
_RECEIVES = "COALESCE(up.receive, 1) = 1 AND COALESCE(dp.receive, 1) = 1"

QUERIES: dict[str, str] = {
    MAILBOX_DOMAINS: "SELECT 1 FROM virtual_domains WHERE name='%s'",
    MAILBOX_MAPS: f"SELECT 1 {_JOIN_USER_POLICY} WHERE u.email='%s' AND {_RECEIVES}",
    ALIAS_MAPS: (
        "SELECT a.destination FROM virtual_aliases a"
        " LEFT JOIN mailctl_domain_policy dp ON dp.domain_id = a.domain_id"
        " WHERE a.source='%s' AND COALESCE(dp.receive, 1) = 1"
    ),
    # Postfix looks up user@domain, then @domain; %d is the domain of either.
    # Several rows come back as one comma-separated list of logins.
    SENDER_LOGIN_MAPS: (
        "SELECT email FROM virtual_users WHERE email='%s'"
        " UNION SELECT u.email FROM mailctl_sender_grants g"
        " JOIN virtual_users u ON u.id = g.user_id"
        " WHERE g.address='%s' OR g.address='@%d'"
    ),
    # (setup.send_as_alias adds SENDER_VIA_ALIAS below)
    # The catch-all fix: a mailbox maps to itself, so a lookup of its full
    # address ends there before Postfix falls back to the `@domain` catch-all.
    # A mailbox that does not receive is left out, or it would be accepted here.
    EMAIL2EMAIL: f"SELECT u.email {_JOIN_USER_POLICY} WHERE u.email='%s' AND {_RECEIVES}",
}

# setup.send_as_alias: a login may also send as an alias whose only destination is
# that login (a destination list holds a comma, so it cannot equal an email).
SENDER_VIA_ALIAS = (
    " UNION SELECT u.email FROM virtual_aliases a"
    " JOIN virtual_users u ON u.email = a.destination WHERE a.source='%s'"
)


def map_query(stem: str, *, send_as_alias: bool = False) -> str:
    """The query of one Postfix map file."""
    query = QUERIES[stem]
    return query + SENDER_VIA_ALIAS if send_as_alias and stem == SENDER_LOGIN_MAPS else query


# Dovecot's variables in its two syntaxes: the login, the service (imap, pop3,
# smtp for Postfix's SASL, submission, ...), and the login's two halves.
_VARS = {
    "2.3": {"user": "%u", "service": "%s", "domain": "%d", "local": "%n"},
    "2.4": {
        "user": "%{user}",
        "service": "%{protocol}",
        "domain": "%{user | domain}",
        "local": "%{user | username}",
    },
}

# Which column of mailctl_user_policy switches a service off.
SERVICE_FLAGS = (("imap", "imap"), ("pop3", "pop3"), ("smtp", "smtp"), ("submission", "smtp"))

# Dovecot's dict keys (quota_clone: priv/quota/*, last_login: shared/last-login/<user>),
# the table and column each is written to.
DICT_NAME = "mailctl"
QUOTA_USAGE_TABLE = "mailctl_quota_usage"
LAST_LOGIN_TABLE = "mailctl_last_login"
QUOTA_ROOT = "User quota"

# What may be written unquoted into both Postfix's and Dovecot's config syntax:
# no blanks, quotes, `#`, `$`, `%`, braces or backslashes.
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_HOST = re.compile(r"[A-Za-z0-9._:-]+")
_PATH = re.compile(r"/[A-Za-z0-9._~+/=-]*")
PASSWORD_CHARS = re.compile(r"[A-Za-z0-9._~+/=-]+")
_SYSTEM_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")


@dataclass(frozen=True)
class SqlSource:
    """How Postfix and Dovecot reach the database, as the read-only account."""

    backend: str  # mysql, pgsql or sqlite (Postfix's table type names)
    dbname: str = ""  # sqlite: the database file
    host: str = "127.0.0.1"  # a name, an IP address, or an absolute UNIX socket path
    port: int | None = None
    user: str = ""
    password: str = ""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown SQL map type {self.backend!r} (use {', '.join(BACKENDS)})")
        if self.backend == "sqlite":
            if not _PATH.fullmatch(self.dbname):
                raise ValueError(f"SQLite database must be an absolute path: {self.dbname!r}")
            return
        for what, value, pattern in (
            ("database name", self.dbname, _NAME),
            ("host", self.host, _PATH if self.socket else _HOST),
            ("user", self.user, _NAME),
        ):
            if not pattern.fullmatch(value):
                raise ValueError(
                    f"{what} {value!r} cannot be written unquoted into Postfix and Dovecot"
                    " configuration"
                )
        if not PASSWORD_CHARS.fullmatch(self.password):
            raise ValueError(
                "the read-only password cannot be written unquoted into Postfix and Dovecot"
                " configuration (use letters, digits and ._~+/=-)"
            )
        if self.port is not None and not 0 < self.port < 65536:
            raise ValueError(f"port out of range: {self.port}")

    @property
    def socket(self) -> bool:
        return self.host.startswith("/")


@dataclass(frozen=True)
class Vmail:
    """The mail store as the guide's static userdb gives it: uid, gid, home root; and
    the system user the mail processes run as (it may use Dovecot's dict socket)."""

    uid: int = 5000
    gid: int = 5000
    home: str = "/var/mail/vhosts"  # a mailbox's home is home/DOMAIN/LOCALPART
    user: str = "vmail"

    def __post_init__(self) -> None:
        if not _PATH.fullmatch(self.home):
            raise ValueError(
                f"vmail.home {self.home!r} cannot be written unquoted into Dovecot's SQL"
                " (use letters, digits and ._~+/=-)"
            )
        if not _SYSTEM_USER.fullmatch(self.user):
            raise ValueError(f"not a system user name: {self.user!r}")
        for what, value in (("uid", self.uid), ("gid", self.gid)):
            if not 0 <= value < 2**32:
                raise ValueError(f"vmail {what} out of range: {value}")


def map_file_name(backend: str, stem: str) -> str:
    """`mysql-virtual-mailbox-domains.cf`, `pgsql-sender-login-maps.cf`, …"""
    if stem not in QUERIES:
        raise ValueError(f"unknown Postfix map {stem!r}")
    return f"{backend}-{stem}.cf"


def map_stems(*, catchall_fix: bool) -> tuple[str, ...]:
    stems = (MAILBOX_DOMAINS, MAILBOX_MAPS, ALIAS_MAPS, SENDER_LOGIN_MAPS)
    return (*stems, EMAIL2EMAIL) if catchall_fix else stems


def _postfix_hosts(source: SqlSource) -> str:
    if source.socket:
        return f"unix:{source.host}"
    return source.host if source.port is None else f"{source.host}:{source.port}"


def render_postfix_map(source: SqlSource, stem: str, *, send_as_alias: bool = False) -> str:
    """One Postfix SQL map file (mysql_table(5), pgsql_table(5) or sqlite_table(5))."""
    query = map_query(stem, send_as_alias=send_as_alias)
    header = f"# {map_file_name(source.backend, stem)}: written by mailctl setup render\n"
    if source.backend == "sqlite":
        return f"{header}dbpath = {source.dbname}\nquery = {query}\n"
    return (
        f"{header}user = {source.user}\n"
        f"password = {source.password}\n"
        f"hosts = {_postfix_hosts(source)}\n"
        f"dbname = {source.dbname}\n"
        f"query = {query}\n"
    )


# --- Dovecot's queries ------------------------------------------------------------


def _check_version(version: str) -> None:
    if version not in DOVECOT_VERSIONS:
        raise ValueError(f"unsupported Dovecot config version {version!r} (use 2.3 or 2.4)")


def password_query(version: str) -> str:
    """The passdb query: the guide's, refusing suspended users and domains and the
    services switched off for the user (no row: the login fails)."""
    _check_version(version)
    v = _VARS[version]
    services = " ".join(
        f"WHEN '{service}' THEN COALESCE(up.{flag}, 1)" for service, flag in SERVICE_FLAGS
    )
    return (
        f"SELECT u.email AS user, u.password {_JOIN_USER_POLICY}"
        f" WHERE u.email='{v['user']}'"
        " AND COALESCE(up.suspended, 0) = 0 AND COALESCE(dp.suspended, 0) = 0"
        f" AND CASE '{v['service']}' {services} ELSE 1 END = 1"
    )


def _concat(backend: str, *parts: str) -> str:
    # MariaDB reads || as OR (unless PIPES_AS_CONCAT); SQLite before 3.44 has no CONCAT().
    return f"CONCAT({', '.join(parts)})" if backend == "mysql" else " || ".join(parts)


def user_query(backend: str, version: str, vmail: Vmail) -> str:
    """The userdb query: the guide's static userdb (uid, gid, home) from SQL, plus the
    quota: 2.3 a quota_rule (`*:bytes=N`), 2.4 quota_storage_size (bytes); NULL (no
    field, so no limit) when the effective quota is 0 or unset."""
    _check_version(version)
    if backend not in BACKENDS:
        raise ValueError(f"unknown SQL backend {backend!r}")
    v = _VARS[version]
    quota = "COALESCE(up.quota_bytes, dp.default_quota_bytes)"
    if version == "2.3":
        value, field = _concat(backend, "'*:bytes='", quota), "quota_rule"
    else:
        value, field = quota, "quota_storage_size"
    return (
        f"SELECT '{vmail.home.rstrip('/')}/{v['domain']}/{v['local']}' AS home,"
        f" {vmail.uid} AS uid, {vmail.gid} AS gid,"
        f" CASE WHEN COALESCE(up.quota_bytes, dp.default_quota_bytes, 0) > 0"
        f" THEN {value} END AS {field}"
        f" {_JOIN_USER_POLICY} WHERE u.email='{v['user']}'"
    )


ITERATE_QUERY = "SELECT email AS user FROM virtual_users"


def render_dovecot_sql(
    source: SqlSource, version: str, default_scheme: str, vmail: Vmail | None = None
) -> str:
    """Dovecot's SQL passdb and userdb (2.3: the `args` file of both; 2.4: a fragment
    to `!include`, which also holds the SQL dict server quota_clone and last_login use)."""
    _check_version(version)
    if not re.fullmatch(r"[A-Z0-9-]+", default_scheme):
        raise ValueError(f"not a Dovecot password scheme: {default_scheme!r}")
    vmail = vmail or Vmail()
    users = user_query(source.backend, version, vmail)
    if version == "2.3":
        return "\n".join(
            [
                "# Dovecot 2.3 SQL passdb and userdb (guide section 6, with mailctl's account",
                "# policy), written by mailctl setup render. Use it with:",
                "#   passdb { driver = sql  args = <this file> }",
                "#   userdb { driver = sql  args = <this file> }  (instead of the static userdb)",
                f"driver = {source.backend}",
                f"connect = {_connect_23(source)}",
                f"default_pass_scheme = {default_scheme}",
                f"password_query = {password_query(version)}",
                f"user_query = {users}",
                f"iterate_query = {ITERATE_QUERY}",
                "",
            ]
        )
    return "\n".join(
        [
            "# Dovecot 2.4 SQL passdb, userdb and dict (guide section 6, with mailctl's account",
            "# policy), written by mailctl setup render. Use it with: !include <this file>",
            "# (instead of a passdb with args = … and the static userdb)",
            f"sql_driver = {source.backend}",
            *_connect_24(source),
            "passdb sql {",
            f"  default_password_scheme = {default_scheme}",
            f"  query = {password_query(version)}",
            "}",
            "userdb sql {",
            f"  query = {users}",
            f"  iterate_query = {ITERATE_QUERY}",
            "}",
            *_dict_server_24(source),
            "",
        ]
    )


def _connect_23(source: SqlSource) -> str:
    if source.backend == "sqlite":
        return source.dbname
    parts = [f"host={source.host}"]
    if source.port is not None:
        parts.append(f"port={source.port}")
    parts += [f"dbname={source.dbname}", f"user={source.user}", f"password={source.password}"]
    return " ".join(parts)


def _connect_24(source: SqlSource) -> list[str]:
    if source.backend == "sqlite":
        return [f"sqlite_path = {source.dbname}", "sqlite_readonly = yes"]
    fields = [
        *([f"port = {source.port}"] if source.port is not None else []),
        f"user = {source.user}",
        f"password = {source.password}",
        f"dbname = {source.dbname}",
    ]
    if source.backend == "mysql":
        return [f"mysql {source.host} {{", *(f"  {f}" for f in fields), "}"]
    # pgsql: connection settings are libpq parameters
    return [
        f"pgsql {source.host} {{",
        "  parameters {",
        *(f"    {f}" for f in fields),
        "  }",
        "}",
    ]


# --- Dovecot's SQL dict: quota_clone and last_login write through it ---------------

# (dict key, table, value column, username column or None for a `shared/` key)
_DICT_MAPS = (
    ("priv/quota/storage", QUOTA_USAGE_TABLE, "bytes", "username"),
    ("priv/quota/messages", QUOTA_USAGE_TABLE, "messages", "username"),
    ("shared/last-login/$user", LAST_LOGIN_TABLE, "last_login", None),
)


def render_dovecot_dict_23(source: SqlSource) -> str:
    """Dovecot 2.3's dict-sql file (`dict { mailctl = DRIVER:<this file> }`): the
    usage quota_clone copies and the time last_login stamps, one row per login."""
    lines = [
        "# Dovecot 2.3 SQL dict for quota_clone and last_login, written by mailctl setup",
        f"# render. Use it with: dict {{ {DICT_NAME} = {source.backend}:<this file> }}",
        f"connect = {_connect_23(source)}",
    ]
    for pattern, table, value, username in _DICT_MAPS:
        lines += ["map {", f"  pattern = {pattern}", f"  table = {table}"]
        if username:
            lines.append(f"  username_field = {username}")
        lines += [f"  value_field = {value}", "  value_type = uint"]
        if not username:
            lines += ["  fields {", "    username = $user", "  }"]
        lines.append("}")
    return "\n".join([*lines, ""])


def _dict_server_24(source: SqlSource) -> list[str]:
    lines = ["dict_server {", f"  dict {DICT_NAME} {{", "    driver = sql"]
    if source.backend == "sqlite":
        lines.append("    sqlite_readonly = no")  # the passdb's file, written here
    for pattern, table, value, username in _DICT_MAPS:
        lines += [f"    dict_map {pattern} {{", f"      sql_table = {table}"]
        if username:
            lines.append(f"      username_field = {username}")
        lines += [f"      value_field {value} {{", "        type = uint", "      }"]
        if not username:
            lines += ["      key_field username {", "        value = $user", "      }"]
        lines.append("    }")
    return [*lines, "  }", "}"]


# --- Dovecot's quota, quota-status, quota_clone and last_login -----------------------


def render_dovecot_policy(
    version: str, backend: str, dict_conf: str, port: int, vmail_user: str
) -> str:
    """The conf.d fragment that enforces quotas and records usage and logins: the
    quota plugin (count driver; limits from the userdb), the quota-status policy
    service Postfix asks at RCPT (loopback only), quota_clone and last_login
    writing through the SQL dict, whose socket only the mail processes' user opens."""
    _check_version(version)
    if not _PATH.fullmatch(dict_conf):
        raise ValueError(f"dict config path cannot be written unquoted: {dict_conf!r}")
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    if not _SYSTEM_USER.fullmatch(vmail_user):
        raise ValueError(f"not a system user name: {vmail_user!r}")
    dict_socket = [
        "# Only the mail processes (the vmail user) may write through the dict.",
        "service dict {",
        "  unix_listener dict {",
        "    mode = 0600",
        f"    user = {vmail_user}",
        "  }",
        "}",
    ]
    # Postfix's check_policy_service: DUNNO lets the other restrictions decide, and
    # an alias or a foreign recipient (no such user here) is not refused.
    if version == "2.3":
        lines = [
            "# Dovecot 2.3 account policy (quota, quota-status, quota_clone, last_login),",
            "# written by mailctl setup render. Keep it after any file that sets mail_plugins.",
            "mail_plugins = $mail_plugins quota quota_clone",
            "protocol imap {",
            "  mail_plugins = $mail_plugins imap_quota last_login",
            "}",
            "protocol pop3 {",
            "  mail_plugins = $mail_plugins last_login",
            "}",
            "plugin {",
            f"  quota = count:{QUOTA_ROOT}",
            "  quota_vsizes = yes",
            "  quota_status_success = DUNNO",
            "  quota_status_nouser = DUNNO",
            f"  quota_clone_dict = proxy::{DICT_NAME}",
            f"  last_login_dict = proxy::{DICT_NAME}",
            "}",
            "dict {",
            f"  {DICT_NAME} = {backend}:{dict_conf}",
            "}",
            *dict_socket,
            "service quota-status {",
            "  executable = quota-status -p postfix",
            "  client_limit = 1",
            "  inet_listener {",
            "    address = 127.0.0.1",
            f"    port = {port}",
            "  }",
            "}",
        ]
    else:
        proxy = ["  dict proxy {", f"    name = {DICT_NAME}", "  }"]
        lines = [
            "# Dovecot 2.4 account policy (quota, quota-status, quota_clone, last_login),",
            "# written by mailctl setup render; the SQL dict is in the SQL fragment.",
            "mail_plugins {",
            "  quota = yes",
            "  quota_clone = yes",
            "}",
            "protocol imap {",
            "  mail_plugins {",
            "    imap_quota = yes",
            "    last_login = yes",
            "  }",
            "}",
            "protocol pop3 {",
            "  mail_plugins {",
            "    last_login = yes",
            "  }",
            "}",
            f'quota "{QUOTA_ROOT}" {{',
            "  driver = count",
            "}",
            "quota_status_success = DUNNO",
            "quota_status_nouser = DUNNO",
            "quota_clone {",
            *proxy,
            "}",
            "last_login {",
            *proxy,
            "}",
            *dict_socket,
            "service quota-status {",
            "  executable = quota-status -p postfix",
            "  client_limit = 1",
            "  inet_listener quota-status {",
            "    listen = 127.0.0.1",
            f"    port = {port}",
            "  }",
            "}",
        ]
    return "\n".join([*lines, ""])


# --- what the administrator adds by hand -----------------------------------------------


def quota_policy_line(port: int) -> str:
    """The restriction that asks Dovecot's quota-status service at RCPT time."""
    return f"check_policy_service inet:127.0.0.1:{port}"


def postfix_main_cf(
    backend: str, map_dir: str, *, catchall_fix: bool, quota_status_port: int | None = None
) -> list[str]:
    """The main.cf/master.cf settings that use the rendered maps (printed for the admin)."""

    def ref(stem: str) -> str:
        return f"{backend}:{map_dir.rstrip('/')}/{map_file_name(backend, stem)}"

    # Alias map first: an address that is both a mailbox and an alias source
    # (forward with a local copy) must get its alias row; the email2email map
    # only has to beat the `@domain` catch-all, and every full-address lookup
    # (in all maps) comes before any `@domain` lookup.
    aliases: Sequence[str] = (
        (ref(ALIAS_MAPS), ref(EMAIL2EMAIL)) if catchall_fix else (ref(ALIAS_MAPS),)
    )
    lines = [
        f"virtual_mailbox_domains = {ref(MAILBOX_DOMAINS)}",
        f"virtual_mailbox_maps = {ref(MAILBOX_MAPS)}",
        f"virtual_alias_maps = {', '.join(aliases)}",
        f"# master.cf, submission/smtps: -o smtpd_sender_login_maps={ref(SENDER_LOGIN_MAPS)}",
    ]
    if quota_status_port is not None:
        lines += [
            "# smtpd_recipient_restrictions, after reject_unlisted_recipient and before"
            " reject_unauth_destination (a full mailbox is refused at RCPT):",
            quota_policy_line(quota_status_port),
        ]
    return lines
