"""mailctl.system.tlsprobe and doctor's served-certificate check where no mail server
answers: a port nothing listens on, and a listener that hangs up. (What Postfix
and Dovecot really serve: tests/e2e/test_doctor_e2e.py.)"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.files import make_cert

from mailctl.core.checks import optional_host
from mailctl.core.config import build_settings, sandbox_defaults
from mailctl.services import doctor
from mailctl.system import tlsprobe


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting is refused at once, and
    nothing else can take the port while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def hangs_up() -> Iterator[int]:
    """A loopback port whose listener accepts and closes without a word."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        server.close()
        thread.join(timeout=5)


def test_nothing_listening_is_unreachable(closed_port: int) -> None:
    refused = rf"^127\.0\.0\.1:{closed_port}: Connection refused$"
    with pytest.raises(tlsprobe.Unreachable, match=refused):
        tlsprobe.implicit_tls("127.0.0.1", closed_port, "imap.example.nl")
    with pytest.raises(tlsprobe.Unreachable, match="Connection refused"):
        tlsprobe.smtp_starttls("127.0.0.1", closed_port, "smtp.example.nl", "mail.example.nl")


def test_a_listener_that_hangs_up_is_reached_but_gives_no_certificate(hangs_up: int) -> None:
    with pytest.raises(tlsprobe.ProbeFailed, match=rf"^127\.0\.0\.1:{hangs_up}: TLS handshake"):
        tlsprobe.implicit_tls("127.0.0.1", hangs_up, "imap.example.nl")
    with pytest.raises(tlsprobe.ProbeFailed, match=rf"^127\.0\.0\.1:{hangs_up} closed the conn"):
        tlsprobe.smtp_starttls("127.0.0.1", hangs_up, "smtp.example.nl", "mail.example.nl")


def test_doctor_notes_servers_it_cannot_reach_without_failing(
    tmp_path: Path, closed_port: int
) -> None:
    """Nothing listens (a machine without the mail servers, such as this test's): one
    WARN per server saying what was not checked, no FAIL, and no advice asked for."""
    data = sandbox_defaults(tmp_path)
    data["tls"] |= {"probe_host": "127.0.0.1", "imaps_port": closed_port,
                    "submission_port": closed_port}
    settings = build_settings(data)

    def no_advice() -> dict[str, str]:
        raise AssertionError("reload advice is only for a server that is behind")

    domains = ["example.nl", "other.example"]
    assert list(doctor.compare_served(settings, domains, no_advice)) == []  # no certificates
    for domain in domains:
        make_cert(Path(settings.tls.cert.replace("{domain}", domain)).parent,
                  [domain, f"imap.{domain}", f"smtp.{domain}"])
    found = list(doctor.compare_served(settings, domains, no_advice))
    assert found == [
        doctor.Result(
            "tls dovecot",
            "WARN",
            f"127.0.0.1:{closed_port}: Connection refused: the certificates Dovecot serves"
            " were not checked (tls.imaps_port, tls.probe_host)",
        ),
        doctor.Result(
            "tls postfix",
            "WARN",
            f"127.0.0.1:{closed_port}: Connection refused: the certificates Postfix serves"
            " were not checked (tls.submission_port, tls.probe_host)",
        ),
    ]
    # The sandbox's default (an empty tls.probe_host) asks no server at all.
    sandbox = build_settings(sandbox_defaults(tmp_path))
    assert list(doctor.compare_served(sandbox, domains, no_advice)) == []


@pytest.mark.parametrize("value", ["", "127.0.0.1", "::1", "localhost", "mail.example.nl"])
def test_probe_host_takes_an_address_or_a_host_name(value: str) -> None:
    assert optional_host(value) is None


@pytest.mark.parametrize("value", ["127.0.0.1:993", "mail example.nl", "-mail.example.nl", "a..b"])
def test_probe_host_refuses_what_is_neither(value: str) -> None:
    assert "host name or an IP address" in (optional_host(value) or "")
