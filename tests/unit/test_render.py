"""Renderers: golden strings in the guide's formats, and the real programs' view of them."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.env import program
from support.mailconfig import MailConfig

from mailctl.errors import Conflict, InvalidInput, MailctlError
from mailctl.serverfiles.render import DkimEntry, TlsEntry
from mailctl.serverfiles.render.dovecot import parse_dovecot_version, render_dovecot_sni
from mailctl.serverfiles.render.opendkim import render_key_table, render_signing_table
from mailctl.serverfiles.render.postfix import render_helo_checks, render_sni_map

IDN = "xn--bcher-kva.example"  # bücher.example
DOMAINS = ["example.nl", "example2.nl", IDN]
LIVE = "/etc/letsencrypt/live"


def tls(domain: str, live: str = LIVE) -> TlsEntry:
    return TlsEntry(domain, f"{live}/{domain}/fullchain.pem", f"{live}/{domain}/privkey.pem")


def dkim(domain: str, selector: str = "mail") -> DkimEntry:
    return DkimEntry(domain, selector, f"/etc/opendkim/keys/{domain}/{selector}.private")


def text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ OpenDKIM


def test_key_table_golden() -> None:
    keys = [
        dkim(IDN),
        dkim("example2.nl", "mail"),
        dkim("example.nl"),
        dkim("example2.nl", "2025a"),
    ]
    assert text(render_key_table(keys)) == (
        "mail._domainkey.example.nl example.nl:mail:/etc/opendkim/keys/example.nl/mail.private\n"
        "2025a._domainkey.example2.nl"
        " example2.nl:2025a:/etc/opendkim/keys/example2.nl/2025a.private\n"
        "mail._domainkey.example2.nl example2.nl:mail:/etc/opendkim/keys/example2.nl/mail.private\n"
        "mail._domainkey.xn--bcher-kva.example"
        " xn--bcher-kva.example:mail:/etc/opendkim/keys/xn--bcher-kva.example/mail.private\n"
    )


def test_key_table_line_is_the_guides() -> None:
    assert render_key_table([dkim("example.nl")]) == [
        "mail._domainkey.example.nl example.nl:mail:/etc/opendkim/keys/example.nl/mail.private"
    ]


def test_signing_table_golden() -> None:
    keys = [dkim(IDN), dkim("example2.nl"), dkim("example.nl")]
    assert text(render_signing_table(keys)) == (
        "*@example.nl mail._domainkey.example.nl\n"
        "*@example2.nl mail._domainkey.example2.nl\n"
        "*@xn--bcher-kva.example mail._domainkey.xn--bcher-kva.example\n"
    )


def test_dkim_tables_ignore_input_order_and_repeats() -> None:
    keys = [dkim(d) for d in DOMAINS]
    shuffled = [keys[2], keys[0], keys[1], keys[0]]
    assert render_key_table(shuffled) == render_key_table(keys)
    assert render_signing_table(iter(shuffled)) == render_signing_table(keys)
    assert render_key_table([]) == render_signing_table([]) == []


def test_two_key_paths_for_one_selector_are_refused() -> None:
    other = DkimEntry("example.nl", "mail", "/srv/keys/mail.private")
    with pytest.raises(Conflict, match="two key paths"):
        render_key_table([dkim("example.nl"), other])


@pytest.mark.parametrize(
    "entry",
    [
        DkimEntry("example.nl", "mail", "keys/mail.private"),  # read as key data
        DkimEntry("example.nl", "mail", "/etc/my keys/mail.private"),
        DkimEntry("example.nl", "ma:il", "/k"),
        DkimEntry("exa mple.nl", "mail", "/k"),
    ],
)
def test_unusable_dkim_fields_are_refused(entry: DkimEntry) -> None:
    with pytest.raises(InvalidInput):
        render_key_table([entry])


# ------------------------------------------------------------------ Postfix SNI map

SNI_NAMES = ["smtp.{domain}", "{domain}"]


def test_sni_map_golden() -> None:
    got = render_sni_map([tls(IDN), tls("example2.nl"), tls("example.nl")], SNI_NAMES)
    assert text(got) == (
        "example.nl /etc/letsencrypt/live/example.nl/privkey.pem"
        " /etc/letsencrypt/live/example.nl/fullchain.pem\n"
        "example2.nl /etc/letsencrypt/live/example2.nl/privkey.pem"
        " /etc/letsencrypt/live/example2.nl/fullchain.pem\n"
        "smtp.example.nl /etc/letsencrypt/live/example.nl/privkey.pem"
        " /etc/letsencrypt/live/example.nl/fullchain.pem\n"
        "smtp.example2.nl /etc/letsencrypt/live/example2.nl/privkey.pem"
        " /etc/letsencrypt/live/example2.nl/fullchain.pem\n"
        "smtp.xn--bcher-kva.example /etc/letsencrypt/live/xn--bcher-kva.example/privkey.pem"
        " /etc/letsencrypt/live/xn--bcher-kva.example/fullchain.pem\n"
        "xn--bcher-kva.example /etc/letsencrypt/live/xn--bcher-kva.example/privkey.pem"
        " /etc/letsencrypt/live/xn--bcher-kva.example/fullchain.pem\n"
    )


def test_sni_map_lines_are_the_guides_and_default_names_match() -> None:
    got = render_sni_map([tls("example.nl")])
    assert got == render_sni_map([tls("example.nl")], SNI_NAMES)
    assert (
        "smtp.example.nl /etc/letsencrypt/live/example.nl/privkey.pem"
        " /etc/letsencrypt/live/example.nl/fullchain.pem"
    ) in got
    assert (
        "example.nl /etc/letsencrypt/live/example.nl/privkey.pem"
        " /etc/letsencrypt/live/example.nl/fullchain.pem"
    ) in got


def test_sni_map_ignores_input_order() -> None:
    entries = [tls(d) for d in DOMAINS]
    assert render_sni_map(reversed(entries), SNI_NAMES) == render_sni_map(entries, SNI_NAMES)
    assert render_sni_map([], SNI_NAMES) == []


def test_sni_name_produced_twice_goes_to_the_first_domain() -> None:
    # smtp.{domain} of example.nl and {domain} of smtp.example.nl collide.
    entries = [tls("smtp.example.nl", "/b"), tls("example.nl", "/a")]
    assert render_sni_map(entries, SNI_NAMES) == [
        "example.nl /a/example.nl/privkey.pem /a/example.nl/fullchain.pem",
        "smtp.example.nl /a/example.nl/privkey.pem /a/example.nl/fullchain.pem",
        "smtp.smtp.example.nl /b/smtp.example.nl/privkey.pem /b/smtp.example.nl/fullchain.pem",
    ]
    assert render_sni_map(reversed(entries), SNI_NAMES) == render_sni_map(entries, SNI_NAMES)


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        (tls("example.nl"), ["smtp.example.nl"]),  # no {domain}
        (tls("example.nl"), ["smtp {domain}"]),
        (TlsEntry("example.nl", "/etc/x y/fullchain.pem", "/k.pem"), SNI_NAMES),
        (TlsEntry("example.nl", "/c.pem", "privkey.pem"), SNI_NAMES),
    ],
)
def test_sni_map_refuses_what_would_break_the_table(entry: TlsEntry, names: list[str]) -> None:
    with pytest.raises(InvalidInput):
        render_sni_map([entry], names)


# ------------------------------------------------------------------ HELO checks

SPOOF = "554 5.7.1 Spoofed HELO (you are not me)"


def test_helo_checks_golden() -> None:
    got = render_helo_checks([IDN, "example2.nl", "example.nl"], "mail.example.nl")
    assert text(got) == (
        "/^example\\.nl$/ 554 5.7.1 Spoofed HELO (you are not me)\n"
        "/^example2\\.nl$/ 554 5.7.1 Spoofed HELO (you are not me)\n"
        "/^mail\\.example\\.nl$/ 554 5.7.1 Spoofed HELO (you are not me)\n"
        "/^xn\\-\\-bcher\\-kva\\.example$/ 554 5.7.1 Spoofed HELO (you are not me)\n"
    )


def test_helo_lines_are_the_guides() -> None:
    got = render_helo_checks(["example.nl", "example2.nl"], "mail.example.nl")
    assert got == [
        r"/^example\.nl$/ 554 5.7.1 Spoofed HELO (you are not me)",
        r"/^example2\.nl$/ 554 5.7.1 Spoofed HELO (you are not me)",
        r"/^mail\.example\.nl$/ 554 5.7.1 Spoofed HELO (you are not me)",
    ]


def test_helo_hostname_appears_once_even_when_it_is_a_domain() -> None:
    assert render_helo_checks(["example.nl", "Example.NL"], "example.nl") == [
        rf"/^example\.nl$/ {SPOOF}"
    ]
    assert render_helo_checks([], "Mail.Example.NL") == [rf"/^mail\.example\.nl$/ {SPOOF}"]


def test_helo_checks_ignore_input_order() -> None:
    assert render_helo_checks(reversed(DOMAINS), "mail.example.nl") == render_helo_checks(
        DOMAINS, "mail.example.nl"
    )


@pytest.mark.parametrize("bad", ["a/b.nl", "exa mple.nl", "", "x$.nl", ".example.nl"])
def test_helo_refuses_names_that_are_not_host_names(bad: str) -> None:
    with pytest.raises(InvalidInput):
        render_helo_checks([bad], "mail.example.nl")


# ------------------------------------------------------------------ Dovecot

IMAP_NAMES = ["imap.{domain}"]


def test_dovecot_24_golden() -> None:
    got = render_dovecot_sni([tls(IDN), tls("example2.nl"), tls("example.nl")], IMAP_NAMES, "2.4")
    assert text(got) == (
        "local_name imap.example.nl {\n"
        "  ssl_server_cert_file = /etc/letsencrypt/live/example.nl/fullchain.pem\n"
        "  ssl_server_key_file = /etc/letsencrypt/live/example.nl/privkey.pem\n"
        "}\n"
        "local_name imap.example2.nl {\n"
        "  ssl_server_cert_file = /etc/letsencrypt/live/example2.nl/fullchain.pem\n"
        "  ssl_server_key_file = /etc/letsencrypt/live/example2.nl/privkey.pem\n"
        "}\n"
        "local_name imap.xn--bcher-kva.example {\n"
        "  ssl_server_cert_file = /etc/letsencrypt/live/xn--bcher-kva.example/fullchain.pem\n"
        "  ssl_server_key_file = /etc/letsencrypt/live/xn--bcher-kva.example/privkey.pem\n"
        "}\n"
    )


def test_dovecot_23_golden() -> None:
    got = render_dovecot_sni([tls(IDN), tls("example2.nl"), tls("example.nl")], IMAP_NAMES, "2.3")
    assert text(got) == (
        "local_name imap.example.nl {\n"
        "  ssl_cert = </etc/letsencrypt/live/example.nl/fullchain.pem\n"
        "  ssl_key = </etc/letsencrypt/live/example.nl/privkey.pem\n"
        "}\n"
        "local_name imap.example2.nl {\n"
        "  ssl_cert = </etc/letsencrypt/live/example2.nl/fullchain.pem\n"
        "  ssl_key = </etc/letsencrypt/live/example2.nl/privkey.pem\n"
        "}\n"
        "local_name imap.xn--bcher-kva.example {\n"
        "  ssl_cert = </etc/letsencrypt/live/xn--bcher-kva.example/fullchain.pem\n"
        "  ssl_key = </etc/letsencrypt/live/xn--bcher-kva.example/privkey.pem\n"
        "}\n"
    )


def test_dovecot_sections_sorted_by_name_over_several_patterns() -> None:
    got = render_dovecot_sni(
        [tls("b.nl", "/l"), tls("a.nl", "/l")], ["{domain}", "imap.{domain}"], "2.3"
    )
    headers = [line for line in got if line.startswith("local_name")]
    assert headers == [
        "local_name a.nl {",
        "local_name b.nl {",
        "local_name imap.a.nl {",
        "local_name imap.b.nl {",
    ]


@pytest.mark.parametrize("version", ["2.4", "2.3"])
def test_dovecot_ignores_input_order(version: str) -> None:
    entries = [tls(d) for d in DOMAINS]
    assert render_dovecot_sni(reversed(entries), IMAP_NAMES, version) == render_dovecot_sni(
        entries, IMAP_NAMES, version
    )
    assert render_dovecot_sni([], IMAP_NAMES, version) == []


@pytest.mark.parametrize("version", ["2.2", "3", "2.4.1", "", "24"])
def test_dovecot_unknown_version_is_refused(version: str) -> None:
    with pytest.raises(InvalidInput, match="Dovecot"):
        render_dovecot_sni([tls("example.nl")], IMAP_NAMES, version)


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("2.3.19.1 (9b53102964)\n", "2.3"),
        ("2.4.1-4 (7d8c0e5759)\n", "2.4"),
        ("2.4.0 (abc)", "2.4"),
        ("2.3.21", "2.3"),
        ("2.2.36.4 (baf9232c1)", "2.3"),
        ("2.10.0 (x)", "2.4"),  # numeric, not string, comparison
        ("3.0.0", "2.4"),
    ],
)
def test_parse_dovecot_version(output: str, version: str) -> None:
    assert parse_dovecot_version(output) == version


@pytest.mark.parametrize("output", ["", "dovecot: command not found", "v2.3.19", "2", "2.x"])
def test_unparseable_dovecot_version_is_refused(output: str) -> None:
    with pytest.raises(MailctlError, match="Dovecot version"):
        parse_dovecot_version(output)


@pytest.mark.parametrize(
    "render",
    [
        lambda: render_key_table([DkimEntry("example.nl", "mail", "keys/mail.private")]),
        lambda: render_signing_table([dkim("example.nl"), DkimEntry("example.nl", "mail", "/x")]),
        lambda: render_sni_map([tls("example.nl")], ["smtp.example.nl"]),
        lambda: render_sni_map([TlsEntry("example.nl", "/c d.pem", "/k.pem")]),
        lambda: render_helo_checks([], "mail example.nl"),
        lambda: render_dovecot_sni([tls("example.nl")], [".{domain}"], "2.4"),
        lambda: render_dovecot_sni([], IMAP_NAMES, "2.2"),
        lambda: parse_dovecot_version("dovecot: not found"),
    ],
    ids=["key-path", "two-paths", "no-domain", "blank-path", "helo", "parent", "version", "parse"],
)
def test_renderers_refuse_with_mailctl_errors_not_value_errors(render: Any) -> None:
    # The CLI turns a MailctlError into one line; a ValueError would be a traceback.
    with pytest.raises(MailctlError) as info:
        render()
    assert not isinstance(info.value, ValueError)


# ------------------------------------------------------------------ the real programs


def _postmap_query(tmp_path: Path, mail: MailConfig, name: str) -> str | None:
    """`postmap -q NAME pcre:helo_checks.pcre` over freshly rendered HELO checks."""
    pcre = tmp_path / "helo_checks.pcre"
    if not pcre.exists():
        domains = ["example.nl", "mail-relay.example2.nl", IDN]
        pcre.write_text(text(render_helo_checks(domains, "mail.example.nl")))
    return mail.postmap_query(name, f"pcre:{pcre}")


@pytest.mark.tools
def test_postmap_matches_rendered_helo_checks(tmp_path: Path, mail_config: MailConfig) -> None:
    for name in ["mail.example.nl", "mail-relay.example2.nl", IDN]:
        assert _postmap_query(tmp_path, mail_config, name) == SPOOF, name
    for name in ["other.example.org", "mailXexample.nl", "sub.example.nl", "example.nl.evil"]:
        assert _postmap_query(tmp_path, mail_config, name) is None, name


@pytest.mark.tools
def test_postmap_catches_upper_case_spoofed_helo(tmp_path: Path, mail_config: MailConfig) -> None:
    assert _postmap_query(tmp_path, mail_config, "MAIL.Example.NL") == SPOOF


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, directory.name)])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True)
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.tools
def test_doveconf_accepts_rendered_23_sni(tmp_path: Path) -> None:
    doveconf = program("doveconf")
    live = tmp_path / "live"
    default_cert, default_key = _self_signed(live / "mail.example.nl")
    entries = []
    for domain in ["example.nl", IDN]:
        cert, key = _self_signed(live / domain)
        entries.append(TlsEntry(domain, str(cert), str(key)))
    sni = tmp_path / "11-ssl-sni.conf"
    sni.write_text(text(render_dovecot_sni(entries, IMAP_NAMES, "2.3")))
    conf = tmp_path / "dovecot.conf"
    conf.write_text(
        f"base_dir = {tmp_path / 'run'}\n"
        f"state_dir = {tmp_path / 'state'}\n"
        "ssl = yes\n"
        f"ssl_cert = <{default_cert}\n"
        f"ssl_key = <{default_key}\n"
        f"!include {sni}\n"
    )
    done = subprocess.run(
        [doveconf, "-n", "-c", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert f"local_name imap.example.nl {{\n  ssl_cert = <{live}/example.nl/fullchain.pem\n" in (
        done.stdout
    )
    assert f"local_name imap.{IDN} {{\n  ssl_cert = <{live}/{IDN}/fullchain.pem\n" in done.stdout


@pytest.mark.parametrize("bad", ["\n", "\r", "\t", "\x00"])
def test_renderers_refuse_a_control_character_at_the_end(bad: str) -> None:
    """`$` matches before a final newline; the renderers' checks use fullmatch."""
    from mailctl.errors import InvalidInput

    with pytest.raises(InvalidInput):
        render_helo_checks([f"example.nl{bad}"], "mail.example.nl")
    with pytest.raises(InvalidInput):
        render_key_table([DkimEntry(f"example.nl{bad}", "mail", "/k/example.nl/mail.private")])
    with pytest.raises(InvalidInput):
        render_key_table([DkimEntry("example.nl", "mail", f"/k/example.nl/mail.private{bad}")])
    with pytest.raises(InvalidInput):
        render_sni_map([TlsEntry("example.nl", f"/c/fullchain.pem{bad}", "/c/privkey.pem")])
