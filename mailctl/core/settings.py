"""The config schema: frozen dataclasses whose field metadata carries each key's
documentation and rules (`check` functions from mailctl.core.checks and
mailctl.core.recordchecks, `choices`, `min`/`max`), plus the rules that tie
two keys together (`check_settings`).

Validation, `config show` and the file `mailctl init` writes all come from
here; mailctl.core.config loads files into these objects.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import field
from typing import Any

from mailctl.core import checks, recordchecks
from mailctl.errors import ConfigError
from mailctl.model.datarecord import datarecord
from mailctl.model.schemes import READ_SCHEMES, SCHEMES
from mailctl.model.servers import DOVECOT_SNI_NAMES, DOVECOT_VERSIONS, POSTFIX_SNI_NAMES

UID_MAX = 2**32 - 2  # (uid_t)-1 means "unchanged" to chown(2)
TTL_MAX = 2**31 - 1  # RFC 2181 section 8


def _opt(default: Any, doc: str, **rules: Any) -> Any:
    """A config field: default value, one-line documentation, validation rules."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"doc": doc, **rules})
    return field(default=default, metadata={"doc": doc, **rules})


@datarecord(frozen=True)
class DatabaseSettings:
    """[database]: where the guide's tables are and how to reach them."""

    url: str = _opt(
        "mysql+pymysql://mailctl@127.0.0.1/mailserver",
        "SQLAlchemy URL of the guide's database (mysql+pymysql://, postgresql+psycopg://,"
        " sqlite:///)",
        check=checks.database_url,
        secret=True,
    )
    password_file: str = _opt(
        "",
        "file holding the database password (mode 0600); empty: password in the URL or none",
        check=checks.optional_path,
    )
    tls: str = _opt(
        "auto",
        "TLS to the database: auto (none on a Unix socket or loopback, verified to any other"
        " host), verify (always), off (never; doctor warns for a remote host)",
        choices=("auto", "verify", "off"),
    )
    tls_ca: str = _opt(
        "",
        "PEM file of the CAs that verify the database server; empty: the system's CAs",
        check=checks.optional_path,
    )
    failover: list[str] = _opt(
        [],
        "other servers of the same database (Galera nodes), host or host:port, tried in"
        " order when url's host does not answer; with failover, reads wait for the"
        " node to have applied what the cluster committed (wsrep_sync_wait)",
        check=checks.failover_hosts,
    )


@datarecord(frozen=True)
class ServerSettings:
    """[server]: the mail server's name, addresses and admin."""

    hostname: str = _opt(
        "mail.example.nl",
        "MAILHOST: the server's name (PTR/HELO, MX target)",
        check=checks.host_name,
    )
    primary_domain: str = _opt(
        "example.nl", "primary mail domain (/etc/mailname)", check=checks.domain
    )
    ipv4: str = _opt("203.0.113.10", "public IPv4 address (A record, SPF, PTR)", check=checks.ipv4)
    ipv6: str = _opt(
        "2001:db8::10", "public IPv6 address; empty if the server has none", check=checks.ipv6
    )
    admin_email: str = _opt(
        "admin@example.nl",
        "where postmaster@ and abuse@ of new domains are delivered",
        check=checks.address,
    )


@datarecord(frozen=True)
class HostSettings:
    """[host]: this mail host's name and what it serves, among several on one database."""

    name: str = _opt(
        "",
        "this host's name in mailctl_hosts (`host list`, `doctor --cluster`); empty: the"
        " machine's hostname",
        check=checks.host_label,
    )
    roles: list[str] = _opt(
        list(checks.HOST_ROLES),
        "what this host serves: mx (inbound SMTP), submission (587/465, DKIM signing), imap"
        " (Dovecot and the maildirs). Maildirs are created and removed only on imap hosts;"
        " Postfix's SNI map and HELO checks are written on mx and submission hosts, Dovecot's"
        " SNI block on imap hosts",
        check=checks.host_roles,
    )
    sync_stale_after: int = _opt(
        300,
        "seconds after its last successful `sync` that `doctor --cluster` reports a host as"
        " not syncing (the mailctl-sync timer runs every minute)",
        min=1,
        max=30 * 24 * 3600,
    )


