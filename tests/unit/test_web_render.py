"""The web files' renderers and finder: the paths and texts one domain gets, the
nginx server blocks as golden text, and which files under a web root are mailctl's."""

from __future__ import annotations

from pathlib import Path

from mailctl.dns.clientconfig import autoconfig_xml, autodiscover_xml, mta_sts_policy
from mailctl.dns.records import DnsContext
from mailctl.serverfiles.web import present, site_files
from mailctl.setup.webserver import Site, render_nginx


def test_a_domain_gets_three_files_one_directory_per_host_name() -> None:
    ctx = DnsContext(hostname="mail.example.nl", mta_sts_mode="testing")
    assert site_files("example.nl", ctx) == {
        "mta-sts.example.nl/.well-known/mta-sts.txt": mta_sts_policy(ctx),
        "autoconfig.example.nl/mail/config-v1.1.xml": autoconfig_xml("example.nl", ctx),
        "autodiscover.example.nl/autodiscover/autodiscover.xml": autodiscover_xml(
            "example.nl", ctx
        ),
    }


def test_nginx_blocks() -> None:
    site = Site("example.nl", "/etc/le/example.nl/fullchain.pem", "/etc/le/example.nl/privkey.pem")
    text = render_nginx([site], "/var/www/mailctl", ipv6=True)
    blocks = text.split("\n\n")
    assert blocks[0] == (
        "# Written by `mailctl setup render --web nginx`; run it again after adding a domain.\n"
        "# Serves the MTA-STS policy, autoconfig and autodiscover files `mailctl sync`\n"
        "# keeps in /var/www/mailctl, over HTTPS only, and nothing else."
    )
    assert blocks[1] == (
        "server {\n"
        "    listen 443 ssl;\n"
        "    listen [::]:443 ssl;\n"
        "    server_name mta-sts.example.nl;\n"
        "    ssl_certificate /etc/le/example.nl/fullchain.pem;\n"
        "    ssl_certificate_key /etc/le/example.nl/privkey.pem;\n"
        "    root /var/www/mailctl/mta-sts.example.nl;\n"
        "    location = /.well-known/mta-sts.txt {\n"
        "        types { }\n"
        "        default_type text/plain;\n"
        "    }\n"
        "    location / {\n"
        "        return 404;\n"
        "    }\n"
        "}"
    )
    assert blocks[3] == (
        "server {\n"
        "    listen 443 ssl;\n"
        "    listen [::]:443 ssl;\n"
        "    server_name autodiscover.example.nl;\n"
        "    ssl_certificate /etc/le/example.nl/fullchain.pem;\n"
        "    ssl_certificate_key /etc/le/example.nl/privkey.pem;\n"
        "    root /var/www/mailctl/autodiscover.example.nl;\n"
        "    location = /autodiscover/autodiscover.xml {\n"
        "        types { }\n"
        "        default_type application/xml;\n"
        "        error_page 405 =200 /autodiscover/autodiscover.xml;\n"
        "    }\n"
        "    location ~* ^/autodiscover/autodiscover\\.xml$ {\n"
        "        rewrite ^ /autodiscover/autodiscover.xml last;\n"
        "    }\n"
        "    location / {\n"
        "        return 404;\n"
        "    }\n"
        "}\n"
    )
    assert "listen [::]" not in render_nginx([site], "/var/www/mailctl", ipv6=False)
    assert render_nginx([], "/w", ipv6=False).count("server {") == 0


def test_only_mailctls_files_are_found_under_the_web_root(tmp_path: Path) -> None:
    def put(relative: str) -> None:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")

    ours = [
        "mta-sts.example.nl/.well-known/mta-sts.txt",
        "autoconfig.xn--bcher-kva.example/mail/config-v1.1.xml",
        "autodiscover.example.org/autodiscover/autodiscover.xml",
    ]
    for relative in [
        *ours,
        "mta-sts.example.nl/.well-known/other.txt",  # another file in our directory
        "mta-sts.Example.ORG/.well-known/mta-sts.txt",  # not the stored form of a name
        "mta-sts.bad_name/.well-known/mta-sts.txt",  # no domain name
        "www.example.nl/.well-known/mta-sts.txt",  # another host name
        "autoconfig.example.nl/mail/other.xml",
        "index.html",
    ]:
        put(relative)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    (elsewhere / ".well-known").mkdir(parents=True)
    (elsewhere / ".well-known" / "mta-sts.txt").write_text("not under the root\n")
    (tmp_path / "mta-sts.example.com").symlink_to(elsewhere)  # a link may lead out
    (tmp_path / "mta-sts.example.net").mkdir()
    (tmp_path / "mta-sts.example.net" / ".well-known").symlink_to(elsewhere / ".well-known")
    assert present(tmp_path) == sorted(tmp_path / r for r in ours)
    assert present(tmp_path / "absent") == []
