"""Ask a running server which certificate it presents for a name (SNI), and fetch
a file over HTTPS as a sender fetches an MTA-STS policy.

The only module that opens network connections to the servers. The mail server
probes fetch the leaf certificate and judge nothing: verification is off on
purpose, since the point is to compare what is served with the file on disk,
whatever it is (self-signed, expired, for another name). SMTP's STARTTLS is
spoken by hand, just far enough to start TLS; nothing is logged in or sent.
`https_get` verifies, as an MTA-STS sender must (RFC 8461 section 3.3).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from mailctl.errors import MailctlError

TIMEOUT = 2.0  # seconds per connect, read and handshake
_MAX_REPLY = 65536  # an SMTP reply longer than this is no SMTP server
MAX_BODY = 65536  # RFC 8461 section 3.3: senders may stop reading a policy at 64 KiB


class Unreachable(MailctlError):
    """No TCP connection: nothing listens there, or a firewall drops it."""


class ProbeFailed(MailctlError):
    """Connected, but no certificate came back (no TLS, no STARTTLS, a broken handshake)."""


class CertificateRejected(ProbeFailed):
    """The certificate does not verify: unknown CA, another name, expired."""


@dataclass(frozen=True)
class Fetched:
    """What an HTTPS server answered, and the certificate it answered with."""

    status: int
    content_type: str  # the media type alone, lowercase ("" when absent)
    body: bytes
    certificate: bytes  # DER leaf


def https_get(
    host: str,
    port: int,
    server_name: str,
    path: str,
    *,
    cafile: str | None = None,
    timeout: float = TIMEOUT,
) -> Fetched:
    """GET https://server_name/path from host:port, the certificate verified against
    `cafile` (None: the system's CAs) and `server_name`; redirects are not followed."""
    import http.client

    where = f"{host}:{port}"
    try:
        context = ssl.create_default_context(cafile=cafile)
    except OSError as exc:
        raise ProbeFailed(f"cannot read the CA file {cafile}: {_reason(exc)}") from None
    with _connect(host, port, timeout) as sock:
        try:
            tls = context.wrap_socket(sock, server_hostname=server_name)
        except ssl.SSLCertVerificationError as exc:
            raise CertificateRejected(
                f"{where} serves {server_name} a certificate that does not verify:"
                f" {exc.verify_message}"
            ) from None
        except (OSError, ValueError) as exc:
            raise ProbeFailed(f"{where}: TLS handshake failed: {_reason(exc)}") from None
        with tls:
            der = tls.getpeercert(binary_form=True) or b""
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\n"
                "User-Agent: mailctl doctor\r\nConnection: close\r\n\r\n"
            )
            try:
                tls.sendall(request.encode("ascii"))
                response = http.client.HTTPResponse(tls)
                response.begin()
                body = response.read(MAX_BODY)
            except (OSError, http.client.HTTPException) as exc:
                raise ProbeFailed(f"{where}: HTTP request failed: {_reason(exc)}") from None
    media = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    return Fetched(response.status, media, body, der)


def implicit_tls(host: str, port: int, server_name: str, timeout: float = TIMEOUT) -> bytes:
    """The DER leaf certificate a TLS-on-connect service (IMAPS, SMTPS) presents
    when asked for `server_name`."""
    with _connect(host, port, timeout) as sock:
        return _handshake(sock, host, port, server_name)


def smtp_starttls(
    host: str, port: int, server_name: str, helo: str, timeout: float = TIMEOUT
) -> bytes:
    """The DER leaf certificate an SMTP service presents after EHLO and STARTTLS
    (submission on 587, or port 25) when asked for `server_name`."""
    where = f"{host}:{port}"
    with _connect(host, port, timeout) as sock:
        try:
            _expect(sock, "220", where, "greeting")
            sock.sendall(f"EHLO {helo}\r\n".encode("ascii"))
            extensions = _expect(sock, "250", where, "EHLO")
            if not any(line[4:].strip().upper() == "STARTTLS" for line in extensions):
                raise ProbeFailed(f"{where} does not offer STARTTLS")
            sock.sendall(b"STARTTLS\r\n")
            _expect(sock, "220", where, "STARTTLS")
        except (OSError, UnicodeError) as exc:
            raise ProbeFailed(f"{where}: SMTP dialogue failed: {_reason(exc)}") from None
        return _handshake(sock, host, port, server_name)


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise Unreachable(f"{host}:{port}: {_reason(exc)}") from None


def _handshake(sock: socket.socket, host: str, port: int, server_name: str) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # compared with the file afterwards, not trusted
    try:
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError) as exc:
        raise ProbeFailed(f"{host}:{port}: TLS handshake failed: {_reason(exc)}") from None
    if not der:
        raise ProbeFailed(f"{host}:{port} sent no certificate")
    return der


def _expect(sock: socket.socket, code: str, where: str, step: str) -> list[str]:
    """Read one SMTP reply (all its lines); fail unless its code is `code`."""
    lines = _reply(sock, where)
    if lines[-1][:3] != code:
        raise ProbeFailed(f"{where} answered {step} with {lines[-1][:80]!r}")
    return lines


def _reply(sock: socket.socket, where: str) -> list[str]:
    # Byte by byte up to each line end, so nothing past the reply is consumed:
    # after STARTTLS's 220 the next bytes on the socket belong to TLS.
    lines: list[str] = []
    line = bytearray()
    total = 0
    while True:
        byte = sock.recv(1)
        if not byte:
            raise ProbeFailed(f"{where} closed the connection")
        total += 1
        if total > _MAX_REPLY:
            raise ProbeFailed(f"{where} sent a reply too long for SMTP")
        if byte != b"\n":
            line += byte
            continue
        text = line.decode("ascii").rstrip("\r")
        line.clear()
        lines.append(text)
        if len(text) < 4 or text[3] != "-":  # "250 last line"; "250-more follow"
            return lines


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