@datarecord(frozen=True)
class VmailSettings:
    """[vmail]: the maildirs' owner and root."""

    uid: int = _opt(5000, "owner of the maildirs (guide: vmail 5000)", min=0, max=UID_MAX)
    gid: int = _opt(5000, "group of the maildirs (guide: vmail 5000)", min=0, max=UID_MAX)
    home: str = _opt(
        "/var/mail/vhosts",
        "maildir root; a mailbox lives in home/{domain}/{localpart}",
        check=checks.path,
    )
    create_maildirs: bool = _opt(True, "create the maildir on user add")


@datarecord(frozen=True)
class PasswordSettings:
    """[passwords]: the hashes new passwords get."""

    scheme: str = _opt("SHA512-CRYPT", "scheme for new hashes", choices=SCHEMES)
    default_scheme: str = _opt(
        "SHA512-CRYPT", "how to read a stored hash without {SCHEME} prefix", choices=READ_SCHEMES
    )
    bcrypt_cost: int = _opt(10, "BLF-CRYPT cost (Dovecot's default 5 is weak)", min=4, max=31)
    # A bound above: `user add --generate` makes a password this long.
    min_length: int = _opt(12, "shortest password accepted", min=1, max=1024)


@datarecord(frozen=True)
class DkimSettings:
    """[dkim]: DKIM keys and OpenDKIM's tables."""

    selector: str = _opt("mail", "DKIM selector of new keys", check=checks.selector)
    bits: int = _opt(2048, "RSA key size (below 2048 warned)", min=1024, max=8192)
    key_dir: str = _opt(
        "/etc/opendkim/keys",
        "keys live in key_dir/{domain}/{selector}.private",
        check=checks.key_dir,
    )
    key_table: str = _opt("/etc/opendkim/KeyTable", "OpenDKIM KeyTable", check=checks.path)
    signing_table: str = _opt(
        "/etc/opendkim/SigningTable", "OpenDKIM SigningTable", check=checks.path
    )
    owner: str = _opt(
        "opendkim", "owner of key files (applied when running as root)", check=checks.unix_name
    )
    group: str = _opt("opendkim", "group of key files and directories", check=checks.unix_name)
    ed25519: bool = _opt(
        False, "also give each new domain an Ed25519 key (RFC 8463) for a second signer"
    )
    ed25519_selector: str = _opt("ed", "selector of new Ed25519 keys", check=checks.selector)
    ed25519_key_table: str = _opt(
        "/etc/opendkim/KeyTable.ed25519",
        "KeyTable of the Ed25519 signing instance",
        check=checks.path,
    )
    ed25519_signing_table: str = _opt(
        "/etc/opendkim/SigningTable.ed25519",
        "SigningTable of the Ed25519 signing instance",
        check=checks.path,
    )


@datarecord(frozen=True)
class TlsSettings:
    """[tls]: certificates, and where doctor asks the running servers for them."""

    cert: str = _opt(
        "/etc/letsencrypt/live/{domain}/fullchain.pem",
        "certificate chain per domain",
        check=checks.per_domain_file,
    )
    key: str = _opt(
        "/etc/letsencrypt/live/{domain}/privkey.pem",
        "private key per domain",
        check=checks.per_domain_file,
    )
    probe_host: str = _opt(
        "127.0.0.1",
        "where `doctor` asks Postfix and Dovecot which certificate each domain's SNI name"
        " gets; empty: not asked",
        check=checks.optional_host,
    )
    imaps_port: int = _opt(
        993, "Dovecot's IMAPS port (TLS on connect) `doctor` asks; 0: not asked", min=0, max=65535
    )
    submission_port: int = _opt(
        587,
        "Postfix's submission port (STARTTLS, where the SNI map applies) `doctor` asks;"
        " 0: not asked",
        min=0,
        max=65535,
    )


