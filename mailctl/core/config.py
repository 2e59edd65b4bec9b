"""Configuration: TOML validated into frozen settings objects.

The schema is the dataclasses below; each field's metadata carries its
documentation and constraints, so validation, `config show` and the file
that `mailctl init` writes all come from one place. Defaults are the guide's
values; with no config file at all mailctl runs in a sandbox under
`$XDG_DATA_HOME/mailctl` (SQLite and a private file tree, no root needed).
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from mailctl.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/mailctl/config.toml")
from mailctl.model.schemes import READ_SCHEMES, SCHEMES  # noqa: E402,F401 - re-exported


def _opt(default: Any, doc: str, **rules: Any) -> Any:
    """A config field: default value, one-line documentation, validation rules."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"doc": doc, **rules})
    return field(default=default, metadata={"doc": doc, **rules})


def _url_check(value: str) -> str | None:
    if "://" not in value:
        return "must be a database URL such as mysql+pymysql://user@host/db or sqlite:///path"
    return None


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = _opt(
        "mysql+pymysql://mailctl@127.0.0.1/mailserver",
        "SQLAlchemy URL of the guide's database (mysql+pymysql://, postgresql+psycopg://,"
        " sqlite:///)",
        check=_url_check,
        secret=True,
    )
    password_file: str = _opt(
        "", "file holding the database password (mode 0600); empty: password in the URL or none"
    )


@dataclass(frozen=True)
class ServerSettings:
    hostname: str = _opt("mail.example.nl", "MAILHOST: the server's name (PTR/HELO, MX target)")
    primary_domain: str = _opt("example.nl", "primary mail domain (/etc/mailname)")
    ipv4: str = _opt("203.0.113.10", "public IPv4 address (A record, SPF, PTR)")
    ipv6: str = _opt("2001:db8::10", "public IPv6 address; empty if the server has none")
    admin_email: str = _opt(
        "admin@example.nl", "where postmaster@ and abuse@ of new domains are delivered"
    )


@dataclass(frozen=True)
class VmailSettings:
    uid: int = _opt(5000, "owner of the maildirs (guide: vmail 5000)", min=0)
    gid: int = _opt(5000, "group of the maildirs (guide: vmail 5000)", min=0)
    home: str = _opt(
        "/var/mail/vhosts", "maildir root; a mailbox lives in home/{domain}/{localpart}"
    )
    create_maildirs: bool = _opt(True, "create the maildir on user add")


@dataclass(frozen=True)
class PasswordSettings:
    scheme: str = _opt("SHA512-CRYPT", "scheme for new hashes", choices=SCHEMES)
    default_scheme: str = _opt(
        "SHA512-CRYPT", "how to read a stored hash without {SCHEME} prefix", choices=READ_SCHEMES
    )
    bcrypt_cost: int = _opt(10, "BLF-CRYPT cost (Dovecot's default 5 is weak)", min=4, max=31)
    min_length: int = _opt(12, "shortest password accepted", min=1)


@dataclass(frozen=True)
class DkimSettings:
    selector: str = _opt("mail", "DKIM selector of new keys")
    bits: int = _opt(2048, "RSA key size (below 2048 warned)", min=1024, max=8192)
    key_dir: str = _opt("/etc/opendkim/keys", "keys live in key_dir/{domain}/{selector}.private")
    key_table: str = _opt("/etc/opendkim/KeyTable", "OpenDKIM KeyTable")
    signing_table: str = _opt("/etc/opendkim/SigningTable", "OpenDKIM SigningTable")
    owner: str = _opt("opendkim", "owner of key files (applied when running as root)")
    group: str = _opt("opendkim", "group of key files and directories")
    ed25519: bool = _opt(
        False, "also give each new domain an Ed25519 key (RFC 8463) for a second signer"
    )
    ed25519_selector: str = _opt("ed", "selector of new Ed25519 keys")
    ed25519_key_table: str = _opt(
        "/etc/opendkim/KeyTable.ed25519", "KeyTable of the Ed25519 signing instance"
    )
    ed25519_signing_table: str = _opt(
        "/etc/opendkim/SigningTable.ed25519", "SigningTable of the Ed25519 signing instance"
    )


@dataclass(frozen=True)
class TlsSettings:
    cert: str = _opt("/etc/letsencrypt/live/{domain}/fullchain.pem", "certificate chain per domain")
    key: str = _opt("/etc/letsencrypt/live/{domain}/privkey.pem", "private key per domain")


