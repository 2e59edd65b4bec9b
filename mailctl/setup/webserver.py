"""`mailctl setup render --web nginx`: the nginx server blocks that serve the web
files `sync` keeps in web.root (serverfiles.web).

One server block per host name (mta-sts., autoconfig., autodiscover. of each
domain), HTTPS only, with the domain's own certificate: the certbot command
`domain add` prints covers those names. Each serves its one file and answers
404 to anything else; autodiscover's file also answers Outlook's POST. A domain
without a usable certificate yet gets no block (nginx would not start without
the files): run it again once certbot has made the certificate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailctl.core.config import Settings
from mailctl.errors import ConfigError, MailctlError
from mailctl.serverfiles.web import FILES

FILE_MODE = 0o644  # no secret in it: it names the key files, root reads them
# What nginx takes unquoted and reads no variable ($) or block ({) from.
_NGINX_PATH = re.compile(r"/[A-Za-z0-9._~+/=@-]*")
# Host name prefix -> the media type of its file.
MEDIA_TYPES = {
    "mta-sts": "text/plain",
    "autoconfig": "application/xml",
    "autodiscover": "application/xml",
}


@dataclass(frozen=True)
class Site:
    """A domain served over HTTPS, and its certificate files."""

    domain: str
    cert: str
    key: str


@dataclass(frozen=True)
class WebServerFile:
    """The nginx file setup render writes, and what it needs saying."""

    path: Path
    text: str
    old: str | None  # None: it does not exist yet
    notes: tuple[str, ...]  # the domains left out, and why
    usage: tuple[str, ...]  # how to make nginx read it

    @property
    def changed(self) -> bool:
        return self.old != self.text

    def diff(self) -> str:
        from mailctl.serverfiles.blocks import unified_diff

        return unified_diff(self.old or "", self.text, str(self.path))


def render_nginx(sites: Iterable[Site], root: str, *, ipv6: bool) -> str:
    """The server blocks: three a domain, each its one file over HTTPS, 404 for the rest."""
    lines = [
        "# Written by `mailctl setup render --web nginx`; run it again after adding a domain.",
        "# Serves the MTA-STS policy, autoconfig and autodiscover files `mailctl sync`",
        f"# keeps in {root}, over HTTPS only, and nothing else.",
    ]
    for site in sites:
        for prefix in FILES:
            lines += ["", *_server_block(site, prefix, root, ipv6=ipv6)]
    return "\n".join(lines) + "\n"


def _server_block(site: Site, prefix: str, root: str, *, ipv6: bool) -> list[str]:
    host, relative = f"{prefix}.{site.domain}", FILES[prefix]
    lines = [
        "server {",
        "    listen 443 ssl;",
        *(["    listen [::]:443 ssl;"] if ipv6 else []),
        f"    server_name {host};",
        f"    ssl_certificate {site.cert};",
        f"    ssl_certificate_key {site.key};",
        f"    root {root}/{host};",
        f"    location = /{relative} {{",
        "        types { }",
        f"        default_type {MEDIA_TYPES[prefix]};",
    ]
    if prefix == "autodiscover":
        # Outlook POSTs its request: nginx answers a POST to a static file with 405,
        # which error_page turns into a GET of the same file.
        lines += [f"        error_page 405 =200 /{relative};", "    }"]
        # Some clients ask for /Autodiscover/Autodiscover.xml: the same file.
        pattern = relative.replace(".", r"\.")
        lines += [f"    location ~* ^/{pattern}$ {{", f"        rewrite ^ /{relative} last;"]
    return [*lines, "    }", "    location / {", "        return 404;", "    }", "}"]


def plan(settings: Settings, domains: Iterable[str]) -> WebServerFile:
    """The nginx file for these hosted domains: those with a usable certificate."""
    from mailctl.serverfiles.managed import usable_domains
    from mailctl.serverfiles.tls import check_domain

    web = settings.web
    if not web.root:
        raise ConfigError(
            "web.root is empty: set it to the directory `mailctl sync` keeps the web files"
            " in (for example /var/www/mailctl), then run mailctl sync"
        )
    root = web.root.rstrip("/") or "/"
    _nginx_path("web.root", root)
    usable, _invalid = usable_domains(domains)
    sites, notes = [], []
    for domain in usable:
        status = check_domain(settings, domain)
        if status.entry is None:
            notes.append(
                f"{domain} is left out until it has a certificate ({status.reason});"
                " run this again after certbot"
            )
            continue
        sites.append(
            Site(
                domain,
                _nginx_path("tls.cert", status.entry.cert),
                _nginx_path("tls.key", status.entry.key),
            )
        )
    path = Path(web.nginx_conf)
    text = render_nginx(sites, root, ipv6=bool(settings.server.ipv6))
    usage = (
        f"ln -s {path} /etc/nginx/sites-enabled/  (unless nginx already includes it)",
        "nginx -t && systemctl reload nginx",
    )
    return WebServerFile(path, text, _read(path), tuple(notes), usage)


def write(planned: WebServerFile) -> bool:
    """Write the file if it changed (0644, atomically); whether it was written."""
    from mailctl.system.files import atomic_write

    if not planned.changed:
        return False
    atomic_write(planned.path, planned.text, mode=FILE_MODE)
    return True


def _nginx_path(key: str, value: str) -> str:
    if not _NGINX_PATH.fullmatch(value):
        raise ConfigError(
            f"{key} gives {value!r}, which nginx's configuration cannot hold unquoted"
            " (use letters, digits and ._~+/=@- only)"
        )
    return value


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MailctlError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise MailctlError(f"{path} is not UTF-8 (byte {exc.start})") from None
