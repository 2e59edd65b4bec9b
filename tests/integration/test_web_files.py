"""The web files `sync` keeps in web.root (MTA-STS policy, autoconfig, autodiscover)
through the real CLI: written by `domain add`, 0644, diffs under --dry-run and
--check, the `_mta-sts` id following the policy, removed with their domain and
nothing else removed, restored when a change fails; and `setup render --web
nginx`, whose server blocks the real `nginx -t` accepts. Served by a real nginx
and judged by checkdmarc: tests/e2e/test_web_e2e.py."""

from __future__ import annotations

import json
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.cli import Mailctl
from support.files import make_cert, snapshot
from support.nginx import Nginx

from mailctl.dns.clientconfig import mta_sts_id

POLICY = "mta-sts.{d}/.well-known/mta-sts.txt"
AUTOCONFIG = "autoconfig.{d}/mail/config-v1.1.xml"
AUTODISCOVER = "autodiscover.{d}/autodiscover/autodiscover.xml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def files_of(www: Path, domain: str) -> list[Path]:
    return [www / p.format(d=domain) for p in (POLICY, AUTOCONFIG, AUTODISCOVER)]


def announced_id(m: Mailctl, domain: str) -> str:
    records = json.loads(m("dns", "show", domain, "-f", "json").stdout)
    (sts,) = [r for r in records if r["name"] == f"_mta-sts.{domain}."]
    value: str = sts["value"]
    return value.removeprefix("v=STSv1; id=")


@pytest.fixture
def www(lite: Mailctl) -> Path:
    root = lite.root / "www"
    lite.reconfigure(web={"root": str(root)})
    return root


def test_domain_add_writes_each_domains_web_files(lite: Mailctl, www: Path) -> None:
    lite("domain", "add", "example.nl", "example2.nl")
    for domain in ("example.nl", "example2.nl"):
        policy, autoconfig, autodiscover = files_of(www, domain)
        assert policy.read_bytes() == lite("dns", "mta-sts-policy", domain).stdout_bytes
        assert autoconfig.read_text() == lite("dns", "autoconfig", domain).stdout
        assert autodiscover.read_text() == lite("dns", "autodiscover", domain).stdout
        for path in (policy, autoconfig, autodiscover):
            assert mode(path) == 0o644
            assert mode(path.parent) == 0o755 and mode(path.parent.parent) == 0o755
        assert announced_id(lite, domain) == mta_sts_id(policy.read_bytes().decode())
    assert policy.read_bytes().startswith(b"version: STSv1\r\nmode: enforce\r\n")
    assert "all managed files are in sync" in lite("sync").stderr
    rows = {r["check"]: r for r in json.loads(lite("doctor", "-f", "json", code=None).stdout)}
    assert rows["web files"] == {
        "check": "web files",
        "status": "OK",
        "detail": f"6 file(s) in {www} in sync",
    }


def test_no_web_root_no_web_files(lite: Mailctl) -> None:
    lite("domain", "add", "example.nl")
    assert not any(p.name.startswith("mta-sts.") for p in lite.root.rglob("*"))


def test_autoconfig_and_autodiscover_carry_the_guides_servers(lite: Mailctl, www: Path) -> None:
    lite("domain", "add", "example.nl")
    _policy, autoconfig, autodiscover = files_of(www, "example.nl")
    provider = ET.parse(autoconfig).getroot().find("emailProvider")  # noqa: S314 - ours
    assert provider is not None and provider.get("id") == "example.nl"
    servers = [
        (
            s.tag,
            s.get("type"),
            s.findtext("hostname"),
            s.findtext("port"),
            s.findtext("socketType"),
            s.findtext("username"),
        )
        for s in provider
        if s.tag.endswith("Server")
    ]
    assert servers == [
        ("incomingServer", "imap", "imap.example.nl", "993", "SSL", "%EMAILADDRESS%"),
        ("outgoingServer", "smtp", "smtp.example.nl", "587", "STARTTLS", "%EMAILADDRESS%"),
        ("outgoingServer", "smtp", "smtp.example.nl", "465", "SSL", "%EMAILADDRESS%"),
    ]
    ns = {
        "a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
        "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a",
    }
    document = ET.parse(autodiscover).getroot()  # noqa: S314 - our own output
    protocols = document.findall("o:Response/o:Account/o:Protocol", ns)
    assert [
        (
            p.findtext("o:Type", namespaces=ns),
            p.findtext("o:Server", namespaces=ns),
            p.findtext("o:Port", namespaces=ns),
            p.findtext("o:Encryption", namespaces=ns),
        )
        for p in protocols
    ] == [("IMAP", "imap.example.nl", "993", "SSL"), ("SMTP", "smtp.example.nl", "465", "SSL")]