@datarecord(frozen=True)
class PostfixSettings:
    """[postfix]: Postfix's SNI map and HELO checks."""

    sni_map: str = _opt(
        "/etc/postfix/vmail_ssl.map", "tls_server_sni_maps source file", check=checks.path
    )
    sni_names: list[str] = _opt(
        list(POSTFIX_SNI_NAMES),
        "SNI names per domain",
        check=checks.sni_names(parent_patterns=True),
    )
    map_type: str = _opt("hash", "map type for postmap -F", choices=("hash", "lmdb", "cdb"))
    helo_checks: str = _opt(
        "/etc/postfix/helo_checks.pcre", "HELO checks with spoof lines", check=checks.path
    )


@datarecord(frozen=True)
class DovecotSettings:
    """[dovecot]: Dovecot's SNI file and version."""

    sni_conf: str = _opt(
        "/etc/dovecot/conf.d/11-ssl-sni.conf", "file with local_name blocks", check=checks.path
    )
    sni_names: list[str] = _opt(
        list(DOVECOT_SNI_NAMES),
        "SNI names per domain",
        check=checks.sni_names(parent_patterns=False),
    )
    version: str = _opt(
        "auto",
        "syntax of generated config: 2.3, 2.4 or auto",
        choices=("auto", *DOVECOT_VERSIONS),
    )


@datarecord(frozen=True)
class DnsSettings:
    """[dns]: the records mailctl publishes."""

    ttl: int = _opt(3600, "TTL of published records", min=60, max=TTL_MAX)
    spf: str = _opt("v=spf1 mx -all", "SPF record", check=recordchecks.spf)
    dmarc: str = _opt(
        "v=DMARC1; p=reject; sp=reject; np=reject; adkim=s; aspf=s; fo=0;"
        " rua=mailto:dmarc-reports@{domain};",
        "DMARC record (RFC 9989: no pct; np= for subdomains that do not exist)",
        check=recordchecks.dmarc,
    )
    tlsrpt_rua: str = _opt(
        "mailto:tls-report@{domain}", "TLS-RPT report address", check=recordchecks.tlsrpt_rua
    )
    reports_to: str = _opt(
        "",
        "where the report addresses domain add creates (DMARC rua/ruf, TLS-RPT rua) deliver;"
        " empty: server.admin_email",
        check=checks.address,
    )
    mta_sts_mode: str = _opt("enforce", "MTA-STS mode", choices=("enforce", "testing", "none"))
    mta_sts_max_age: int = _opt(604800, "MTA-STS max_age in seconds", min=1, max=31557600)
    dane: bool = _opt(False, "publish TLSA 3 1 1 records (needs DNSSEC)")
    smtps: bool = _opt(True, "port 465 (implicit TLS submission) is offered")


@datarecord(frozen=True)
class WebSettings:
    """[web]: the MTA-STS policy and client configuration files `sync` keeps, the nginx
    server blocks `setup render --web nginx` writes, and where `doctor --web` asks."""

    root: str = _opt(
        "",
        "directory `sync` keeps each domain's MTA-STS policy, autoconfig and autodiscover"
        " files in, one directory per host name (mta-sts.DOMAIN/.well-known/mta-sts.txt);"
        " empty: no web files",
        check=checks.optional_path,
    )
    nginx_conf: str = _opt(
        "/etc/nginx/sites-available/mailctl",
        "the nginx server blocks `setup render --web nginx` writes",
        check=checks.path,
    )
    probe_host: str = _opt(
        "",
        "where `doctor --web` connects to fetch https://mta-sts.DOMAIN/ (the name still goes"
        " in SNI and Host); empty: the address DNS gives for the name",
        check=checks.optional_host,
    )
    ca_file: str = _opt(
        "",
        "PEM file of the CAs that verify the certificates `doctor --web` is served;"
        " empty: the system's CAs",
        check=checks.optional_path,
    )


