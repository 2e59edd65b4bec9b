"""mailctl.passwords.hashing: formats, round trips, policy, and agreement with doveadm."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from support.mailconfig import MailConfig

from mailctl.errors import InvalidInput, PasswordRejected
from mailctl.passwords import hashing as passwords
from mailctl.passwords.hashing import (
    SCHEMES_VERIFY,
    SCHEMES_WRITE,
    check_password_policy,
    generate_password,
    hash_password,
    scheme_of,
    sha512_backend,
    verify_password,
)

FAST = 4  # bcrypt cost for speed

SHA512_RE = re.compile(r"\{SHA512-CRYPT\}\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}")
BLF_RE = re.compile(r"\{BLF-CRYPT\}\$2y\$(\d\d)\$[./0-9A-Za-z]{53}")
ARGON2ID_RE = re.compile(
    r"\{ARGON2ID\}\$argon2id\$v=19\$m=65536,t=3,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}"
)

# From the SHA-crypt specification (implicit 5000 rounds).
KAT_SETTING = "$6$saltstring"
KAT_RESULT = (
    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdc"
    "bYEdFCoEOfaS35inz1"
)


def _crypt_module() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return importlib.import_module("crypt")
        except ImportError:
            return None


def _hash(password: str, scheme: str) -> str:
    return hash_password(password, scheme, bcrypt_cost=FAST)


# ---------------------------------------------------------------- formats


def test_scheme_tuples() -> None:
    assert SCHEMES_WRITE == ("SHA512-CRYPT", "BLF-CRYPT", "ARGON2ID")
    for name in (*SCHEMES_WRITE, "SHA256-CRYPT", "MD5-CRYPT", "CRYPT"):
        assert name in SCHEMES_VERIFY


def test_sha512_format_without_rounds() -> None:
    hashed = hash_password("correct horse")
    assert SHA512_RE.fullmatch(hashed), hashed
    assert "rounds=" not in hashed


def test_sha512_salts_differ() -> None:
    assert hash_password("same") != hash_password("same")


@pytest.mark.parametrize("cost", [FAST, 6])
def test_blf_format_2y_and_cost(cost: int) -> None:
    hashed = hash_password("correct horse", "BLF-CRYPT", bcrypt_cost=cost)
    match = BLF_RE.fullmatch(hashed)
    assert match, hashed
    assert int(match.group(1)) == cost


def test_blf_default_cost_is_10() -> None:
    hashed = hash_password("correct horse", "BLF-CRYPT")
    assert hashed.startswith("{BLF-CRYPT}$2y$10$")
    assert verify_password("correct horse", hashed)


@pytest.mark.parametrize("cost", [3, 32, 0, -1])
def test_blf_cost_out_of_range(cost: int) -> None:
    with pytest.raises(InvalidInput, match="4 to 31"):
        hash_password("pw", "BLF-CRYPT", bcrypt_cost=cost)


def test_argon2id_format() -> None:
    hashed = hash_password("correct horse", "ARGON2ID")
    assert ARGON2ID_RE.fullmatch(hashed), hashed


@pytest.mark.parametrize("scheme", ["sha512-crypt", "Blf-Crypt", "argon2id", " {ARGON2ID} "])
def test_scheme_name_case_insensitive(scheme: str) -> None:
    hashed = _hash("pw", scheme)
    assert hashed.startswith("{" + scheme.strip(" {}").upper() + "}")


def test_unknown_scheme_names_value_and_choices() -> None:
    with pytest.raises(InvalidInput) as info:
        hash_password("pw", "SHA1")
    message = str(info.value)
    assert "'SHA1'" in message
    for name in SCHEMES_WRITE:
        assert name in message
    assert not isinstance(info.value, PasswordRejected)


def test_verify_only_scheme_cannot_be_written() -> None:
    with pytest.raises(InvalidInput, match="MD5-CRYPT"):
        hash_password("pw", "MD5-CRYPT")


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("scheme", SCHEMES_WRITE)
@pytest.mark.parametrize("password", ["correct horse", "pässwörd €", "x"])
def test_round_trip(scheme: str, password: str) -> None:
    hashed = _hash(password, scheme)
    assert verify_password(password, hashed) is True
    assert verify_password(password + "!", hashed) is False
    assert verify_password("", hashed) is False


@pytest.mark.parametrize("scheme", SCHEMES_WRITE)
def test_prefix_is_case_insensitive_on_verify(scheme: str) -> None:
    hashed = _hash("pw", scheme)
    end = hashed.index("}")
    lowered = hashed[: end + 1].lower() + hashed[end + 1 :]
    assert verify_password("pw", lowered)
    assert scheme_of(lowered) == scheme


@pytest.mark.parametrize("scheme", SCHEMES_WRITE)
def test_unprefixed_hash_uses_default_scheme(scheme: str) -> None:
    bare = _hash("pw", scheme).split("}", 1)[1]
    assert verify_password("pw", bare, default_scheme=scheme)
    assert not verify_password("wrong", bare, default_scheme=scheme)
    assert scheme_of(bare, scheme.lower()) == scheme


def test_unprefixed_sha512_with_builtin_default() -> None:
    bare = hash_password("pw").removeprefix("{SHA512-CRYPT}")
    assert verify_password("pw", bare)
    assert scheme_of(bare) == "SHA512-CRYPT"


def test_unprefixed_bcrypt_under_argon2_default_is_malformed() -> None:
    bare = _hash("pw", "BLF-CRYPT").removeprefix("{BLF-CRYPT}")
    with pytest.raises(InvalidInput, match="ARGON2ID"):
        verify_password("pw", bare, default_scheme="ARGON2ID")


def test_bcrypt_prefix_variants_accepted() -> None:
    hashed = _hash("pw", "BLF-CRYPT")
    for prefix in ("$2a$", "$2b$", "$2y$"):
        variant = hashed.replace("$2y$", prefix, 1)
        assert verify_password("pw", variant)
        assert not verify_password("pW", variant)


def test_crypt_family_accepts_any_crypt_format_like_dovecot() -> None:
    # Dovecot's *-CRYPT schemes all call crypt(3); a $2y$ or $6$ hash verifies
    # under {CRYPT} and a bcrypt hash under {SHA512-CRYPT}.
    bcrypt_hash = _hash("pw", "BLF-CRYPT").removeprefix("{BLF-CRYPT}")
    sha_hash = hash_password("pw").removeprefix("{SHA512-CRYPT}")
    for stored in (bcrypt_hash, sha_hash):
        for label in ("CRYPT", "SHA512-CRYPT", "MD5-CRYPT"):
            assert verify_password("pw", "{" + label + "}" + stored)
            assert not verify_password("no", "{" + label + "}" + stored)


YESCRYPT = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$U4SOHmDd8SvW5vCUKSMR6N835VPwFAtgYNhQ9mFFeL5"


def test_crypt_passes_other_libxcrypt_formats_through() -> None:
    # e.g. yescrypt from /etc/shadow, which Dovecot's {CRYPT} accepts via libxcrypt
    if sha512_backend() == "passlib" or passwords._c_crypt() is None:
        pytest.skip("no C crypt(3)")
    if not verify_password("pw", "{CRYPT}" + YESCRYPT):
        pytest.skip("this libcrypt has no yescrypt")
    assert not verify_password("px", "{CRYPT}" + YESCRYPT)


def test_argon2i_verified() -> None:
    from argon2 import PasswordHasher, Type

    stored = "{ARGON2I}" + PasswordHasher(
        time_cost=1, memory_cost=8, parallelism=1, type=Type.I
    ).hash("pw")
    assert verify_password("pw", stored)
    assert not verify_password("px", stored)


def test_bcrypt_verify_truncates_like_dovecot() -> None:
    hashed = _hash("a" * 72, "BLF-CRYPT")
    assert verify_password("a" * 72 + "ignored", hashed)


def test_nul_in_password_never_verifies() -> None:
    assert not verify_password("pw\x00", hash_password("pw"))


def test_undecodable_password() -> None:
    bad = b"pw\xff".decode("utf-8", "surrogateescape")
    with pytest.raises(PasswordRejected, match="not valid Unicode"):
        hash_password(bad)
    assert not verify_password(bad, hash_password("pw"))


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "stored",
    [
        "{SHA512-CRYPT}garbage",
        "{SHA512-CRYPT}",
        "{SHA512-CRYPT}$6$salt$tooshort",
        "{BLF-CRYPT}$6$abc$def",
        "{BLF-CRYPT}$2y$05$short",
        "{ARGON2ID}$argon2id$v=19$m=65536$nope",
        "{ARGON2ID}plain",
        "{SHA512-CRYPT",
        "{}$6$x",
        "{SHA256-CRYPT}$5$salt$short",
        "{MD5-CRYPT}$1$abc",
        "{CRYPT}$9$nonsense",
        "not-a-hash",
    ],
)
def test_malformed_hash_raises(stored: str) -> None:
    with pytest.raises(InvalidInput, match="malformed"):
        verify_password("pw", stored)


@pytest.mark.parametrize("stored", ["{PLAIN}pw", "{SSHA512}abc", "{sha1}abc"])
def test_unknown_stored_scheme_raises(stored: str) -> None:
    with pytest.raises(InvalidInput) as info:
        verify_password("pw", stored)
    assert "unknown password scheme" in str(info.value)
    assert "SHA512-CRYPT" in str(info.value)


def test_unknown_default_scheme_raises() -> None:
    with pytest.raises(InvalidInput, match="'PLAIN'"):
        verify_password("pw", "pw", default_scheme="PLAIN")


def test_scheme_of() -> None:
    assert scheme_of("{blf-crypt}$2y$10$x") == "BLF-CRYPT"
    assert scheme_of("{PLAIN}secret") == "PLAIN"
    assert scheme_of("$6$abc$def", "sha256-crypt") == "SHA256-CRYPT"
    assert scheme_of("$1$abc$def", "BLF-CRYPT") == "MD5-CRYPT"  # as Dovecot does
    with pytest.raises(InvalidInput):
        scheme_of("{broken")


# ---------------------------------------------------------------- policy


@pytest.mark.parametrize("scheme", SCHEMES_WRITE)
def test_empty_password_refused(scheme: str) -> None:
    with pytest.raises(PasswordRejected, match="empty"):
        hash_password("", scheme)
    with pytest.raises(PasswordRejected, match="empty"):
        check_password_policy("", min_length=0, scheme=scheme)


@pytest.mark.parametrize("scheme", SCHEMES_WRITE)
def test_nul_refused(scheme: str) -> None:
    with pytest.raises(PasswordRejected, match="NUL"):
        hash_password("ab\x00cd", scheme)


def test_min_length_message_without_password() -> None:
    secret = "Sekr1tXYZ"
    with pytest.raises(PasswordRejected) as info:
        check_password_policy(secret, min_length=12, scheme="SHA512-CRYPT")
    message = str(info.value)
    assert message == "password is 9 characters; at least 12 required"
    assert secret not in message


def test_min_length_counts_characters_not_bytes() -> None:
    check_password_policy("ééééé", min_length=5, scheme="ARGON2ID")
    with pytest.raises(PasswordRejected, match="password is 5 characters; at least 6"):
        check_password_policy("ééééé", min_length=6, scheme="ARGON2ID")


def test_policy_unknown_scheme() -> None:
    with pytest.raises(InvalidInput, match="'NOPE'"):
        check_password_policy("long enough pw", min_length=8, scheme="NOPE")


def test_blf_72_bytes_ok_73_refused() -> None:
    ok = "a" * 72
    check_password_policy(ok, min_length=8, scheme="BLF-CRYPT")
    assert verify_password(ok, _hash(ok, "BLF-CRYPT"))
    too_long = "Q" * 73
    for call in (
        lambda: check_password_policy(too_long, min_length=8, scheme="BLF-CRYPT"),
        lambda: _hash(too_long, "blf-crypt"),
    ):
        with pytest.raises(PasswordRejected) as info:
            call()
        assert "BLF-CRYPT cannot use more than 72 bytes" in str(info.value)
        assert too_long not in str(info.value)


def test_blf_limit_counts_utf8_bytes() -> None:
    ok = "é" * 36  # 36 characters, 72 bytes
    check_password_policy(ok, min_length=8, scheme="BLF-CRYPT")
    assert verify_password(ok, _hash(ok, "BLF-CRYPT"))
    too_long = "é" * 36 + "a"  # 37 characters, 73 bytes
    with pytest.raises(PasswordRejected, match="73 bytes"):
        check_password_policy(too_long, min_length=8, scheme="BLF-CRYPT")
    with pytest.raises(PasswordRejected, match="72 bytes"):
        _hash("€" * 25, "BLF-CRYPT")  # 25 characters, 75 bytes


@pytest.mark.parametrize("scheme", ["SHA512-CRYPT", "ARGON2ID"])
def test_long_passwords_fine_for_other_schemes(scheme: str) -> None:
    long_pw = "é" * 100
    check_password_policy(long_pw, min_length=8, scheme=scheme)
    hashed = _hash(long_pw, scheme)
    assert verify_password(long_pw, hashed)
    assert not verify_password(long_pw[:-1], hashed)


# ---------------------------------------------------------------- generator


def test_generate_password() -> None:
    pw = generate_password()
    assert re.fullmatch(r"[A-Za-z0-9]{20}", pw)
    assert len(generate_password(1)) == 1
    assert len(generate_password(64)) == 64
    assert len({generate_password() for _ in range(20)}) == 20
    with pytest.raises(InvalidInput):
        generate_password(0)


# ---------------------------------------------------------------- backends


def test_sha512_backend_reported() -> None:
    assert sha512_backend() in {"crypt-module", "libxcrypt-ctypes", "passlib"}
    if _crypt_module() is not None:
        assert sha512_backend() == "crypt-module"


def test_no_deprecation_warning_leaks() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        passwords._crypt_module_func()
        hash_password("pw")


def _libxcrypt_or_skip() -> None:
    if passwords._load_libxcrypt() is None:
        if os.environ.get("MAILCTL_TEST_STRICT") == "1":
            pytest.fail("libcrypt (libxcrypt) not loadable through ctypes")
        pytest.skip("libcrypt not loadable through ctypes")


def test_libxcrypt_ctypes_known_answer() -> None:
    _libxcrypt_or_skip()
    result = passwords._libxcrypt_crypt(b"Hello world!", KAT_SETTING.encode())
    assert result.decode() == KAT_RESULT


@pytest.mark.parametrize(
    "setting",
    ["$6$fixedSALT./0123", "$6$rounds=10000$fixedSALT", "$5$fixedSALT./0123", "$1$fixedSAL"],
)
def test_libxcrypt_ctypes_matches_crypt_module(setting: str) -> None:
    _libxcrypt_or_skip()
    module = _crypt_module()
    if module is None:
        pytest.skip("no stdlib crypt module on this Python")
    for password in ("pw", "pässwörd", "x" * 200):
        expected = module.crypt(password, setting)
        got = passwords._libxcrypt_crypt(password.encode(), setting.encode()).decode()
        assert got == expected


def test_libxcrypt_ctypes_refuses_bad_setting() -> None:
    _libxcrypt_or_skip()
    with pytest.raises(ValueError):
        passwords._libxcrypt_crypt(b"pw", b"$9$nonsense")


def _force_backend(
    monkeypatch: pytest.MonkeyPatch, backend: tuple[str, Callable[[str, str], str | None]] | None
) -> None:
    monkeypatch.setattr(passwords, "_c_crypt", lambda: backend)


@pytest.mark.parametrize("backend", ["libxcrypt-ctypes", "passlib"])
def test_forced_backends_hash_and_verify(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    if backend == "libxcrypt-ctypes":
        _libxcrypt_or_skip()
        _force_backend(monkeypatch, (backend, passwords._ctypes_crypt))
    else:
        _force_backend(monkeypatch, None)
    assert sha512_backend() == backend
    assert passwords._sha512_crypt("Hello world!", "saltstring") == KAT_RESULT
    hashed = hash_password("pässwörd")
    assert SHA512_RE.fullmatch(hashed)
    assert verify_password("pässwörd", hashed)
    assert not verify_password("passwort", hashed)


def test_passlib_fallback_verifies_legacy_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    from passlib.hash import des_crypt, md5_crypt, sha256_crypt

    _force_backend(monkeypatch, None)
    legacy = {
        "SHA256-CRYPT": sha256_crypt.using(rounds=5000).hash("pw"),
        "MD5-CRYPT": md5_crypt.hash("pw"),
        "CRYPT": des_crypt.hash("pw"),
    }
    for label, bare in legacy.items():
        stored = "{" + label + "}" + bare
        assert verify_password("pw", stored)
        assert not verify_password("px", stored)


# ---------------------------------------------------------------- real Dovecot


@pytest.fixture(scope="module")
def doveadm(mail_config: MailConfig) -> list[str]:
    """doveadm on the suite's private dovecot.conf, checked to work."""
    argv = mail_config.doveadm
    probe = subprocess.run(
        [*argv, "pw", "-s", "PLAIN", "-p", "probe"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.fail(f"`doveadm pw` does not work here: {probe.stderr.strip()}")
    return argv


def _doveadm_test(
    doveadm: list[str], stored: str, password: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*doveadm, "pw", "-t", stored, "-p", password],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _doveadm_hash(doveadm: list[str], scheme: str, password: str) -> str:
    result = subprocess.run(
        [*doveadm, "pw", "-s", scheme, "-p", password],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


@pytest.mark.tools
@pytest.mark.parametrize("scheme", SCHEMES_WRITE)
@pytest.mark.parametrize("password", ["correct horse", "pässwörd €"])
def test_doveadm_verifies_our_hashes(doveadm: list[str], scheme: str, password: str) -> None:
    stored = _hash(password, scheme)
    ok = _doveadm_test(doveadm, stored, password)
    assert ok.returncode == 0, ok.stderr
    assert "(verified)" in ok.stdout
    bad = _doveadm_test(doveadm, stored, password + "x")
    assert bad.returncode == 75, (bad.returncode, bad.stdout, bad.stderr)
    assert "(verified)" not in bad.stdout


@pytest.mark.tools
def test_doveadm_verifies_default_cost_and_72_bytes(doveadm: list[str]) -> None:
    password = "é" * 35 + "ab"  # 72 bytes
    stored = hash_password(password, "BLF-CRYPT")
    assert stored.startswith("{BLF-CRYPT}$2y$10$")
    assert _doveadm_test(doveadm, stored, password).returncode == 0
    assert _doveadm_test(doveadm, stored, password[:-1]).returncode == 75


@pytest.mark.tools
@pytest.mark.parametrize(
    "scheme",
    [
        "SHA512-CRYPT",
        "BLF-CRYPT",
        "ARGON2ID",
        "ARGON2I",
        "SHA256-CRYPT",
        "MD5-CRYPT",
        "CRYPT",
        "DES-CRYPT",
    ],
)
def test_we_verify_doveadm_hashes(doveadm: list[str], scheme: str) -> None:
    password = "pässwörd" if scheme != "DES-CRYPT" else "pw4des"
    stored = _doveadm_hash(doveadm, scheme, password)
    assert stored.startswith("{" + scheme + "}"), stored
    assert scheme_of(stored) == scheme
    assert verify_password(password, stored) is True
    assert verify_password(password + "x", stored) is False
    assert verify_password("", stored) is False


@pytest.mark.tools
def test_doveadm_agrees_on_yescrypt(doveadm: list[str]) -> None:
    stored = "{CRYPT}" + YESCRYPT
    assert _doveadm_test(doveadm, stored, "pw").returncode == 0
    assert _doveadm_test(doveadm, stored, "px").returncode == 75


@pytest.mark.tools
def test_doveadm_sha512_format_matches_ours(doveadm: list[str]) -> None:
    theirs = _doveadm_hash(doveadm, "SHA512-CRYPT", "pw")
    assert SHA512_RE.fullmatch(theirs), theirs
    theirs_argon = _doveadm_hash(doveadm, "ARGON2ID", "pw")
    assert ARGON2ID_RE.fullmatch(theirs_argon), theirs_argon


def test_sha512_crypt_takes_511_bytes_and_refuses_more(doveadm: list[str]) -> None:
    """libxcrypt stops at 512 bytes with the NUL; beyond that it returned no hash (a
    traceback before); 511 is hashed and Dovecot verifies it."""
    stored = hash_password("é" * 255 + "x", "SHA512-CRYPT")  # 511 bytes in UTF-8
    assert _doveadm_test(doveadm, stored, "é" * 255 + "x").returncode == 0
    with pytest.raises(PasswordRejected, match="512 bytes in UTF-8; SHA512-CRYPT"):
        hash_password("x" * 512, "SHA512-CRYPT")
    with pytest.raises(PasswordRejected, match="at most 511"):
        check_password_policy("é" * 256, min_length=12, scheme="SHA512-CRYPT")


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("{SHA512-CRYPT}$6$salt$hash", ("SHA512-CRYPT", "$6$salt$hash")),
        ("{plain}secret", ("PLAIN", "secret")),
        ("{blf-crypt.v2_x}$2y$", ("BLF-CRYPT.V2_X", "$2y$")),
        ("$1$salt$hash", ("MD5-CRYPT", "$1$salt$hash")),
        ("$6$salt$hash", ("SHA256-CRYPT", "$6$salt$hash")),  # unprefixed: the default
        ("{}x", None),
        ("{A B}x", None),
        ("{SHA512-CRYPT", None),
        ("{SHA512-CRYPT}}", ("SHA512-CRYPT", "}")),
    ],
)
def test_a_stored_hash_names_its_scheme_as_dovecot_reads_it(
    stored: str, expected: tuple[str, str] | None
) -> None:
    """model.schemes.split_hash, which listings use without loading the hashing
    module: the `{SCHEME}` prefix is 1+ of [A-Za-z0-9._-] between braces."""
    from mailctl.model.schemes import split_hash

    assert split_hash(stored, " {sha256-crypt} ") == expected
    if expected is None:
        with pytest.raises(InvalidInput, match="valid '{SCHEME}' prefix"):
            scheme_of(stored)
    else:
        assert scheme_of(stored, "SHA256-CRYPT") == expected[0]
