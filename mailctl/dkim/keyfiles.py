"""DKIM key material: generate, load, publish (DNS value and opendkim-genkey's .txt), write.

Keys are made in-process with `cryptography` and stored as PKCS#8 PEM, which
OpenDKIM reads exactly like opendkim-genkey's own output. The files follow the
guide (section 12): `<key_dir>/<domain>/<selector>.private` (0600, owner
opendkim) next to `<selector>.txt` (0644, the BIND fragment opendkim-genkey
writes, byte for byte) in a 0750 directory.

No database here: the key records (selector, state) and the private keys every
host writes its files from live in the database (dkim.stored, store.dkimkeys).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailctl.dkim.paths import check_component, key_paths
from mailctl.errors import InvalidInput
from mailctl.system.files import atomic_write, ensure_dir, set_mode_owner

MIN_RSA_BITS = 1024  # RFC 8301: verifiers must not accept smaller keys
MAX_RSA_BITS = 8192  # same bound as the config's dkim.bits
MAX_KEY_FILE = 64 * 1024  # an 8192-bit RSA PEM is under 7 KiB
PRIVATE_MODE = 0o600
TXT_MODE = 0o644
DIR_MODE = 0o750
# opendkim-genkey cuts the base64 key into pieces of this many characters
# (each quoted string then stays below DNS's 255-byte limit even with "p=").
GENKEY_CHUNK = 250

Algorithm = Literal["rsa", "ed25519"]
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

# Each key is parsed once per command: OpenSSL's checks of an RSA key take 40-50 ms,
# and `domain add` needs the new key's size, DNS value and .txt.
_LOADED: dict[bytes, PrivateKey] = {}


@dataclass(frozen=True)
class KeyFiles:
    """What write_key_pair wrote."""

    directory: Path  # <key_dir>/<domain>
    private: Path  # <directory>/<selector>.private
    txt: Path  # <directory>/<selector>.txt
    value: str  # the TXT value to publish at <selector>._domainkey.<domain>


# ------------------------------------------------------------------ keys


def generate_rsa_key(bits: int) -> bytes:
    """A new RSA private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), like opendkim-genkey."""
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise InvalidInput(f"invalid RSA key size: {bits!r}")
    if bits < MIN_RSA_BITS:
        raise InvalidInput(
            f"RSA key size {bits} refused: at least {MIN_RSA_BITS} bits "
            "(verifiers ignore smaller DKIM keys, RFC 8301); 2048 is recommended"
        )
    if bits > MAX_RSA_BITS:
        raise InvalidInput(f"RSA key size {bits} refused: at most {MAX_RSA_BITS} bits")
    return _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=bits))


def generate_ed25519_key() -> bytes:
    """A new Ed25519 private key (RFC 8463) as PKCS#8 PEM."""
    return _pkcs8(ed25519.Ed25519PrivateKey.generate())


def _pkcs8(key: PrivateKey) -> bytes:
    """The PEM of a key mailctl just made, remembered as parsed: it needs no checks."""
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    _LOADED[pem] = key
    return pem


def _load_private(private_pem: bytes, origin: str = "private key") -> PrivateKey:
    """Parse a PEM private key (PKCS#8 or PKCS#1) of a type DKIM can sign with."""
    if (known := _LOADED.get(private_pem)) is not None:
        return known
    try:
        key = serialization.load_pem_private_key(private_pem, password=None)
    except TypeError:
        raise InvalidInput(f"{origin} is encrypted; OpenDKIM needs an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidInput(f"{origin} is not a PEM private key") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidInput(
                f"{origin} is a {key.key_size}-bit RSA key; DKIM needs at least {MIN_RSA_BITS}"
            )
    elif not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InvalidInput(f"{origin} is neither an RSA nor an Ed25519 key")
    _LOADED[private_pem] = key
    return key


def key_algorithm(private_pem: bytes) -> Algorithm:
    """The key type, "rsa" or "ed25519": the k= tag of its DNS record."""
    key = _load_private(private_pem)
    return "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ed25519"


def key_bits(private_pem: bytes) -> int:
    """RSA modulus size; 256 for Ed25519."""
    key = _load_private(private_pem)
    return key.key_size if isinstance(key, rsa.RSAPrivateKey) else 256


# ------------------------------------------------------------------ DNS value