@datarecord(frozen=True)
class AuditSettings:
    """[audit]: the audit log."""

    log: str = _opt(
        "/var/log/mailctl/audit.log", "JSON lines, 0600; never secrets", check=checks.path
    )


@datarecord(frozen=True)
class LockSettings:
    """[lock]: the lock mutating commands hold."""

    path: str = _opt(
        "/run/lock/mailctl.lock", "lock file that serialises mutating commands", check=checks.path
    )
    timeout: int = _opt(60, "seconds to wait for another mailctl to finish", min=0, max=24 * 3600)


@datarecord(frozen=True)
class SetupSettings:
    """[setup]: SQL accounts and the rendered SQL maps."""

    admin_url: str = _opt(
        "",
        "admin connection for `setup sql`; empty: root@ (MariaDB) or postgres@ (PostgreSQL)"
        " on database.url's server",
        check=checks.optional_database_url,
        secret=True,
    )
    admin_password_file: str = _opt(
        "", "file holding the admin password (mode 0600); optional", check=checks.optional_path
    )
    readonly_user: str = _opt(
        "mailuser", "read-only SQL account of Postfix and Dovecot", check=checks.sql_name
    )
    readonly_password_file: str = _opt(
        "/etc/mailctl/mailuser.password",
        "read-only account's password (0600), written by `setup sql`, read by `setup render`",
        check=checks.path,
    )
    account_host: str = _opt(
        "127.0.0.1",
        "MariaDB host part of both accounts: where Postfix, Dovecot and mailctl connect from",
        check=checks.account_host,
    )
    postfix_map_dir: str = _opt(
        "/etc/postfix",
        "where `setup render` writes the Postfix SQL maps ({type}-virtual-*.cf)",
        check=checks.unquoted_path,
    )
    dovecot_sql_conf: str = _opt(
        "/etc/dovecot/dovecot-sql.conf.ext",
        "where `setup render` writes Dovecot's SQL passdb and userdb",
        check=checks.unquoted_path,
    )
    dovecot_dict_conf: str = _opt(
        "/etc/dovecot/dovecot-dict-sql.conf.ext",
        "where `setup render` writes Dovecot 2.3's SQL dict (quota usage, last login)",
        check=checks.unquoted_path,
    )
    dovecot_policy_conf: str = _opt(
        "/etc/dovecot/conf.d/90-mailctl-policy.conf",
        "where `setup render` writes Dovecot's quota, quota-status, quota_clone and"
        " last_login settings",
        check=checks.unquoted_path,
    )
    quota_status_port: int = _opt(
        12340,
        "loopback port of Dovecot's quota-status policy service (Postfix check_policy_service)",
        min=1,
        max=65535,
    )
    send_as_alias: bool = _opt(
        False,
        "let a login also send as each alias whose only destination is that login"
        " (the rendered sender-login map)",
    )


@datarecord(frozen=True)
class CommandSettings:
    """[commands]: the programs mailctl runs (argv lists, no shell)."""

    postmap: list[str] = _opt(["postmap"], "postmap program", check=checks.argv)
    reload_postfix: list[str] = _opt(
        ["postfix", "reload"], "reload Postfix; [] = off", check=checks.argv
    )
    reload_dovecot: list[str] = _opt(
        ["doveadm", "reload"], "reload Dovecot; [] = off", check=checks.argv
    )
    reload_opendkim: list[str] = _opt(
        ["systemctl", "reload", "opendkim-sign"],
        "reload the OpenDKIM signer; [] = off",
        check=checks.argv,
    )
    reload_opendkim_ed25519: list[str] = _opt(
        ["systemctl", "reload", "opendkim-sign-ed25519"],
        "reload the Ed25519 OpenDKIM signer; [] = off",
        check=checks.argv,
    )
    check_postfix: list[str] = _opt(
        ["postfix", "check"], "validate Postfix config; [] = off", check=checks.argv
    )
    check_dovecot: list[str] = _opt(
        ["doveconf", "-n"], "validate Dovecot config; [] = off", check=checks.argv
    )
    kick: list[str] = _opt(
        ["doveadm", "kick"],
        "end a suspended user's sessions (the login or *@domain is appended); [] = off",
        check=checks.argv,
    )