def test_the_policy_and_its_id_change_together(lite: Mailctl, www: Path) -> None:
    lite("domain", "add", "example.nl")
    policy, *xml = files_of(www, "example.nl")
    before_id, before = announced_id(lite, "example.nl"), snapshot(lite.root)
    written = [p.stat().st_mtime_ns for p in xml]
    lite.reconfigure(dns={"mta_sts_mode": "testing"})
    new_id = announced_id(lite, "example.nl")
    assert new_id != before_id
    dry = lite("sync", "--dry-run")
    assert f"+++ {policy}" in dry.stdout
    assert "-mode: enforce\n+mode: testing\n" in dry.stdout
    assert snapshot(lite.root) == before
    check = lite("sync", "--check", code=1)
    assert check.stderr.strip().endswith(f"1 managed file(s) out of sync: {policy}")
    assert f"updated {policy}" in lite("sync").stderr
    assert policy.read_bytes().decode().splitlines()[1] == "mode: testing"
    assert mta_sts_id(policy.read_bytes().decode()) == new_id
    # The XML files do not depend on the mode: they were left as they were.
    assert [p.stat().st_mtime_ns for p in xml] == written


def test_domain_del_removes_its_web_files_and_nothing_else(lite: Mailctl, www: Path) -> None:
    lite("domain", "add", "example.nl", "example2.nl")
    # What an administrator keeps there, beside mailctl's files.
    (www / "index.html").write_text("hello\n")
    (www / "mta-sts.example2.nl" / "notes.txt").write_text("mine\n")
    (www / "www.example2.nl").mkdir()
    (www / "www.example2.nl" / "index.html").write_text("site\n")
    (www / "mta-sts.Example2.NL").mkdir()  # not how mailctl names a directory
    (www / "mta-sts.Example2.NL" / "mta-sts.txt").write_text("by hand\n")
    before = snapshot(lite.root)
    dry = lite("domain", "del", "example2.nl", "--yes", "--dry-run")
    assert f"--- {www / POLICY.format(d='example2.nl')}" in dry.stdout
    assert '-<clientConfig version="1.1">' in dry.stdout
    assert snapshot(lite.root) == before
    lite("domain", "del", "example2.nl", "--yes")
    assert sorted(str(p.relative_to(www)) for p in www.rglob("*") if p.is_file()) == sorted(
        [
            POLICY.format(d="example.nl"),
            AUTOCONFIG.format(d="example.nl"),
            AUTODISCOVER.format(d="example.nl"),
            "index.html",
            "mta-sts.example2.nl/notes.txt",
            "www.example2.nl/index.html",
            "mta-sts.Example2.NL/mta-sts.txt",
        ]
    )
    # Emptied directories went with the files; the one holding notes.txt stayed.
    assert not (www / "autoconfig.example2.nl").exists()
    assert not (www / "mta-sts.example2.nl" / ".well-known").exists()
    assert "all managed files are in sync" in lite("sync").stderr


def test_sync_removes_the_files_of_a_domain_no_longer_hosted(lite: Mailctl, www: Path) -> None:
    lite("domain", "add", "example.nl", "example2.nl")
    lite.execute("DELETE FROM virtual_domains WHERE name = 'example2.nl'")
    rows = {r["check"]: r for r in json.loads(lite("doctor", "-f", "json", code=1).stdout)}
    stale = f"file web {POLICY.format(d='example2.nl')}"
    assert rows[stale]["detail"] == (
        f"{www / POLICY.format(d='example2.nl')} is left from a domain that is no longer"
        " hosted (run: mailctl sync --diff)"
    )
    out = lite("sync")
    assert f"removed {www / POLICY.format(d='example2.nl')}" in out.stderr
    assert sorted(p.name for p in www.iterdir()) == [
        "autoconfig.example.nl",
        "autodiscover.example.nl",
        "mta-sts.example.nl",
    ]


def test_a_hand_edited_file_is_found_and_rewritten(lite: Mailctl, www: Path) -> None:
    lite("domain", "add", "example.nl")
    policy = files_of(www, "example.nl")[0]
    text = policy.read_bytes().decode()
    policy.write_bytes(text.replace("mode: enforce", "mode: none").encode())
    rows = {r["check"]: r for r in json.loads(lite("doctor", "-f", "json", code=1).stdout)}
    assert rows[f"file web {POLICY.format(d='example.nl')}"]["status"] == "FAIL"
    assert "-mode: none\n+mode: enforce\n" in lite("sync", "--diff").stdout
    assert policy.read_bytes().decode() == text


def test_a_failed_change_puts_the_web_files_back(lite: Mailctl, www: Path) -> None:
    lite("domain", "add", "example.nl")
    lite.reconfigure(commands={"check_postfix": ["false"]})
    before, rows = snapshot(lite.root), lite.dump()
    lite("domain", "del", "example.nl", "--yes", code=1)
    assert snapshot(lite.root) == before and lite.dump() == rows
    lite("domain", "add", "example2.nl", code=1)
    assert snapshot(lite.root) == before and lite.dump() == rows
    assert not (www / "mta-sts.example2.nl").exists()


