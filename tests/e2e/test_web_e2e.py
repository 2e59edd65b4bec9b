"""The web files served for real and judged by an independent validator.

In a network namespace of its own (support.netns: 127.0.0.1 and ports 443 and 53
to itself), a real nginx runs the server blocks `setup render --web nginx` wrote,
unchanged, with certificates from a test CA; a private BIND serves the zone
`dns show --zone` printed, with server.ipv4 = 127.0.0.1. checkdmarc, which
resolves names with the system resolver and fetches the MTA-STS policy with
requests, runs with /etc/resolv.conf bind-mounted (in its own mount namespace)
to name that BIND and with the test CA as its CA bundle. Its SMTP STARTTLS probe
of the MX is off unless asked for (--check-mx-tls); the mail servers' TLS is
proved in test_doctor_e2e.py. Everything comes from a domain made by
`domain add` alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_stack import private_root
from support.cli import Mailctl
from support.env import need, program
from support.files import TestCa, make_cert
from support.named import Named, served
from support.netns import private_network, with_resolver
from support.nginx import Nginx, fetch

from mailctl.dns.clientconfig import mta_sts_id

DOMAIN = "example.nl"
POLICY_PATH = "/.well-known/mta-sts.txt"
CERT_PREFIXES = ("", "mail.", "imap.", "smtp.", "mta-sts.", "autoconfig.", "autodiscover.")


@dataclass
class Site:
    m: Mailctl
    ca: TestCa
    nginx: Nginx
    named: Named
    conf: Path  # the nginx file setup render writes
    www: Path
    resolv_conf: Path

    def certify(self, domain: str) -> None:
        names = [f"{p}{domain}" for p in CERT_PREFIXES]
        make_cert(self.m.root / "certs" / domain, names, ca=self.ca)

    def publish(self, *others: str) -> None:
        """Serve the zones `dns show --zone` prints now: example.nl's (with the reverse
        zone of 127.0.0.1) and those of `others`."""
        served(self.m, self.named)
        if others:
            zones = dict(self.named.zones)
            zones.update({d: self.m("dns", "show", d, "--zone").stdout for d in others})
            self.named.serve(zones)

    def checkdmarc(self, domain: str = DOMAIN) -> dict[str, dict[str, object]]:
        tool = Path(sys.executable).with_name("checkdmarc")
        env = dict(
            os.environ, REQUESTS_CA_BUNDLE=str(self.ca.path), SSL_CERT_FILE=str(self.ca.path)
        )
        done = subprocess.run(
            with_resolver(self.resolv_conf, [str(tool), domain, "-n", "127.0.0.1"]),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        found: dict[str, dict[str, object]] = json.loads(done.stdout)
        return found

    def doctor_web(self, code: int | None = 0) -> dict[str, dict[str, str]]:
        out = self.m("doctor", "--web", "--nameserver", "127.0.0.1", "-f", "json", code=None)
        rows = {
            r["check"]: r for r in json.loads(out.stdout) if r["check"].startswith("web mta-sts.")
        }
        failed = [r for r in rows.values() if r["status"] == "FAIL"]
        if code is not None:
            assert bool(failed) == bool(code), rows
        return rows


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    need(os.geteuid() == 0, "a network namespace of its own needs root")
    need(
        Path(sys.executable).with_name("checkdmarc").exists(),
        "checkdmarc not installed (pyproject's test extra)",
    )
    for name in ("nginx", "named", "ip", "unshare", "mount"):
        program(name)
    with pytest.MonkeyPatch.context() as mp, private_root() as root:
        mp.delenv("MAILCTL_DB_URL", raising=False)
        mp.delenv("MAILCTL_CONFIG", raising=False)
        files = root / "files"
        www = files / "www"
        conf = files / "nginx" / "mailctl.conf"
        ca = TestCa(root / "ca")
        m = Mailctl.create(
            root / "config.toml",
            f"sqlite:///{root}/mailctl.sqlite3",
            files,
            sections={
                "server": {"ipv4": "127.0.0.1", "ipv6": ""},
                "web": {
                    "root": str(www),
                    "nginx_conf": str(conf),
                    "probe_host": "127.0.0.1",
                    "ca_file": str(ca.path),
                },
            },
        )
        m("db", "upgrade")
        for directory in ("nginx", "named"):
            (root / directory).mkdir()
        resolv_conf = root / "resolv.conf"
        resolv_conf.write_text("nameserver 127.0.0.1\n")
        with private_network():
            site = Site(
                m, ca, Nginx(root / "nginx"), Named(root / "named", port=53), conf, www, resolv_conf
            )
            try:
                site.certify(DOMAIN)
                m("domain", "add", DOMAIN)
                m("setup", "render", "--dovecot-version", "2.3", "--web", "nginx")
                site.nginx.start(conf)
                site.publish()
                yield site
            finally:
                site.nginx.stop()
                site.named.stop()


def test_checkdmarc_finds_spf_dmarc_tlsrpt_and_mta_sts_valid(site: Site) -> None:
    report = site.checkdmarc()
    for section in ("spf", "dmarc", "smtp_tls_reporting", "mta_sts"):
        assert report[section]["valid"] is True, (section, report[section])
    policy = report["mta_sts"]["policy"]
    assert policy == {
        "version": "STSv1",
        "mode": "enforce",
        "max_age": 604800,
        "mx": ["mail.example.nl"],
    }
    assert report["mta_sts"]["id"] == mta_sts_id(
        (site.www / f"mta-sts.{DOMAIN}" / POLICY_PATH[1:]).read_bytes().decode()
    )
    warnings = [
        (section, w)
        for section, found in report.items()
        if isinstance(found, dict)
        for w in found.get("warnings", [])  # type: ignore[union-attr]
    ]
    # Loopback has no real reverse DNS: a PTR remark is the only one allowed.
    assert [w for w in warnings if "PTR" not in str(w) and "reverse" not in str(w)] == []


def test_autoconfig_and_autodiscover_are_served(site: Site) -> None:
    got = fetch(f"autoconfig.{DOMAIN}", "/mail/config-v1.1.xml", cafile=site.ca.path)
    assert (got.status, got.content_type) == (200, "application/xml")
    served = ET.fromstring(got.body)  # noqa: S314 - our own output
    incoming = served.find("emailProvider/incomingServer")
    assert incoming is not None
    assert (
        incoming.findtext("hostname"),
        incoming.findtext("port"),
        incoming.findtext("socketType"),
    ) == (f"imap.{DOMAIN}", "993", "SSL")
    expected = (site.www / f"autodiscover.{DOMAIN}/autodiscover/autodiscover.xml").read_bytes()
    request = (
        b'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft'
        b'.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>'
        b"joe@example.nl</EMailAddress></Request></Autodiscover>"
    )
    for path in ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"):
        posted = fetch(
            f"autodiscover.{DOMAIN}", path, cafile=site.ca.path, method="POST", body=request
        )
        assert (posted.status, posted.body) == (200, expected), path
        assert posted.content_type == "application/xml"
    got = fetch(f"autodiscover.{DOMAIN}", "/autodiscover/autodiscover.xml", cafile=site.ca.path)
    assert (got.status, got.body) == (200, expected)


def test_nothing_else_is_served(site: Site) -> None:
    for name, path in [
        (f"mta-sts.{DOMAIN}", "/"),
        (f"mta-sts.{DOMAIN}", "/.well-known/"),
        (f"mta-sts.{DOMAIN}", "/mail/config-v1.1.xml"),
        (f"autoconfig.{DOMAIN}", POLICY_PATH),
        (f"autodiscover.{DOMAIN}", "/autodiscover/"),
    ]:
        assert fetch(name, path, cafile=site.ca.path).status == 404, (name, path)
    (site.www / f"mta-sts.{DOMAIN}" / "secret.txt").write_text("an admin's file\n")
    assert fetch(f"mta-sts.{DOMAIN}", "/secret.txt", cafile=site.ca.path).status == 404
    with pytest.raises(ConnectionRefusedError):  # no plain HTTP
        fetch(f"mta-sts.{DOMAIN}", POLICY_PATH, cafile=site.ca.path, port=80)


def test_doctor_web_fetches_the_policy_and_compares_it_with_dns(site: Site) -> None:
    rows = site.doctor_web()
    row = rows[f"web mta-sts.{DOMAIN}"]
    assert row["status"] == "OK"
    policy = (site.www / f"mta-sts.{DOMAIN}" / POLICY_PATH[1:]).read_bytes().decode()
    assert row["detail"] == (
        f"policy id={mta_sts_id(policy)}, as DNS announces; certificate verified"
    )


def test_doctor_web_catches_a_hand_edited_policy(site: Site) -> None:
    path = site.www / f"mta-sts.{DOMAIN}" / POLICY_PATH[1:]
    text = path.read_bytes().decode()
    edited = text.replace("mode: enforce", "mode: testing")
    path.write_bytes(edited.encode())
    try:
        detail = site.doctor_web(code=1)[f"web mta-sts.{DOMAIN}"]["detail"]
        assert "'mode: testing' where mailctl has 'mode: enforce'" in detail
        assert (
            f"DNS announces id={mta_sts_id(text)}, the served policy is"
            f" id={mta_sts_id(edited)}" in detail
        )
        assert f"updated {path}" in site.m("sync").stderr
        site.doctor_web(code=0)
    finally:
        path.write_bytes(text.encode())


def test_the_mode_changes_the_served_policy_and_the_id_together(site: Site) -> None:
    name = f"mta-sts.{DOMAIN}"
    before = fetch(name, POLICY_PATH, cafile=site.ca.path).body.decode()
    site.m.reconfigure(dns={"mta_sts_mode": "testing"})
    try:
        site.m("sync")
        served_policy = fetch(name, POLICY_PATH, cafile=site.ca.path).body.decode()
        assert served_policy == before.replace("mode: enforce", "mode: testing")
        # The zone still announces the old id: doctor sees the two disagree.
        detail = site.doctor_web(code=1)[f"web {name}"]["detail"]
        assert f"DNS announces id={mta_sts_id(before)}" in detail
        site.publish()
        site.doctor_web(code=0)
        report = site.checkdmarc()["mta_sts"]
        assert report["valid"] is True
        assert report["id"] == mta_sts_id(served_policy) != mta_sts_id(before)
        assert report["policy"]["mode"] == "testing"  # type: ignore[index]
    finally:
        site.m.reconfigure(dns={"mta_sts_mode": None})
        site.m("sync")
        site.publish()


def test_a_new_domain_is_served_once_render_runs_again(site: Site) -> None:
    other = "example2.nl"
    site.certify(other)
    site.m("domain", "add", other)
    try:
        # Its files are there at once; nginx serves them after setup render and a reload.
        assert (site.www / f"mta-sts.{other}" / POLICY_PATH[1:]).is_file()
        rows = site.doctor_web(code=1)
        assert "does not verify" in rows[f"web mta-sts.{other}"]["detail"]
        site.m("setup", "render", "--dovecot-version", "2.3", "--web", "nginx")
        site.nginx.reload()
        site.publish(other)
        assert site.doctor_web(code=0)[f"web mta-sts.{other}"]["status"] == "OK"
        assert site.checkdmarc(other)["mta_sts"]["valid"] is True
    finally:
        site.m("domain", "del", other, "--yes")
        site.m("setup", "render", "--dovecot-version", "2.3", "--web", "nginx")
        site.nginx.reload()
        site.publish()
    assert not (site.www / f"mta-sts.{other}").exists()
    assert site.doctor_web(code=0).keys() == {f"web mta-sts.{DOMAIN}"}
