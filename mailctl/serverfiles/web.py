"""The web files `sync` keeps: each domain's MTA-STS policy and its Thunderbird and
Outlook client configurations, in `web.root`, one directory per host name:

    ROOT/mta-sts.DOMAIN/.well-known/mta-sts.txt
    ROOT/autoconfig.DOMAIN/mail/config-v1.1.xml
    ROOT/autodiscover.DOMAIN/autodiscover/autodiscover.xml

They are whole files (no managed block), rendered by mailctl.dns.clientconfig
from the context the `_mta-sts` record is computed from, so the policy served
and the id published change together. Mode 0644: the web server's account
reads them. A domain that is no longer hosted loses its files; nothing else
under the root is ever removed: only these paths, in directories named like
them, and the directories they leave empty.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mailctl.core.config import Settings
from mailctl.serverfiles.targets import Target

if TYPE_CHECKING:
    from mailctl.dns.records import DnsContext

FILE_MODE = 0o644
# Host name prefix -> the one file served under it (the URLs in dns.clientconfig).
FILES = {
    "mta-sts": ".well-known/mta-sts.txt",
    "autoconfig": "mail/config-v1.1.xml",
    "autodiscover": "autodiscover/autodiscover.xml",
}


def site_files(domain: str, ctx: DnsContext) -> dict[str, str]:
    """A domain's web files: path relative to the web root -> text."""
    from mailctl.dns import clientconfig

    texts = {
        "mta-sts": clientconfig.mta_sts_policy(ctx),
        "autoconfig": clientconfig.autoconfig_xml(domain, ctx),
        "autodiscover": clientconfig.autodiscover_xml(domain, ctx),
    }
    return {f"{prefix}.{domain}/{FILES[prefix]}": texts[prefix] for prefix in FILES}


def web_files(settings: Settings, domains: Iterable[str]) -> list[tuple[Target, str | None]]:
    """Each web file and its new text: every hosted domain's files, and None (remove)
    for the files of domains no longer hosted. Nothing when web.root is empty."""
    if not settings.web.root:
        return []  # before the imports: most installations serve no web files
    from mailctl.dns.records import base_context

    root = Path(settings.web.root)
    ctx = base_context(settings)
    wanted = {
        root / relative: text
        for domain in domains
        for relative, text in site_files(domain, ctx).items()
    }
    stale = [path for path in present(root) if path not in wanted]
    return [(target(root, path), text) for path, text in wanted.items()] + [
        (target(root, path), None) for path in stale
    ]


def target(root: Path, path: Path) -> Target:
    # No service: a static file needs no reload, the web server reads it per request.
    return Target(f"web {path.relative_to(root)}", path, "whole", "", FILE_MODE, tree=root)


def present(root: Path) -> list[Path]:
    """The files under `root` that mailctl writes: the known file of each real directory
    named PREFIX.DOMAIN (a stored-form domain name), sorted. Anything else there is
    someone else's."""
    from mailctl.errors import InvalidName
    from mailctl.model.names import normalize_domain

    try:
        entries = list(os.scandir(root))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        prefix, _, domain = entry.name.partition(".")
        if prefix not in FILES or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if normalize_domain(domain) != domain:
                continue
        except InvalidName:
            continue
        path = Path(entry.path)
        for part in FILES[prefix].split("/"):  # no symlink on the way: it may lead out
            path = path / part
            if path.is_symlink():
                break
        else:
            if path.is_file():
                found.append(path)
    return sorted(found)
