"""mailctl.dkim.keyfiles: key generation, DNS value, opendkim-genkey's .txt layout, key files."""

from __future__ import annotations

import base64
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from support.env import need, program

from mailctl.dkim import keyfiles as dkim
from mailctl.errors import AlreadyExists, InvalidInput
from mailctl.system.owners import resolve_owner

DOMAIN = "example.nl"
SELECTOR = "mail"


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    return dkim.generate_rsa_key(1024)


@pytest.fixture(scope="module")
def other_rsa_pem() -> bytes:
    return dkim.generate_rsa_key(1024)


@pytest.fixture
def umask() -> Iterator[None]:
    """A strict umask, to prove modes are set exactly and not left to it."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def genkey(tmp_path: Path, bits: int) -> Path:
    """Run the real opendkim-genkey; return the directory holding mail.private/mail.txt."""
    out = tmp_path / f"genkey-{bits}"
    out.mkdir()
    subprocess.run(
        [program("opendkim-genkey"), "-b", str(bits), "-D", str(out), "-d", DOMAIN, "-s", SELECTOR],
        check=True,
        timeout=120,
    )
    return out


# ------------------------------------------------------------------ generation


def test_rsa_key_is_pkcs8_pem_of_the_requested_size(rsa_pem: bytes) -> None:
    assert rsa_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert rsa_pem.rstrip().endswith(b"-----END PRIVATE KEY-----")
    key = serialization.load_pem_private_key(rsa_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 1024
    assert key.public_key().public_numbers().e == 65537
    assert dkim.key_bits(rsa_pem) == 1024
    assert dkim.key_algorithm(rsa_pem) == "rsa"


def test_rsa_2048() -> None:
    pem = dkim.generate_rsa_key(2048)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert dkim.key_bits(pem) == 2048


def test_keys_are_fresh(rsa_pem: bytes, other_rsa_pem: bytes) -> None:
    assert rsa_pem != other_rsa_pem


@pytest.mark.parametrize("bits", [0, 512, 1023, 8193, -2048])
def test_bad_rsa_sizes_refused(bits: int) -> None:
    with pytest.raises(InvalidInput, match="RSA key size"):
        dkim.generate_rsa_key(bits)


def test_non_int_size_refused() -> None:
    with pytest.raises(InvalidInput):
        dkim.generate_rsa_key(True)
    with pytest.raises(InvalidInput):
        dkim.generate_rsa_key("2048")  # type: ignore[arg-type]


def test_ed25519_key() -> None:
    pem = dkim.generate_ed25519_key()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert dkim.key_algorithm(pem) == "ed25519"
    assert dkim.key_bits(pem) == 256


# ------------------------------------------------------------------ DNS value


def test_rsa_dns_value_is_the_spki(rsa_pem: bytes) -> None:
    value = dkim.dns_value(rsa_pem)
    match = re.fullmatch(r"v=DKIM1; h=sha256; k=rsa; p=([A-Za-z0-9+/]+=*)", value)
    assert match
    der = base64.b64decode(match.group(1))
    key = serialization.load_pem_private_key(rsa_pem, password=None)
    assert der == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert der.startswith(bytes.fromhex("30819f300d06092a864886f70d010101"))  # rsaEncryption


def test_ed25519_dns_value_is_the_raw_key() -> None:
    pem = dkim.generate_ed25519_key()
    value = dkim.dns_value(pem)
    match = re.fullmatch(r"v=DKIM1; h=sha256; k=ed25519; p=([A-Za-z0-9+/]+=*)", value)
    assert match
    raw = base64.b64decode(match.group(1))
    assert len(raw) == 32
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert raw == key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert dkim.dns_value_matches(value, pem)


def test_matches_compares_keys_not_text(rsa_pem: bytes, other_rsa_pem: bytes) -> None:
    value = dkim.dns_value(rsa_pem)
    p = value.split("p=", 1)[1]
    # other spellings of the same record: no h=, spaces, p= folded, k= left to default
    for same in (
        value,
        f"v=DKIM1; k=rsa; p={p}",
        f"v=DKIM1;k=rsa;p={p};",
        f"p={p[:100]} {p[100:200]}\t{p[200:]}",
        f"  v=DKIM1 ;  p = {p}  ",
    ):
        assert dkim.dns_value_matches(same, rsa_pem), same
    assert not dkim.dns_value_matches(dkim.dns_value(other_rsa_pem), rsa_pem)
    assert not dkim.dns_value_matches(value, other_rsa_pem)
    ed = dkim.generate_ed25519_key()
    assert not dkim.dns_value_matches(dkim.dns_value(ed), rsa_pem)
    assert not dkim.dns_value_matches(value, ed)


@pytest.mark.parametrize(
    "value",
    [
        "v=DKIM1; k=rsa; p=",  # revoked
        "v=DKIM1; k=rsa",
        "v=DKIM1; k=rsa; p=not*base64",
        "v=DKIM1; k=rsa; p=AAAA",
        "v=DKIM2; k=rsa; p=AAAA",
        "v=DKIM1; k=dsa; p=AAAA",
        "v=DKIM1; k=ed25519; p=AAAA",
        "garbage",
        "",
    ],
)
def test_malformed_records_never_match(value: str, rsa_pem: bytes) -> None:
    assert not dkim.dns_value_matches(value, rsa_pem)
    with pytest.raises(InvalidInput):
        dkim.public_key_from_dns_value(value)


def test_public_key_from_dns_value(rsa_pem: bytes) -> None:
    public = dkim.public_key_from_dns_value(dkim.dns_value(rsa_pem))
    assert isinstance(public, rsa.RSAPublicKey)
    key = serialization.load_pem_private_key(rsa_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert public.public_numbers() == key.public_key().public_numbers()


def test_bad_private_key_raises() -> None:
    with pytest.raises(InvalidInput, match="not a PEM private key"):
        dkim.dns_value(b"nonsense")
    with pytest.raises(InvalidInput, match="neither an RSA nor an Ed25519"):
        dkim.dns_value(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


# ------------------------------------------------------------------ .txt layout


@pytest.mark.parametrize("bits", [1024, 2048])
def test_render_txt_equals_opendkim_genkey(tmp_path: Path, bits: int) -> None:
    made = genkey(tmp_path, bits)
    pem = (made / "mail.private").read_bytes()
    value = dkim.dns_value(pem)
    expected = (made / "mail.txt").read_bytes()
    rendered = dkim.render_txt(DOMAIN, SELECTOR, value)
    assert rendered.encode() == expected
    assert dkim.txt_value(expected.decode()) == value


def test_render_txt_layout(rsa_pem: bytes) -> None:
    value = dkim.dns_value(rsa_pem)
    text = dkim.render_txt(DOMAIN, SELECTOR, value)
    lines = text.split("\n")
    assert lines[0] == 'mail._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; "'
    assert lines[1].startswith('\t  "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ')
    assert lines[-2].endswith('" )  ; ----- DKIM key mail for example.nl')
    assert lines[-1] == ""  # one trailing newline
    for line in lines[1:-1]:
        quoted = re.findall(r'"([^"]*)"', line)
        assert len(quoted) == 1 and len(quoted[0]) <= 255


@pytest.mark.parametrize(
    ("length", "pieces"),
    [(1, ["p=A"]), (249, ["p=" + "A" * 249]), (251, ["p=" + "A" * 250, "A"])],
)
def test_render_txt_cuts_like_genkey(length: int, pieces: list[str]) -> None:
    text = dkim.render_txt("example.nl", "s1", "v=DKIM1; k=rsa; p=" + "A" * length)
    body = text.split("\n")[1:-1]
    assert [re.findall(r'"([^"]*)"', line)[0] for line in body] == pieces


def test_render_txt_keeps_genkeys_empty_string_at_multiples_of_250() -> None:
    # genkey's loop prints a separator after every full 250-character piece, so
    # data of exactly 250 (or 500) characters ends with an empty "" string.
    text = dkim.render_txt("example.nl", "s1", "v=DKIM1; k=rsa; p=" + "B" * 250)
    assert text == (
        's1._domainkey\tIN\tTXT\t( "v=DKIM1; k=rsa; "\n'
        '\t  "p=' + "B" * 250 + '"\n'
        '\t  "" )  ; ----- DKIM key s1 for example.nl\n'
    )
    assert dkim.txt_value(text) == "v=DKIM1; k=rsa; p=" + "B" * 250


@pytest.mark.parametrize(
    ("domain", "selector", "value"),
    [
        ("example.nl", "mail", 'v=DKIM1; k=rsa; p=AB"CD'),
        ("example.nl", "mail", "v=DKIM1; k=rsa; p=AB\nCD"),
        ("example.nl", "mail", "v=DKIM1; k=rsa"),
        ("example.nl", "ma il", "v=DKIM1; p=AA"),
        ("exa\nmple.nl", "mail", "v=DKIM1; p=AA"),
        ("../etc", "mail", "v=DKIM1; p=AA"),
        ("", "mail", "v=DKIM1; p=AA"),
    ],
)
def test_render_txt_refuses_what_would_break_the_zone(
    domain: str, selector: str, value: str
) -> None:
    with pytest.raises(InvalidInput):
        dkim.render_txt(domain, selector, value)


def test_txt_value_rejects_non_fragments() -> None:
    with pytest.raises(InvalidInput):
        dkim.txt_value("no parentheses here")
    with pytest.raises(InvalidInput):
        dkim.txt_value('x IN TXT ( "unbalanced )')


# ------------------------------------------------------------------ key files


@pytest.mark.usefixtures("umask")
def test_write_key_pair_modes(tmp_path: Path, rsa_pem: bytes) -> None:
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    files = dkim.write_key_pair(key_dir, DOMAIN, SELECTOR, rsa_pem, owner=None)
    assert files.directory == key_dir.resolve() / DOMAIN
    assert files.private == files.directory / "mail.private"
    assert files.txt == files.directory / "mail.txt"
    assert mode(files.directory) == 0o750
    assert mode(files.private) == 0o600
    assert mode(files.txt) == 0o644
    assert files.private.read_bytes() == rsa_pem
    assert files.txt.read_text() == dkim.render_txt(DOMAIN, SELECTOR, dkim.dns_value(rsa_pem))
    assert files.value == dkim.dns_value(rsa_pem)
    assert sorted(p.name for p in files.directory.iterdir()) == ["mail.private", "mail.txt"]


def test_write_key_pair_loose_umask_still_exact(tmp_path: Path, rsa_pem: bytes) -> None:
    old = os.umask(0)
    try:
        files = dkim.write_key_pair(tmp_path / "keys", DOMAIN, SELECTOR, rsa_pem, owner=None)
    finally:
        os.umask(old)
    assert mode(files.directory) == 0o750
    assert mode(files.directory.parent) == 0o750  # key_dir was missing: made like a key dir
    assert mode(files.private) == 0o600
    assert mode(files.txt) == 0o644


def test_second_selector_in_existing_directory(tmp_path: Path, rsa_pem: bytes) -> None:
    first = dkim.write_key_pair(tmp_path, DOMAIN, "mail", rsa_pem, owner=None)
    second = dkim.write_key_pair(tmp_path, DOMAIN, "mail2026", rsa_pem, owner=None)
    assert first.directory == second.directory
    assert second.private.name == "mail2026.private"


def test_existing_private_key_is_never_overwritten(
    tmp_path: Path, rsa_pem: bytes, other_rsa_pem: bytes
) -> None:
    files = dkim.write_key_pair(tmp_path, DOMAIN, SELECTOR, rsa_pem, owner=None)
    txt_before = files.txt.read_bytes()
    with pytest.raises(AlreadyExists):
        dkim.write_key_pair(tmp_path, DOMAIN, SELECTOR, other_rsa_pem, owner=None)
    assert files.private.read_bytes() == rsa_pem
    assert files.txt.read_bytes() == txt_before
    assert sorted(p.name for p in files.directory.iterdir()) == ["mail.private", "mail.txt"]


@pytest.mark.parametrize(
    ("domain", "selector"),
    [
        ("../x", "mail"),
        ("a/b", "mail"),
        (".hidden", "mail"),
        ("", "mail"),
        ("..", "mail"),
        (".", "mail"),
        ("a\x00b", "mail"),
        ("/etc", "mail"),
        ("example.nl", "../x"),
        ("example.nl", "a/b"),
        ("example.nl", ".hidden"),
        ("example.nl", ""),
        ("example.nl", "a\x00b"),
        ("example.nl", "a\nb"),
    ],
)
def test_unsafe_names_refused(tmp_path: Path, rsa_pem: bytes, domain: str, selector: str) -> None:
    base = tmp_path / "base"
    key_dir = base / "keys"
    key_dir.mkdir(parents=True)
    with pytest.raises(InvalidInput):
        dkim.write_key_pair(key_dir, domain, selector, rsa_pem, owner=None)
    assert list(base.rglob("*")) == [key_dir]  # nothing written, inside or next to key_dir


def test_symlinked_domain_directory_refused(tmp_path: Path, rsa_pem: bytes) -> None:
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (key_dir / DOMAIN).symlink_to(outside)
    with pytest.raises(InvalidInput, match="outside"):
        dkim.write_key_pair(key_dir, DOMAIN, SELECTOR, rsa_pem, owner=None)
    assert list(outside.iterdir()) == []


def test_invalid_key_writes_nothing(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    with pytest.raises(InvalidInput):
        dkim.write_key_pair(key_dir, DOMAIN, SELECTOR, b"not a key", owner=None)
    assert not key_dir.exists()


def test_missing_parent_of_key_dir_refused(tmp_path: Path, rsa_pem: bytes) -> None:
    with pytest.raises(InvalidInput, match="parent is missing"):
        dkim.write_key_pair(tmp_path / "a" / "keys", DOMAIN, SELECTOR, rsa_pem, owner=None)


def test_owner_applied(tmp_path: Path, rsa_pem: bytes) -> None:
    need(os.geteuid() == 0, "chown needs root")
    files = dkim.write_key_pair(tmp_path, DOMAIN, SELECTOR, rsa_pem, owner=(4321, 4322))
    for path in (files.directory, files.private, files.txt):
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (4321, 4322), path
    assert mode(files.private) == 0o600


def test_resolve_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert resolve_owner("root", "root") == ((0, 0), None)
    owner, note = resolve_owner("no-such-user-mailctl", "root")
    assert owner is None and note and "no-such-user-mailctl" in note and "\n" not in note
    owner, note = resolve_owner("root", "no-such-group-mailctl")
    assert owner is None and note and "no-such-group-mailctl" in note
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    owner, note = resolve_owner("root", "root")
    assert owner is None and note and "not running as root" in note


# ------------------------------------------------------------------ existing keys


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_load_existing_key_refuses_loose_modes(tmp_path: Path, rsa_pem: bytes, loose: int) -> None:
    path = tmp_path / "mail.private"
    path.write_bytes(rsa_pem)
    os.chmod(path, loose)
    with pytest.raises(InvalidInput, match=re.escape(f"chmod 600 {path}")):
        dkim.load_existing_key(path)


@pytest.mark.parametrize("bits", [1024, 2048])
def test_load_existing_key_accepts_genkey_output(tmp_path: Path, bits: int) -> None:
    made = genkey(tmp_path, bits)
    path = made / "mail.private"
    os.chmod(path, 0o600)
    pem = dkim.load_existing_key(path)
    assert pem == path.read_bytes()  # reused unchanged
    assert dkim.key_bits(pem) == bits
    assert dkim.render_txt(DOMAIN, SELECTOR, dkim.dns_value(pem)) == (made / "mail.txt").read_text()


def test_load_existing_key_accepts_pkcs1(tmp_path: Path, rsa_pem: bytes) -> None:
    key = serialization.load_pem_private_key(rsa_pem, password=None)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    path = tmp_path / "old.private"
    path.write_bytes(pkcs1)
    os.chmod(path, 0o600)
    assert dkim.load_existing_key(path) == pkcs1
    assert dkim.dns_value(pkcs1) == dkim.dns_value(rsa_pem)


def test_load_existing_key_refuses_non_keys(tmp_path: Path, rsa_pem: bytes) -> None:
    path = tmp_path / "mail.private"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    os.chmod(path, 0o600)
    with pytest.raises(InvalidInput, match=re.escape(str(path))):
        dkim.load_existing_key(path)
    key = serialization.load_pem_private_key(rsa_pem, password=None)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(InvalidInput, match="encrypted"):
        dkim.load_existing_key(path)
    with pytest.raises(InvalidInput, match="cannot read"):
        dkim.load_existing_key(tmp_path / "missing.private")
    with pytest.raises(InvalidInput):
        dkim.load_existing_key(tmp_path)


# ------------------------------------------------------------------ independent check


def _sign_and_verify(files: dkim.KeyFiles, pem: bytes, record: bytes) -> bool:
    message = (
        b"From: Joe <joe@example.nl>\r\n"
        b"To: someone@example.org\r\n"
        b"Subject: test\r\n"
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
        b"Message-ID: <t1@example.nl>\r\n"
        b"\r\n"
        b"Hello.\r\n"
    )
    signature = dkimpy.sign(
        message, SELECTOR.encode(), DOMAIN.encode(), pem, include_headers=[b"from", b"subject"]
    )
    assert signature.startswith(b"DKIM-Signature:")

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail._domainkey.example.nl."
        return record

    return bool(dkimpy.verify(signature + message, dnsfunc=dnsfunc))


def test_dkimpy_verifies_against_the_written_txt(
    tmp_path: Path, rsa_pem: bytes, other_rsa_pem: bytes
) -> None:
    files = dkim.write_key_pair(tmp_path, DOMAIN, SELECTOR, rsa_pem, owner=None)
    record = dkim.txt_value(files.txt.read_text())
    assert record == files.value
    assert _sign_and_verify(files, rsa_pem, record.encode())
    assert not _sign_and_verify(files, rsa_pem, dkim.dns_value(other_rsa_pem).encode())
