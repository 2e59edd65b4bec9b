"""Configuration: TOML found, read and validated into frozen settings objects.

The schema lives in mailctl.core.settings (re-exported here): each field's
metadata carries its documentation and rules, so validation, `config show`
and the file that `mailctl init` writes all come from one place. Every rule
runs when the config loads, and each error names its key path. Defaults are
the guide's values; with no config file at all mailctl runs in a sandbox
under `$XDG_DATA_HOME/mailctl` (SQLite and a private file tree, no root needed).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from mailctl.core import configcache
from mailctl.core.settings import (  # the schema, re-exported (see __all__)
    FIELDS,
    SECTIONS,
    AuditSettings,
    CommandSettings,
    DatabaseSettings,
    DkimSettings,
    DnsSettings,
    DovecotSettings,
    LockSettings,
    PasswordSettings,
    PostfixSettings,
    ServerSettings,
    Settings,
    SetupSettings,
    TlsSettings,
    VmailSettings,
    check_settings,
)
from mailctl.errors import ConfigError, DatabaseError
from mailctl.model.schemes import READ_SCHEMES, SCHEMES
from mailctl.store import url as db_url
from mailctl.system.files import check_private_file

DEFAULT_CONFIG_PATH = Path("/etc/mailctl/config.toml")

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "READ_SCHEMES",
    "SCHEMES",
    "SECTIONS",
    "AuditSettings",
    "CommandSettings",
    "DatabaseSettings",
    "DkimSettings",
    "DnsSettings",
    "DovecotSettings",
    "LockSettings",
    "PasswordSettings",
    "PostfixSettings",
    "ServerSettings",
    "Settings",
    "SetupSettings",
    "TlsSettings",
    "VmailSettings",
    "announce_sandbox",
    "as_dict",
    "build_settings",
    "check_private_file",
    "database_url",
    "load_settings",
    "render_toml",
    "sandbox_defaults",
    "sandbox_root",
]


# --- sandbox -----------------------------------------------------------------


def sandbox_root(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME/mailctl; a relative XDG_DATA_HOME is ignored, as the XDG spec says."""
    env = os.environ if env is None else env
    base = Path(env.get("XDG_DATA_HOME") or "").expanduser()
    if not base.is_absolute():
        base = Path(env.get("HOME", "~")).expanduser().absolute() / ".local/share"
    return base / "mailctl"


def sandbox_defaults(root: Path) -> dict[str, dict[str, Any]]:
    """Guide defaults moved under `root`, with service reloads and doctor's TLS probe off
    (nothing is running)."""
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
            "probe_host": "",  # a Dovecot or Postfix running here is not the sandbox's
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
            "dovecot_dict_conf": str(root / "dovecot/dovecot-dict-sql.conf.ext"),
            "dovecot_policy_conf": str(root / "dovecot/conf.d/90-mailctl-policy.conf"),
        },
        "commands": {
            "reload_postfix": [],
            "reload_dovecot": [],
            "reload_opendkim": [],
            "reload_opendkim_ed25519": [],
            "check_postfix": [],
            "check_dovecot": [],
            "kick": [],
        },
    }


# --- loading -----------------------------------------------------------------


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
    if _exists(path):
        check_private_file(path, "config file")
        data = _read_toml(path, env)
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
    try:
        settings = build_settings(merged, source=source, sandbox=sandbox)
    except ConfigError as exc:
        if not any(str(exc).startswith(f"At '{key}'") for key in _sandbox_keys(base, merged)):
            raise
        raise ConfigError(f"{exc} (a sandbox path: set XDG_DATA_HOME elsewhere)") from None
    if sandbox and not override_url:
        settings = dataclasses.replace(settings, sandbox_db=True)
    return settings


def _sandbox_keys(base: dict[str, dict[str, Any]], merged: dict[str, Any]) -> list[str]:
    """The keys whose value is still the sandbox's own."""
    return [
        f"{section}.{key}"
        for section, values in base.items()
        for key, value in values.items()
        if isinstance(merged.get(section), dict) and merged[section].get(key) is value
    ]


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError) as exc:  # EACCES on a parent; NUL in the name
        raise ConfigError(f"cannot read config file {path}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _read_toml(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {_reason(exc)}") from None
    try:
        return configcache.parse(str(path), source, env)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path}: not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from None
    except ValueError as exc:  # tomllib.TOMLDecodeError, not imported for a cached parse
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None


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
    settings = Settings(**sections, source=source, sandbox=sandbox)
    check_settings(settings)
    return settings


def _build_section(section: str, cls: type[Any], raw: dict[str, Any]) -> Any:
    known = FIELDS[section]
    for key in raw:
        if key not in known:
            raise ConfigError(f"At '{section}.{key}': unknown key (known: {', '.join(known)})")
    values: dict[str, Any] = {}
    for key, (kind, spec) in known.items():
        if key in raw:
            values[key] = _validate(f"{section}.{key}", raw[key], kind, spec.metadata)
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
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ConfigError(f"database password file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read database password file {path}: {exc.strerror}") from None
    password = lines[0] if lines else ""
    try:
        return db_url.parse_url(url).with_password(password).render(hide_password=False)
    except DatabaseError:
        raise ConfigError("At 'database.url': not a database URL mailctl can read") from None


def as_dict(settings: Settings, *, masked: bool = True) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in SECTIONS:
        section = getattr(settings, name)
        values = dataclasses.asdict(section)
        if masked:
            for f in dataclasses.fields(section):
                if f.metadata.get("secret"):
                    values[f.name] = db_url.masked(values[f.name])
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
        shown = db_url.masked(settings.database.url)
        what = f"using the sandbox's private files in {root} with {shown}"
    print(f"mailctl: no config file; {what}", file=sys.stderr)
