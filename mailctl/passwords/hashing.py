"""Dovecot password hashes: create, check and verify them in-process.

Every hash mailctl writes carries its ``{SCHEME}`` prefix (Dovecot 2.4 changed
the default scheme for unprefixed hashes), and is byte-for-byte what
``doveadm pw -s SCHEME`` would produce:

- ``SHA512-CRYPT``: ``$6$<16-char salt>$<86 chars>``, 5000 rounds, so no
  ``rounds=`` field. Computed by libxcrypt (the stdlib ``crypt`` module or,
  without it, libxcrypt through ctypes); pure-Python passlib only as a last
  resort.
- ``BLF-CRYPT``: bcrypt ``$2y$<cost>$``; passwords over 72 bytes are refused
  because Dovecot would silently truncate them.
- ``ARGON2ID``: ``$argon2id$v=19$m=65536,t=3,p=1$`` (Dovecot's parameters).

Verification follows Dovecot: every ``*-CRYPT`` scheme (and ``CRYPT``) means
"crypt(3) the password with the stored string as setting and compare", so such
a label accepts any crypt format (``$6$``, ``$5$``, ``$1$``, DES, ``$2y$``...).
"""

from __future__ import annotations

import functools
import importlib
import os
import string
import threading

# hmac.compare_digest itself; importing hmac (or secrets) loads OpenSSL's libcrypto,
# a few milliseconds of every `user add` that SHA512-CRYPT through crypt(3) never uses.
from _operator import _compare_digest as compare_digest
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mailctl.errors import InvalidInput, PasswordRejected
from mailctl.model import hashformats as formats
from mailctl.model.schemes import READ_SCHEMES, SCHEMES, split_hash

__all__ = [
    "BCRYPT_MAX_BYTES",
    "SCHEMES_VERIFY",
    "SCHEMES_WRITE",
    "check_password_policy",
    "generate_password",
    "hash_password",
    "scheme_of",
    "sha512_backend",
    "verify_password",
]

SCHEMES_WRITE: tuple[str, ...] = SCHEMES
SCHEMES_VERIFY: tuple[str, ...] = READ_SCHEMES

BCRYPT_MAX_BYTES = 72
CRYPT_MAX_BYTES = 511  # libxcrypt's CRYPT_MAX_PASSPHRASE_SIZE (512) includes the NUL

