"""Certificates for TLS tests and file-tree snapshots for "nothing changed"."""

from __future__ import annotations

import datetime
from pathlib import Path


class TestCa:
    """A certificate authority of the tests' own: its certificate in `path` (what a
    client is told to trust), and the key that signs what `make_cert` issues."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailctl test CA")])
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "ca.pem"
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))


def make_cert(
    directory: Path,
    names: list[str],
    *,
    days: int = 90,
    not_before: datetime.datetime | None = None,
    ca: TestCa | None = None,
) -> tuple[Path, Path]:
    """A certificate for `names` as fullchain.pem + privkey.pem (EC P-256): self-signed,
    or issued by `ca`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.name if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
    )
    if ca:  # what a verifying client wants of a server certificate
        builder = builder.add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    cert = builder.sign(ca.key if ca else key, hashes.SHA256())
    directory.mkdir(parents=True, exist_ok=True)
    fullchain = directory / "fullchain.pem"
    privkey = directory / "privkey.pem"
    fullchain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    privkey.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    privkey.chmod(0o600)
    return fullchain, privkey


def snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under root with its mode and content (the audit log excepted:
    recording failed attempts is its job; indexed .db maps compared by lookup)."""
    out: dict[str, tuple[int, bytes | None]] = {}
    for path in sorted(root.rglob("*")):
        if path.name in ("audit.log", "mailctl.lock"):
            continue
        rel = str(path.relative_to(root))
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        if path.suffix == ".db":  # Berkeley DB bytes differ between equal builds
            content = None
        out[rel] = (path.lstat().st_mode, content)
    return out