def dns_value(private_pem: bytes) -> str:
    """The TXT value for the key's public half, as opendkim-genkey writes it (joined).

    RSA: `v=DKIM1; h=sha256; k=rsa; p=<base64 DER SubjectPublicKeyInfo>`;
    Ed25519 (RFC 8463): `v=DKIM1; h=sha256; k=ed25519; p=<base64 of the raw 32 bytes>`.
    """
    key = _load_private(private_pem)
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; h=sha256; k=rsa; p={base64.b64encode(der).decode('ascii')}"
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"v=DKIM1; h=sha256; k=ed25519; p={base64.b64encode(raw).decode('ascii')}"


def parse_tags(value: str) -> dict[str, str]:
    """RFC 6376 §3.2 tag-list → {tag: value}; whitespace around tags and values dropped."""
    tags: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue  # an empty spec, e.g. after a trailing ";"
        name, sep, val = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidInput(f"DKIM record: {part.strip()!r} is not tag=value")
        if name in tags:
            raise InvalidInput(f"DKIM record: tag {name!r} appears twice")
        tags[name] = val.strip()
    return tags


def public_key_from_dns_value(value: str) -> PublicKey:
    """The public key a DKIM TXT value publishes (InvalidInput if none or malformed)."""
    tags = parse_tags(value)
    if "v" in tags and tags["v"] != "DKIM1":
        raise InvalidInput(f"DKIM record: v={tags['v']} (expected DKIM1)")
    if "p" not in tags:
        raise InvalidInput("DKIM record has no p= tag")
    data = "".join(tags["p"].split())  # base64 may contain folding whitespace
    if not data:
        raise InvalidInput("DKIM record has an empty p= (the key is revoked)")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("DKIM record: p= is not valid base64") from None
    algorithm = tags.get("k", "rsa").lower()
    if algorithm == "rsa":
        try:
            public = serialization.load_der_public_key(raw)
        except (ValueError, UnsupportedAlgorithm):
            raise InvalidInput("DKIM record: p= is not a DER public key") from None
        if not isinstance(public, rsa.RSAPublicKey):
            raise InvalidInput("DKIM record: k=rsa but p= holds another key type")
        return public
    if algorithm == "ed25519":
        if len(raw) != 32:
            raise InvalidInput(f"DKIM record: an Ed25519 p= has 32 bytes, not {len(raw)}")
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    raise InvalidInput(f"DKIM record: unsupported key type k={algorithm}")


def dns_value_matches(value: str, private_pem: bytes) -> bool:
    """Does the TXT value publish the public half of `private_pem`? Keys compared, not text.

    A malformed or revoked record is simply no match; a bad private key raises.
    """
    key = _load_private(private_pem)
    try:
        published = public_key_from_dns_value(value)
    except InvalidInput:
        return False
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return (
            isinstance(published, rsa.RSAPublicKey)
            and published.public_numbers() == public.public_numbers()
        )
    return isinstance(published, ed25519.Ed25519PublicKey) and published.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) == public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# ------------------------------------------------------------------ <selector>.txt


def render_txt(domain: str, selector: str, value: str) -> str:
    """`<selector>.txt` exactly as opendkim-genkey writes it (a BIND zone fragment).

    Everything before p= forms the first quoted string; the key data after "p="
    follows in pieces of 250 characters, one per line, as genkey's loop cuts it
    (including its empty last string when the data is a multiple of 250 long).
    """
    for what, name in (("domain", domain), ("selector", selector)):
        check_component(what, name)
        if any(c.isspace() or c in '";\\()' for c in name):
            raise InvalidInput(f"invalid {what} for a zone file: {name!r}")
    if not value.isascii() or any(c in value for c in '"\\\r\n\t'):
        raise InvalidInput("DKIM record value must be printable ASCII without quotes")
    index = _p_tag_index(value)
    head, data = value[:index], value[index + 2 :]
    out = [f'{selector}._domainkey\tIN\tTXT\t( "{head}"\n\t  "p=']
    remaining, cur = len(data), 0
    while remaining > 0:  # genkey's loop, kept as is
        if remaining < GENKEY_CHUNK:
            out.append(data[cur:])
            remaining = 0
        else:
            out.append(data[cur : cur + GENKEY_CHUNK])
            out.append('"\n\t  "')
            cur += GENKEY_CHUNK
            remaining -= GENKEY_CHUNK
    out.append(f'" )  ; ----- DKIM key {selector} for {domain}\n')
    return "".join(out)


