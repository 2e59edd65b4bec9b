"""Dovecot SNI sections (guide §6, 11-ssl-sni.conf) in 2.3 or 2.4 syntax.

2.4 (the guide):                                2.3 (Debian 12):
  local_name imap.example.nl {                    local_name imap.example.nl {
    ssl_server_cert_file = /…/fullchain.pem         ssl_cert = </…/fullchain.pem
    ssl_server_key_file = /…/privkey.pem            ssl_key = </…/privkey.pem
  }                                               }
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from mailctl.errors import InvalidInput, MailctlError
from mailctl.model.servers import DOVECOT_SNI_NAMES, DOVECOT_VERSIONS
from mailctl.serverfiles.render import TlsEntry
from mailctl.serverfiles.render.postfix import expand_names

DEFAULT_SNI_NAMES = DOVECOT_SNI_NAMES
VERSIONS = DOVECOT_VERSIONS

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?![\d])")


def _settings(entry: TlsEntry, version: str) -> tuple[str, str]:
    if version == "2.4":
        return (
            f"ssl_server_cert_file = {entry.cert}",
            f"ssl_server_key_file = {entry.key}",
        )
    # 2.3: "<" makes Dovecot read the value from the file.
    return (f"ssl_cert = <{entry.cert}", f"ssl_key = <{entry.key}")


def render_dovecot_sni(
    entries: Iterable[TlsEntry], names: Sequence[str], version: str
) -> list[str]:
    """One `local_name NAME { … }` section per name, sorted by name.

    `names` are patterns containing `{domain}` (DEFAULT_SNI_NAMES: imap.{domain});
    `version` is "2.3" or "2.4" (see parse_dovecot_version). A name two domains produce goes to the
    domain that sorts first, as in the Postfix SNI map.
    """
    if version not in VERSIONS:
        raise InvalidInput(f"unsupported Dovecot config version {version!r} (use 2.3 or 2.4)")
    lines: list[str] = []
    for name, entry in expand_names(entries, names):
        if name.startswith("."):
            raise InvalidInput(f"Dovecot local_name cannot be a parent-domain pattern: {name!r}")
        cert, key = _settings(entry, version)
        lines += [f"local_name {name} {{", f"  {cert}", f"  {key}", "}"]
    return lines


def parse_dovecot_version(text: str) -> str:
    """The config syntax ("2.3" or "2.4") of `dovecot --version` output.

    `2.3.19.1 (9b53102964)` -> "2.3"; `2.4.1-4 (7d8c0e5759)` -> "2.4"; any
    release from 2.4 on uses the 2.4 syntax, anything older the 2.3 one.
    """
    match = _VERSION.match(text)
    if match is None:
        raise MailctlError(f"cannot read a Dovecot version from {text.strip()[:80]!r}")
    release = (int(match.group(1)), int(match.group(2)))
    return "2.4" if release >= (2, 4) else "2.3"