@dataclass(frozen=True)
class PostfixSettings:
    sni_map: str = _opt("/etc/postfix/vmail_ssl.map", "tls_server_sni_maps source file")
    sni_names: list[str] = _opt(["smtp.{domain}", "{domain}"], "SNI names per domain")
    map_type: str = _opt("hash", "map type for postmap -F", choices=("hash", "lmdb", "cdb"))
    helo_checks: str = _opt("/etc/postfix/helo_checks.pcre", "HELO checks with spoof lines")


@dataclass(frozen=True)
class DovecotSettings:
    sni_conf: str = _opt("/etc/dovecot/conf.d/11-ssl-sni.conf", "file with local_name blocks")
    sni_names: list[str] = _opt(["imap.{domain}"], "SNI names per domain")
    version: str = _opt(
        "auto", "syntax of generated config: 2.3, 2.4 or auto", choices=("auto", "2.3", "2.4")
    )


@dataclass(frozen=True)
class DnsSettings:
    ttl: int = _opt(3600, "TTL of published records", min=60)
    spf: str = _opt("v=spf1 mx -all", "SPF record")
    dmarc: str = _opt(
        "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc-reports@{domain}; adkim=s; aspf=s;"
        " pct=100; fo=0;",
        "DMARC record",
    )
    tlsrpt_rua: str = _opt("mailto:tls-report@{domain}", "TLS-RPT report address")
    mta_sts_mode: str = _opt("enforce", "MTA-STS mode", choices=("enforce", "testing", "none"))
    mta_sts_max_age: int = _opt(604800, "MTA-STS max_age in seconds", min=1, max=31557600)
    dane: bool = _opt(False, "publish TLSA 3 1 1 records (needs DNSSEC)")
    smtps: bool = _opt(True, "port 465 (implicit TLS submission) is offered")


@dataclass(frozen=True)
class AuditSettings:
    log: str = _opt("/var/log/mailctl/audit.log", "JSON lines, 0600; never secrets")


@dataclass(frozen=True)
class LockSettings:
    path: str = _opt("/run/lock/mailctl.lock", "lock file that serialises mutating commands")
    timeout: int = _opt(60, "seconds to wait for another mailctl to finish", min=0)