_CRYPT_FAMILY = frozenset({"SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "CRYPT", "DES-CRYPT"})
_ARGON2_FAMILY = frozenset({"ARGON2ID", "ARGON2I"})

_SALT_ALPHABET = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
_SHA512_SALT_LEN = 16
_PASSWORD_ALPHABET = string.ascii_letters + string.digits

# struct crypt_data: 32768 bytes in libxcrypt, 131232 in glibc's old libcrypt.
_LIBXCRYPT_DATA_SIZE = 32768
_GLIBC_SAFE_DATA_SIZE = 262144

# Known answer from the SHA-crypt specification, at its minimum of 1000 rounds: a
# fifth of the cost of a real hash, paid once by every command that hashes.
_KAT_INPUT = "the minimum number is still observed"
_KAT_SETTING = "$6$rounds=1000$roundstoolow"
_KAT_RESULT = (
    "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58ja"
    "TfF4ZEQpyUNGc0dqbpBYYBaHHrsX."
)


if TYPE_CHECKING:
    import ctypes

    import argon2

# argon2, bcrypt and ctypes load C libraries: each is imported when a hash needs it.


@functools.cache
def _argon2_hasher() -> argon2.PasswordHasher:
    import argon2

    return argon2.PasswordHasher(
        time_cost=3, memory_cost=65536, parallelism=1, hash_len=32, salt_len=16
    )


def _salt(length: int) -> str:
    """`length` characters of crypt(3)'s 64-character salt alphabet, from the kernel's
    CSPRNG: 6 random bits each (256 is a multiple of 64, so no character is favoured)."""
    return "".join(_SALT_ALPHABET[byte & 63] for byte in os.urandom(length))


_CryptFunc = Callable[[str, str], str | None]


# --------------------------------------------------------------------------
# crypt(3) backends
# --------------------------------------------------------------------------


def _crypt_module_func() -> _CryptFunc | None:
    """crypt(3) through the stdlib's C module `_crypt` (gone in 3.13), if any.

    Not through `crypt`: on import it hashes a test password with each method it
    knows (SHA-512, SHA-256, bcrypt, MD5, DES) to list the available ones, which
    costs more than the one hash a command needs.
    """
    try:
        module = importlib.import_module("_crypt")
    except ImportError:
        return None
    func: Callable[[str, str], Any] = module.crypt

    def call(password: str, setting: str) -> str | None:
        try:
            result = func(password, setting)
        except OSError:  # libxcrypt refuses a setting with EINVAL
            return None
        return result if isinstance(result, str) else None

    return call


class _LibXCrypt:
    """libcrypt loaded with ctypes; prefers libxcrypt's ``crypt_rn``."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        import ctypes

        self._lock = threading.Lock()
        self._func: Any
        self._size = 0
        if hasattr(lib, "crypt_rn"):
            self._func, self._size = lib.crypt_rn, _LIBXCRYPT_DATA_SIZE
            self._func.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
        elif hasattr(lib, "crypt_r"):
            self._func, self._size = lib.crypt_r, _GLIBC_SAFE_DATA_SIZE
            self._func.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
        else:
            self._func = lib.crypt
            self._func.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        self._func.restype = ctypes.c_char_p

    def __call__(self, password: bytes, setting: bytes) -> bytes | None:
        import ctypes

        if self._size == 0:
            with self._lock:  # crypt() uses a static buffer
                result: bytes | None = self._func(password, setting)
            return result
        data = ctypes.create_string_buffer(self._size)  # zeroed, as crypt_r requires
        if self._size == _LIBXCRYPT_DATA_SIZE:
            return self._func(password, setting, data, self._size)  # type: ignore[no-any-return]
        return self._func(password, setting, data)  # type: ignore[no-any-return]


@functools.cache
def _load_libxcrypt() -> _LibXCrypt | None:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("crypt")
    if name is None:
        return None
    try:
        return _LibXCrypt(ctypes.CDLL(name))
    except (OSError, AttributeError):
        return None


def _libxcrypt_crypt(password: bytes, setting: bytes) -> bytes:
    """crypt(3) from libcrypt via ctypes; ValueError when it refuses the setting."""
    lib = _load_libxcrypt()
    if lib is None:
        raise OSError("libcrypt (libxcrypt) cannot be loaded")
    result = lib(password, setting)
    if not result or result.startswith(b"*"):
        raise ValueError("crypt(3) refused the setting")
    return result


def _ctypes_crypt(password: str, setting: str) -> str | None:
    try:
        return _libxcrypt_crypt(password.encode(), setting.encode()).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None


def _passes_kat(func: _CryptFunc) -> bool:
    try:
        return func(_KAT_INPUT, _KAT_SETTING) == _KAT_RESULT
    except (OSError, ValueError):
        return False


@functools.cache
def _c_crypt() -> tuple[str, _CryptFunc] | None:
    """The C crypt(3) implementation to use, or None (then passlib is used)."""
    module_func = _crypt_module_func()
    if module_func is not None and _passes_kat(module_func):
        return "crypt-module", module_func
    if _load_libxcrypt() is not None and _passes_kat(_ctypes_crypt):
        return "libxcrypt-ctypes", _ctypes_crypt
    return None


def sha512_backend() -> str:
    """Which SHA512-CRYPT implementation is in use.

    "crypt-module" (stdlib crypt, libxcrypt at C speed), "libxcrypt-ctypes"
    (the same library through ctypes) or "passlib" (pure Python, ~2x slower).
    """
    found = _c_crypt()
    return "passlib" if found is None else found[0]


def _passlib_handler(stored: str) -> Any:
    from passlib import hash as passlib_hash  # slow import; only when C crypt is missing

    for pattern, handler in (
        (formats.SHA512, passlib_hash.sha512_crypt),
        (formats.SHA256, passlib_hash.sha256_crypt),
        (formats.MD5, passlib_hash.md5_crypt),
        (formats.DES, passlib_hash.des_crypt),
    ):
        if pattern.fullmatch(stored):
            return handler
    return None


def _sha512_crypt(password: str, salt: str) -> str:
    found = _c_crypt()
    if found is not None:
        result = found[1](password, "$6$" + salt)
    else:
        from passlib.hash import sha512_crypt

        result = str(sha512_crypt.using(rounds=5000, salt=salt).hash(password))
    if result is None or not formats.SHA512.fullmatch(result):
        raise RuntimeError(f"SHA512-CRYPT backend {sha512_backend()} returned an unusable hash")
    return result


# --------------------------------------------------------------------------
# scheme names and checks
# --------------------------------------------------------------------------


def _normalize_scheme(scheme: str, accepted: tuple[str, ...]) -> str:
    name = scheme.strip().strip("{}").upper()
    if name not in accepted:
        raise InvalidInput(f"unknown password scheme {scheme!r}; accepted: {', '.join(accepted)}")
    return name


def _check_basic(password: str, scheme: str) -> None:
    if password == "":
        raise PasswordRejected("the password is empty")
    if "\x00" in password:
        raise PasswordRejected("the password contains a NUL character")
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:
        raise PasswordRejected("the password is not valid Unicode (undecodable bytes)") from None
    if scheme == "SHA512-CRYPT" and size > CRYPT_MAX_BYTES:
        raise PasswordRejected(
            f"the password is {size} bytes in UTF-8; SHA512-CRYPT through crypt(3), as"
            f" Dovecot verifies it, takes at most {CRYPT_MAX_BYTES}: use a shorter one"
        )
    if scheme == "BLF-CRYPT":
        if size > BCRYPT_MAX_BYTES:
            raise PasswordRejected(
                f"the password is {size} bytes in UTF-8; BLF-CRYPT cannot use more than "
                f"{BCRYPT_MAX_BYTES} bytes (Dovecot would silently ignore the rest); "
                "use a shorter password or another scheme"
            )


def check_password_policy(password: str, *, min_length: int, scheme: str) -> None:
    """Raise PasswordRejected unless ``password`` may be stored with ``scheme``.

    Refuses empty passwords, NUL characters, fewer than ``min_length``
    characters, and more than 72 UTF-8 bytes for BLF-CRYPT. Messages never
    contain the password.
    """
    name = _normalize_scheme(scheme, SCHEMES_WRITE)
    _check_basic(password, name)
    if len(password) < min_length:
        raise PasswordRejected(
            f"password is {len(password)} characters; at least {min_length} required"
        )


def hash_password(password: str, scheme: str = "SHA512-CRYPT", *, bcrypt_cost: int = 10) -> str:
    """Hash ``password`` for Dovecot; the result starts with ``{SCHEME}``."""
    name = _normalize_scheme(scheme, SCHEMES_WRITE)
    if name == "BLF-CRYPT" and not 4 <= bcrypt_cost <= 31:
        raise InvalidInput(f"bcrypt cost {bcrypt_cost} is out of range; accepted: 4 to 31")
    _check_basic(password, name)
    if name == "SHA512-CRYPT":
        salt = _salt(_SHA512_SALT_LEN)
        return "{SHA512-CRYPT}" + _sha512_crypt(password, salt)
    if name == "BLF-CRYPT":
        import bcrypt

        salt_b = bcrypt.gensalt(rounds=bcrypt_cost, prefix=b"2b")
        hashed = bcrypt.hashpw(password.encode("utf-8"), salt_b).decode("ascii")
        return "{BLF-CRYPT}$2y$" + hashed.removeprefix("$2b$")
    return "{ARGON2ID}" + _argon2_hasher().hash(password)


# --------------------------------------------------------------------------
# verification
# --------------------------------------------------------------------------


def _split(stored: str, default_scheme: str) -> tuple[str, str]:
    """(upper-case scheme, hash without prefix); the scheme is not validated."""
    found = split_hash(stored, default_scheme)
    if found is None:
        raise InvalidInput("malformed password hash: '{' without a valid '{SCHEME}' prefix")
    return found


def scheme_of(stored: str, default_scheme: str = "SHA512-CRYPT") -> str:
    """The upper-case scheme name of a stored hash (``default_scheme`` if unprefixed).

    The name is returned as found, even when mailctl cannot verify it
    (e.g. ``PLAIN``); InvalidInput only for an unparseable prefix.
    """
    return _split(stored, default_scheme)[0]


def _verify_bcrypt(password: str, hashed: str) -> bool:
    if not formats.BCRYPT.fullmatch(hashed):
        raise InvalidInput(f"malformed BLF-CRYPT hash: expected {formats.EXPECTED['BLF-CRYPT']}")
    # Dovecot truncates at 72 bytes; bcrypt>=5 raises instead, so truncate here.
    secret = password.encode("utf-8")[:BCRYPT_MAX_BYTES]
    candidate = hashed.replace("$2y$", "$2b$", 1).encode("ascii")
    import bcrypt

    try:
        return bcrypt.checkpw(secret, candidate)
    except ValueError as exc:
        raise InvalidInput(f"malformed BLF-CRYPT hash: {exc}") from None


def _verify_crypt(password: str, hashed: str, scheme: str) -> bool:
    if hashed.startswith("$2"):
        return _verify_bcrypt(password, hashed)
    known = any(p.fullmatch(hashed) for p in formats.CRYPT.values())
    if not known and (hashed.startswith(("$1$", "$5$", "$6$")) or hashed[:1] not in ("$", "_")):
        raise InvalidInput(f"malformed {scheme} hash: not a valid crypt(3) string")
    c_crypt = _c_crypt()
    if c_crypt is not None:
        result = c_crypt[1](password, hashed)
        if result is not None and not result.startswith("*"):
            return compare_digest(result.encode(), hashed.encode())
    if known:
        handler = _passlib_handler(hashed)
        try:
            return bool(handler.verify(password, hashed))
        except ValueError as exc:
            raise InvalidInput(f"malformed {scheme} hash: {exc}") from None
    raise InvalidInput(f"malformed or unsupported {scheme} hash (crypt(3) refused it)")


def _verify_argon2(password: str, hashed: str, scheme: str) -> bool:
    if not formats.ARGON2.fullmatch(hashed):
        raise InvalidInput(f"malformed {scheme} hash: expected $argon2id$v=19$m=...,t=...,p=...$")
    import argon2

    try:
        return _argon2_hasher().verify(hashed, password)
    except argon2.exceptions.VerifyMismatchError:
        return False
    except (argon2.exceptions.InvalidHashError, argon2.exceptions.VerificationError) as exc:
        raise InvalidInput(f"malformed {scheme} hash: {exc}") from None


def _encodable(password: str) -> bool:
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def verify_password(password: str, stored: str, *, default_scheme: str = "SHA512-CRYPT") -> bool:
    """True when ``password`` matches ``stored`` as Dovecot would judge it.

    ``stored`` may carry a ``{SCHEME}`` prefix (any case); without one it is
    read with ``default_scheme``. Unknown schemes and malformed hashes raise
    InvalidInput. For bcrypt, only the first 72 bytes count (as in Dovecot).
    """
    name, hashed = _split(stored, default_scheme)
    if name not in SCHEMES_VERIFY:
        raise InvalidInput(
            f"unknown password scheme {name!r}; accepted: {', '.join(SCHEMES_VERIFY)}"
        )
    if "\x00" in password or not _encodable(password):
        return False
    if name in _CRYPT_FAMILY:
        return _verify_crypt(password, hashed, name)
    if name in _ARGON2_FAMILY:
        return _verify_argon2(password, hashed, name)
    return _verify_bcrypt(password, hashed)


def generate_password(length: int = 20) -> str:
    """A random password of ``length`` letters and digits (from ``secrets``)."""
    if length < 1:
        raise InvalidInput(f"password length {length} is too small; at least 1 required")
    import secrets

    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))