def _p_tag_index(value: str) -> int:
    """Offset of the `p=` tag (start of a tag spec), which genkey's layout needs."""
    offset = 0
    for part in value.split(";"):
        stripped = part.lstrip()
        if stripped.startswith("p="):
            return offset + len(part) - len(stripped)
        offset += len(part) + 1
    raise InvalidInput("DKIM record has no p= tag")


def txt_value(text: str) -> str:
    """The TXT value a `.txt` zone fragment publishes: its quoted strings, joined."""
    start, end = text.find("("), text.rfind(")")
    if start < 0 or end < start:
        raise InvalidInput("not an opendkim-genkey TXT fragment (no parentheses)")
    parts = text[start + 1 : end].split('"')
    if len(parts) % 2 == 0 or any(p.strip() for p in parts[0::2]):
        raise InvalidInput("not an opendkim-genkey TXT fragment (unbalanced quotes)")
    return "".join(parts[1::2])


# ------------------------------------------------------------------ files


def write_key_pair(
    key_dir: Path,
    domain: str,
    selector: str,
    private_pem: bytes,
    *,
    owner: tuple[int, int] | None,
    replace: bool = False,
) -> KeyFiles:
    """Write `<key_dir>/<domain>/<selector>.private` (0600) and `.txt` (0644).

    The domain directory (and key_dir) is made 0750 when missing; an existing .private is
    never overwritten (AlreadyExists) unless `replace` (the database's key over a file
    that differs). `owner` (uid, gid) applies to what is written.
    """
    directory, private, txt = key_paths(key_dir, domain, selector)
    value = dns_value(private_pem)  # also proves the key parses before anything is written
    text = render_txt(domain, selector, value)
    if not directory.parent.parent.is_dir():
        raise InvalidInput(f"cannot create DKIM key directory {key_dir}: its parent is missing")
    ensure_dir(directory.parent, DIR_MODE, owner)  # key_dir itself, when missing
    ensure_dir(directory, DIR_MODE, owner)
    atomic_write(private, private_pem, mode=PRIVATE_MODE, owner=owner, replace=replace)
    try:
        atomic_write(txt, text, mode=TXT_MODE, owner=owner, replace=True)
    except BaseException:
        with contextlib.suppress(OSError):
            private.unlink()  # no key without its record
        raise
    return KeyFiles(directory=directory, private=private, txt=txt, value=value)


def complete_key_pair(
    key_dir: Path,
    domain: str,
    selector: str,
    private_pem: bytes,
    *,
    owner: tuple[int, int] | None,
) -> Path | None:
    """Make a key file that was already there whole, as `write_key_pair` would have
    left it: its .txt written (when missing or for another key), the key's owner
    set, and what an interrupted write left behind (`.<name>.mailctl-*`, which may
    hold a private key) removed. Returns the .txt when it was written."""
    directory, private, txt = key_paths(key_dir, domain, selector)
    for leftover in directory.glob(f".{selector}.*.mailctl-*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    written = None
    text = render_txt(domain, selector, dns_value(private_pem))
    try:
        current = txt.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current is None or not dns_value_matches(txt_value(current), private_pem):
        atomic_write(txt, text, mode=TXT_MODE, owner=owner, replace=True)
        written = txt
    set_mode_owner(private, None, owner)
    return written


def load_existing_key(path: Path) -> bytes:
    """An existing private key file's bytes, for reuse, if OpenDKIM would accept it.

    Refused when group or others may read or write it (OpenDKIM's RequireSafeKeys
    refuses that too) or when it is not an unencrypted RSA (>= 1024 bits) or
    Ed25519 private key. The bytes come back unchanged (PKCS#1 or PKCS#8).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise InvalidInput(f"cannot read DKIM key {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"DKIM key {path} is not a regular file")
        if info.st_size > MAX_KEY_FILE:
            raise InvalidInput(f"DKIM key {path} is {info.st_size} bytes: too big for a key")
        if info.st_mode & 0o077:
            raise InvalidInput(
                f"DKIM key {path} has mode {stat.S_IMODE(info.st_mode):04o}: group/others may "
                f"access it and OpenDKIM refuses such keys; fix: chmod 600 {path}"
            )
        chunks: list[bytes] = []
        while chunk := os.read(fd, MAX_KEY_FILE + 1):
            chunks.append(chunk)
    except OSError as exc:
        raise InvalidInput(f"cannot read DKIM key {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    _load_private(data, origin=f"DKIM key {path}")
    return data
