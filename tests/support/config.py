"""The one mailctl config writer of the suite, built on mailctl's own schema.

`write_config()` lays every managed file flat under one root, merges the
caller's sections over that, validates the result with `build_settings()` (a
test config with a typo fails here, not later as a puzzling command error)
and writes it with `render_toml()`, the writer `mailctl init` uses. Every
`commands.*` argv is checked by `system_config_problem()`: no test config may
point a Postfix or Dovecot program at the system's configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mailctl.core.config import sandbox_defaults
from support.mailconfig import MailConfig, system_config_problem

Sections = Mapping[str, Mapping[str, Any]]

# Reloads, checks and kicks are off unless a test turns them on with private argv:
# the sandbox's list of them (one place to add a new command), and postmap too.
COMMANDS_OFF: dict[str, list[str]] = {
    **sandbox_defaults(Path("/"))["commands"],
    "postmap": [],
}


def layout(root: Path) -> dict[str, dict[str, Any]]:
    """Every path mailctl reads or writes, flat under `root`."""
    return {
        "server": {"admin_email": "admin@example.nl"},
        "passwords": {"min_length": 12, "bcrypt_cost": 5},
        "vmail": {"home": str(root / "vmail")},
        "dkim": {
            "bits": 1024,  # fast keys; 2048 is the product default
            "key_dir": str(root / "keys"),
            "key_table": str(root / "KeyTable"),
            "signing_table": str(root / "SigningTable"),
            "ed25519_key_table": str(root / "KeyTable.ed25519"),
            "ed25519_signing_table": str(root / "SigningTable.ed25519"),
        },
        "postfix": {
            "sni_map": str(root / "vmail_ssl.map"),
            "helo_checks": str(root / "helo_checks.pcre"),
        },
        "dovecot": {"sni_conf": str(root / "11-ssl-sni.conf")},
        # web.root stays empty (no web files) unless a test sets it; never /etc/nginx.
        "web": {"nginx_conf": str(root / "nginx" / "mailctl")},
        "tls": {
            "cert": str(root / "certs/{domain}/fullchain.pem"),
            "key": str(root / "certs/{domain}/privkey.pem"),
            # Like the reloads: doctor asks no server unless a test points it at its own.
            "probe_host": "",
        },
        "audit": {"log": str(root / "audit.log")},
        "lock": {"path": str(root / "mailctl.lock")},
        "setup": {
            "readonly_password_file": str(root / "mailuser.password"),
            "postfix_map_dir": str(root / "postfix"),
            "dovecot_sql_conf": str(root / "dovecot" / "dovecot-sql.conf.ext"),
            "dovecot_dict_conf": str(root / "dovecot" / "dovecot-dict-sql.conf.ext"),
            "dovecot_policy_conf": str(root / "dovecot" / "conf.d" / "90-mailctl-policy.conf"),
        },
        "commands": dict(COMMANDS_OFF),
    }


def merge(base: Sections, *overlays: Sections) -> dict[str, dict[str, Any]]:
    """Sections of `overlays` over `base`, key by key. A None value stays, to mean
    "mailctl's own default" when config_sections() assembles the file."""
    out = {name: dict(values) for name, values in base.items()}
    for overlay in overlays:
        for name, values in overlay.items():
            out.setdefault(name, {}).update(values)
    return out


def config_sections(
    url: str, root: Path, mail: MailConfig | None = None, sections: Sections | None = None
) -> dict[str, dict[str, Any]]:
    """The sections write_config() writes: layout, database, postmap, then `sections`."""
    postmap = {"commands": {"postmap": mail.postmap}} if mail else {}
    merged = merge(layout(root), {"database": {"url": url}}, postmap, sections or {})
    return {
        name: {key: value for key, value in values.items() if value is not None}
        for name, values in merged.items()
    }


def write_config(
    path: Path,
    url: str,
    root: Path,
    *,
    mail: MailConfig | None = None,
    sections: Sections | None = None,
) -> Path:
    """Write a validated, 0600 mailctl config; return its path.

    With `mail`, postmap runs on that private Postfix configuration; without, it
    is off, like every reload and check unless `sections` sets them.
    """
    from mailctl.core.config import build_settings, render_toml

    data = config_sections(url, root, mail, sections)
    for name, argv in data["commands"].items():
        problem = system_config_problem(argv)
        assert problem is None, f"test config commands.{name}: {problem}"
    settings = build_settings(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_toml(settings, masked=False, commented=False))
    os.chmod(path, 0o600)
    return path