def test_a_web_root_that_is_a_file_is_one_line_and_changes_nothing(lite: Mailctl) -> None:
    (lite.root / "www").write_text("not a directory\n")
    lite.reconfigure(web={"root": str(lite.root / "www")})
    before, rows = snapshot(lite.root), lite.dump()
    out = lite("domain", "add", "example.nl", code=1)
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith(f"mailctl: error: cannot write {lite.root / 'www'}/")
    assert [ln for ln in lines if ln.startswith("mailctl: error:")] == [lines[-1]]
    assert snapshot(lite.root) == before and lite.dump() == rows


# ------------------------------------------------------------------ setup render --web nginx


def certify(m: Mailctl, domain: str) -> None:
    make_cert(
        m.root / "certs" / domain,
        [
            domain,
            *(f"{p}.{domain}" for p in ("imap", "smtp", "mta-sts", "autoconfig", "autodiscover")),
        ],
    )


def render(m: Mailctl, *args: str, code: int = 0) -> tuple[str, str]:
    out = m("setup", "render", "--dovecot-version", "2.3", *args, code=code)
    return out.stdout, out.stderr


def test_setup_render_web_nginx_serves_the_domains_with_certificates(
    lite: Mailctl, www: Path, tmp_path: Path
) -> None:
    conf = lite.root / "nginx" / "mailctl"
    lite.reconfigure(web={"nginx_conf": str(conf)}, server={"ipv6": "2001:db8::10"})
    lite("domain", "add", "example.nl", "example2.nl")
    certify(lite, "example.nl")
    stdout, stderr = render(lite, "--web", "nginx")
    assert f"wrote {conf}" in stdout
    assert f"# nginx: ln -s {conf} /etc/nginx/sites-enabled/" in stdout
    assert "example2.nl is left out until it has a certificate" in stderr
    text = conf.read_text()
    assert mode(conf) == 0o644
    names = [ln.split()[1].rstrip(";") for ln in text.splitlines() if "server_name" in ln]
    assert names == ["mta-sts.example.nl", "autoconfig.example.nl", "autodiscover.example.nl"]
    assert text.count("    listen [::]:443 ssl;\n") == 3
    assert f"    root {www}/mta-sts.example.nl;\n" in text
    assert f"ssl_certificate {lite.root}/certs/example.nl/fullchain.pem;" in text
    assert "listen 80" not in text and "proxy_pass" not in text
    nginx_dir = tmp_path / "nginx-test"
    nginx_dir.mkdir()
    checked = Nginx(nginx_dir).test(conf)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    # Unchanged the second time; with example2.nl's certificate, its blocks appear.
    assert f"unchanged {conf}" in render(lite, "--web", "nginx")[0]
    certify(lite, "example2.nl")
    before = snapshot(lite.root)
    dry, _ = render(lite, "--web", "nginx", "--dry-run")
    assert "+    server_name mta-sts.example2.nl;" in dry
    assert snapshot(lite.root) == before
    render(lite, "--web", "nginx")
    assert conf.read_text().count("server {") == 6
    assert Nginx(nginx_dir).test(conf).returncode == 0


@pytest.mark.parametrize(
    ("args", "web", "code", "says"),
    [
        (["--web", "apache"], {}, 2, "'apache' is not 'nginx'"),
        (["--web", "nginx"], {"root": None}, 1, "web.root is empty"),
        (
            ["--web", "nginx"],
            {"root": "/srv/web root"},
            1,
            "web.root gives '/srv/web root', which nginx's configuration cannot hold unquoted",
        ),
    ],
    ids=["unknown-server", "no-web-root", "unsafe-root"],
)
def test_setup_render_web_refuses_bad_input_and_changes_nothing(
    lite: Mailctl, www: Path, args: list[str], web: dict[str, str | None], code: int, says: str
) -> None:
    lite("domain", "add", "example.nl")
    certify(lite, "example.nl")
    lite.reconfigure(web={"nginx_conf": str(lite.root / "nginx" / "mailctl"), **web})
    before, rows = snapshot(lite.root), lite.dump()
    out = render(lite, *args, code=code)[1]
    assert says in out
    errors = [ln for ln in out.splitlines() if ln.startswith(("mailctl: error:", "Error:"))]
    assert len(errors) == 1, out
    assert snapshot(lite.root) == before and lite.dump() == rows


def test_doctor_web_refuses_a_bad_nameserver_before_any_check(lite: Mailctl) -> None:
    out = lite("doctor", "--web", "--nameserver", "not-an-address", code=2)
    assert "invalid --nameserver 'not-an-address'" in out.stderr
    assert out.stdout == ""
