"""Which domains have a usable certificate.

`postmap -F` only warns about a missing file and still exits 0, and Postfix
and Dovecot refuse to start on a missing one, so a domain gets SNI entries
only once its certificate and key exist, parse and belong together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mailctl.core.config import Settings
from mailctl.errors import MailctlError
from mailctl.serverfiles.render import TlsEntry


@dataclass(frozen=True)
class TlsStatus:
    """A domain's certificate: ready for the SNI files, or why not."""

    domain: str
    entry: TlsEntry | None  # None: pending
    reason: str  # why pending, or "ok"
    not_after: datetime | None = None
    digest: str = ""  # SHA-256 of certificate and key: what a renewal changes

    @property
    def ready(self) -> bool:
        return self.entry is not None


def cert_paths(settings: Settings, domain: str) -> tuple[str, str]:
    return (
        settings.tls.cert.replace("{domain}", domain),
        settings.tls.key.replace("{domain}", domain),
    )


def _read(path: str) -> bytes:
    from mailctl.system.files import read_regular

    try:
        return read_regular(Path(path))
    except MailctlError as exc:  # a FIFO or device where a certificate should be
        raise OSError(0, str(exc).removeprefix(f"{path} ")) from None


def check_domain(settings: Settings, domain: str) -> TlsStatus:
    cert_path, key_path = cert_paths(settings, domain)
    try:
        cert_pem = _read(cert_path)
    except OSError as exc:
        return TlsStatus(domain, None, f"TLS pending: certificate {cert_path}: {exc.strerror}")
    try:
        key_pem = _read(key_path)
    except OSError as exc:
        return TlsStatus(domain, None, f"TLS pending: key {key_path}: {exc.strerror}")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return TlsStatus(domain, None, f"TLS pending: {cert_path} is not a PEM certificate")
    try:
        key = serialization.load_pem_private_key(
            key_pem, password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError):
        return TlsStatus(domain, None, f"TLS pending: {key_path} is not a usable private key")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if cert.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        return TlsStatus(domain, None, f"TLS pending: {key_path} does not match {cert_path}")
    not_after = cert.not_valid_after_utc
    if not_after < datetime.now(UTC):
        return TlsStatus(domain, None, f"TLS pending: {cert_path} expired on {not_after:%Y-%m-%d}")
    digest = hashlib.sha256(cert_pem + b"\0" + key_pem).hexdigest()
    return TlsStatus(domain, TlsEntry(domain, cert_path, key_path), "ok", not_after, digest)