@datarecord(frozen=True)
class Settings:
    """The whole configuration: one section each."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    host: HostSettings = field(default_factory=HostSettings)
    vmail: VmailSettings = field(default_factory=VmailSettings)
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    dkim: DkimSettings = field(default_factory=DkimSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    postfix: PostfixSettings = field(default_factory=PostfixSettings)
    dovecot: DovecotSettings = field(default_factory=DovecotSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    web: WebSettings = field(default_factory=WebSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    lock: LockSettings = field(default_factory=LockSettings)
    commands: CommandSettings = field(default_factory=CommandSettings)
    setup: SetupSettings = field(default_factory=SetupSettings)
    # Where the settings came from; not config keys.
    source: str = field(default="", metadata={"internal": True})
    sandbox: bool = field(default=False, metadata={"internal": True})
    # The sandbox's own SQLite file: only that database is migrated automatically.
    sandbox_db: bool = field(default=False, metadata={"internal": True})


# Every class above has a docstring: dataclass() would otherwise build one from
# inspect.signature, which formats each annotation (about 15 ms of every start).
# The annotations are strings (`from __future__ import annotations`), read here from
# this table rather than evaluated by typing.get_type_hints: a few milliseconds of
# every command's start. A section class is looked up by its name in this module.
_KEY_TYPES: dict[str, Any] = {"str": str, "int": int, "bool": bool, "list[str]": list[str]}
SECTIONS: dict[str, type[Any]] = {
    f.name: globals()[str(f.type)]
    for f in dataclasses.fields(Settings)
    if not f.metadata.get("internal")
}
# section -> key -> (type, field)
FIELDS: dict[str, dict[str, tuple[Any, dataclasses.Field[Any]]]] = {
    name: {f.name: (_KEY_TYPES[str(f.type)], f) for f in dataclasses.fields(cls)}
    for name, cls in SECTIONS.items()
}


# --- rules across keys --------------------------------------------------------------


def check_settings(settings: Settings) -> None:
    """The rules that involve two keys; each error names the key to change."""
    server, dkim = settings.server, settings.dkim
    if not server.ipv4 and not server.ipv6:
        _fail("server.ipv4", "is empty and so is server.ipv6: the server needs an address")
    if dkim.ed25519 and dkim.ed25519_selector.lower() == dkim.selector.lower():
        _fail("dkim.ed25519_selector", "must differ from dkim.selector (one key file each)")
    if settings.tls.cert == settings.tls.key:
        _fail("tls.key", "must differ from tls.cert")
    scheme = settings.passwords.scheme
    if scheme == "BLF-CRYPT" and settings.passwords.min_length > 72:
        _fail("passwords.min_length", "exceeds 72, the most BLF-CRYPT (passwords.scheme) takes")
    managed = [
        ("dkim.key_table", dkim.key_table),
        ("dkim.signing_table", dkim.signing_table),
        *(
            [
                ("dkim.ed25519_key_table", dkim.ed25519_key_table),
                ("dkim.ed25519_signing_table", dkim.ed25519_signing_table),
            ]
            if dkim.ed25519
            else []
        ),
        ("postfix.sni_map", settings.postfix.sni_map),
        ("postfix.helo_checks", settings.postfix.helo_checks),
        ("dovecot.sni_conf", settings.dovecot.sni_conf),
    ]
    secrets = [
        ("database.password_file", settings.database.password_file),
        ("setup.readonly_password_file", settings.setup.readonly_password_file),
    ]
    for group in (managed, secrets):
        seen: dict[str, str] = {}
        for key, path in group:
            if not path:
                continue
            other = seen.setdefault(os.path.normpath(path), key)
            if other != key:
                _fail(key, f"is the same file as {other}; each needs its own")


def _fail(path: str, problem: str) -> None:
    raise ConfigError(f"At '{path}': {problem}")
