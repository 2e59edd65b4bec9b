"""The private config every benchmark runs mailctl with: all files under one
directory, reloads and checks off, so only mailctl's own work is timed."""

from __future__ import annotations

from pathlib import Path


def write_config(path: Path, root: Path, url: str, *, create_maildirs: bool = False) -> Path:
    path.write_text(f"""
[database]
url = "{url}"
[vmail]
home = "{root}/vmail"
create_maildirs = {str(create_maildirs).lower()}
[dkim]
bits = 1024
key_dir = "{root}/keys"
key_table = "{root}/KeyTable"
signing_table = "{root}/SigningTable"
ed25519_key_table = "{root}/KeyTable.ed25519"
ed25519_signing_table = "{root}/SigningTable.ed25519"
[postfix]
sni_map = "{root}/vmail_ssl.map"
helo_checks = "{root}/helo_checks.pcre"
[dovecot]
sni_conf = "{root}/11-ssl-sni.conf"
version = "2.3"
[tls]
cert = "{root}/certs/{{domain}}/fullchain.pem"
key = "{root}/certs/{{domain}}/privkey.pem"
[audit]
log = "{root}/audit.log"
[lock]
path = "{root}/lock"
[commands]
reload_postfix = []
reload_dovecot = []
reload_opendkim = []
reload_opendkim_ed25519 = []
check_postfix = []
check_dovecot = []
""")
    path.chmod(0o600)
    return path