def _sql_name_check(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", value):
        return "must be 1-32 letters, digits or _ (an SQL account name)"
    return None


def _account_host_check(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9.:%_-]{1,255}", value):
        return "must be a host name, an IP address or a MariaDB host pattern such as %"
    return None


@dataclass(frozen=True)
class SetupSettings:
    admin_url: str = _opt(
        "",
        "admin connection for `setup sql`; empty: root@ (MariaDB) or postgres@ (PostgreSQL)"
        " on database.url's server",
        check=lambda v: _url_check(v) if v else None,
        secret=True,
    )
    admin_password_file: str = _opt("", "file holding the admin password (mode 0600); optional")
    readonly_user: str = _opt(
        "mailuser", "read-only SQL account of Postfix and Dovecot", check=_sql_name_check
    )
    readonly_password_file: str = _opt(
        "/etc/mailctl/mailuser.password",
        "read-only account's password (0600), written by `setup sql`, read by `setup render`",
    )
    account_host: str = _opt(
        "127.0.0.1",
        "MariaDB host part of both accounts: where Postfix, Dovecot and mailctl connect from",
        check=_account_host_check,
    )
    postfix_map_dir: str = _opt(
        "/etc/postfix", "where `setup render` writes the Postfix SQL maps ({type}-virtual-*.cf)"
    )
    dovecot_sql_conf: str = _opt(
        "/etc/dovecot/dovecot-sql.conf.ext", "where `setup render` writes Dovecot's SQL passdb"
    )


@dataclass(frozen=True)
class CommandSettings:
    postmap: list[str] = _opt(["postmap"], "postmap program")
    reload_postfix: list[str] = _opt(["postfix", "reload"], "reload Postfix; [] = off")
    reload_dovecot: list[str] = _opt(["doveadm", "reload"], "reload Dovecot; [] = off")
    reload_opendkim: list[str] = _opt(
        ["systemctl", "reload", "opendkim-sign"], "reload the OpenDKIM signer; [] = off"
    )
    reload_opendkim_ed25519: list[str] = _opt(
        ["systemctl", "reload", "opendkim-sign-ed25519"],
        "reload the Ed25519 OpenDKIM signer; [] = off",
    )
    check_postfix: list[str] = _opt(["postfix", "check"], "validate Postfix config; [] = off")
    check_dovecot: list[str] = _opt(["doveconf", "-n"], "validate Dovecot config; [] = off")


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    vmail: VmailSettings = field(default_factory=VmailSettings)
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    dkim: DkimSettings = field(default_factory=DkimSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    postfix: PostfixSettings = field(default_factory=PostfixSettings)
    dovecot: DovecotSettings = field(default_factory=DovecotSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    lock: LockSettings = field(default_factory=LockSettings)
    commands: CommandSettings = field(default_factory=CommandSettings)
    setup: SetupSettings = field(default_factory=SetupSettings)
    # Where the settings came from; not config keys.
    source: str = field(default="", metadata={"internal": True})
    sandbox: bool = field(default=False, metadata={"internal": True})
    # The sandbox's own SQLite file: only that database is migrated automatically.
    sandbox_db: bool = field(default=False, metadata={"internal": True})


_SETTINGS_TYPES = get_type_hints(Settings)  # once: each call evaluates every annotation
SECTIONS: dict[str, type[Any]] = {
    f.name: f.type if isinstance(f.type, type) else _SETTINGS_TYPES[f.name]
    for f in dataclasses.fields(Settings)
    if not f.metadata.get("internal")
}


# --- sandbox -----------------------------------------------------------------


def sandbox_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/share")
    return Path(base).expanduser() / "mailctl"


def sandbox_defaults(root: Path) -> dict[str, dict[str, Any]]:
    """Guide defaults moved under `root`, with service reloads off (nothing is running)."""
    return {
        "database": {"url": f"sqlite:///{root / 'mailctl.sqlite3'}"},
        "vmail": {"home": str(root / "vmail"), "uid": os.getuid(), "gid": os.getgid()},
        "dkim": {
            "key_dir": str(root / "opendkim/keys"),
            "key_table": str(root / "opendkim/KeyTable"),
            "signing_table": str(root / "opendkim/SigningTable"),
            "ed25519_key_table": str(root / "opendkim/KeyTable.ed25519"),
            "ed25519_signing_table": str(root / "opendkim/SigningTable.ed25519"),
        },
        "tls": {
            "cert": str(root / "letsencrypt/live/{domain}/fullchain.pem"),
            "key": str(root / "letsencrypt/live/{domain}/privkey.pem"),
        },
        "postfix": {
            "sni_map": str(root / "postfix/vmail_ssl.map"),
            "helo_checks": str(root / "postfix/helo_checks.pcre"),
        },
        "dovecot": {"sni_conf": str(root / "dovecot/conf.d/11-ssl-sni.conf")},
        "audit": {"log": str(root / "audit.log")},
        "lock": {"path": str(root / "mailctl.lock")},
        "setup": {
            "readonly_password_file": str(root / "mailuser.password"),
            "postfix_map_dir": str(root / "postfix"),
            "dovecot_sql_conf": str(root / "dovecot/dovecot-sql.conf.ext"),
        },
        "commands": {
            "reload_postfix": [],
            "reload_dovecot": [],
            "reload_opendkim": [],
            "reload_opendkim_ed25519": [],
            "check_postfix": [],
            "check_dovecot": [],
        },
    }


# --- loading -----------------------------------------------------------------


def check_private_file(path: Path, what: str) -> None:
    """Refuse a secret-bearing file that group or others can read or write."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o});"
            f" fix with: chmod 600 {path}"
        )


def load_settings(
    config_path: str | None = None,
    db_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Find, read and validate the configuration.

    Order: `--config`, then `MAILCTL_CONFIG`, then /etc/mailctl/config.toml;
    none of them existing means the sandbox. `--db`/`MAILCTL_DB_URL` override
    `database.url`.
    """
    env = os.environ if env is None else env
    explicit = config_path or env.get("MAILCTL_CONFIG")
    path = Path(explicit) if explicit else DEFAULT_CONFIG_PATH
    data: dict[str, Any]
    sandbox = False
    if path.exists():
        import tomllib  # here, not at the top: --help and completion need no TOML parser

        check_private_file(path, "config file")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        source = str(path)
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")
    else:
        sandbox = True
        data = {}
        source = ""
    base: dict[str, dict[str, Any]] = sandbox_defaults(sandbox_root(env)) if sandbox else {}
    merged = _merge(base, data)
    override_url = db_url or env.get("MAILCTL_DB_URL")
    if override_url and isinstance(merged.setdefault("database", {}), dict):
        merged["database"]["url"] = override_url
    settings = build_settings(merged, source=source, sandbox=sandbox)
    if sandbox and not override_url:
        settings = dataclasses.replace(settings, sandbox_db=True)
    return settings


def _merge(base: dict[str, dict[str, Any]], data: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: dict(v) for k, v in base.items()}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def build_settings(data: Mapping[str, Any], *, source: str = "", sandbox: bool = False) -> Settings:
    """Validate a parsed TOML document; every error names its key path."""
    sections: dict[str, Any] = {}
    for name in data:
        if name not in SECTIONS:
            raise ConfigError(f"At '{name}': unknown section (known: {', '.join(SECTIONS)})")
    for name, cls in SECTIONS.items():
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"At '{name}': must be a table ([{name}])")
        sections[name] = _build_section(name, cls, raw)
    return Settings(**sections, source=source, sandbox=sandbox)


def _build_section(section: str, cls: type[Any], raw: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"At '{section}.{key}': unknown key (known: {', '.join(known)})")
    values: dict[str, Any] = {}
    for key, spec in known.items():
        if key not in raw:
            continue
        values[key] = _validate(f"{section}.{key}", raw[key], hints[key], spec.metadata)
    return cls(**values)


def _validate(path: str, value: Any, kind: Any, rules: Mapping[str, Any]) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"At '{path}': must be true or false")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"At '{path}': must be an integer{_range_text(rules)}")
        if ("min" in rules and value < rules["min"]) or ("max" in rules and value > rules["max"]):
            raise ConfigError(f"At '{path}': must be an integer{_range_text(rules)}")
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"At '{path}': must be a string")
        if "choices" in rules:
            choices = rules["choices"]
            canonical = {c.upper(): c for c in choices}
            if value.upper() not in canonical:
                raise ConfigError(f"At '{path}': must be one of {', '.join(choices)}")
            value = canonical[value.upper()]
    elif get_origin(kind) is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"At '{path}': must be a list of strings")
        value = list(value)
    elif get_origin(kind) in (Union, types.UnionType):  # pragma: no cover - no such keys yet
        return _validate(path, value, get_args(kind)[0], rules)
    check: Callable[[Any], str | None] | None = rules.get("check")
    if check is not None and (problem := check(value)):
        raise ConfigError(f"At '{path}': {problem}")
    return value


def _range_text(rules: Mapping[str, Any]) -> str:
    if "min" in rules and "max" in rules:
        return f" from {rules['min']} to {rules['max']}"
    if "min" in rules:
        return f" >= {rules['min']}"
    return ""


# --- secrets and presentation -------------------------------------------------


def database_url(settings: Settings) -> str:
    """The URL to connect with: `database.url` plus the password file, if any."""
    url = settings.database.url
    if not settings.database.password_file:
        return url
    path = Path(settings.database.password_file)
    check_private_file(path, "database password file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read database password file {path}: {exc.strerror}") from None
    password = lines[0] if lines else ""
    from sqlalchemy.engine import make_url  # lazy: keeps --help fast

    return make_url(url).set(password=password).render_as_string(hide_password=False)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    creds, _, host = rest.partition("@")
    user, colon, _ = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def as_dict(settings: Settings, *, masked: bool = True) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in SECTIONS:
        section = getattr(settings, name)
        values = dataclasses.asdict(section)
        if masked:
            for f in dataclasses.fields(section):
                if f.metadata.get("secret"):
                    values[f.name] = mask_url(values[f.name])
        out[name] = values
    return out


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def render_toml(settings: Settings, *, masked: bool, commented: bool) -> str:
    """The settings as a complete TOML document (what `init` writes, `config show` prints)."""
    values = as_dict(settings, masked=masked)
    lines: list[str] = []
    if commented:
        lines += [
            "# mailctl configuration. Every key shows its effective value; defaults follow",
            "# the mail server guide. Paths may use {domain}; commands.* are argv lists",
            "# (no shell), and an empty list switches that step off. Keep this file 0600.",
            "",
        ]
    for name, cls in SECTIONS.items():
        lines.append(f"[{name}]")
        for f in dataclasses.fields(cls):
            if commented:
                lines.append(f"# {f.metadata['doc']}")
            lines.append(f"{f.name} = {_toml_value(values[name][f.name])}")
        lines.append("")
    return "\n".join(lines)


def announce_sandbox(settings: Settings, quiet: bool) -> None:
    if not settings.sandbox or quiet:
        return
    root = sandbox_root()
    if settings.sandbox_db:
        what = f"using the sandbox in {root} (SQLite, private files)"
    else:
        what = f"using the sandbox's private files in {root} with {mask_url(settings.database.url)}"
    print(f"mailctl: no config file; {what}", file=sys.stderr)
