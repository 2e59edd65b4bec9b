"""Password hashes in bulk: format checks for hashes an import carries, and
hashing many plaintext passwords on every core.

A hash taken over from another server is stored exactly as given, so it must
be something Dovecot and `mailctl user verify` can read: a known `{SCHEME}`
and a string of that scheme's shape. Checking the shape is a regular
expression, not a crypt(3) call, so 100,000 rows take milliseconds.

Hashing is the slow part of an import (SHA512-CRYPT: about 2 ms per password
per core, bcrypt and Argon2 more), and each hash is independent: above
`PARALLEL_MIN` passwords the work goes to a process pool in chunks, one
process per usable core. The C implementations (libxcrypt, bcrypt, argon2)
do the hashing; processes, not threads, because the stdlib `crypt` module
holds the GIL.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailctl.errors import InvalidInput

PARALLEL_MIN = 200  # fewer hashes than this: a pool costs more than it saves
MAX_CHUNK = 256
MAX_STORED = 255  # virtual_users.password is VARCHAR(255)

_BLANK = re.compile(r"\s")


def check_stored_hash(value: str, default_scheme: str) -> str:
    """The scheme of a hash to be stored as is; InvalidInput unless it is well formed.

    Unprefixed hashes are read with `default_scheme` (passwords.default_scheme,
    i.e. how this server's Dovecot reads them), as `user verify` does.
    """
    from mailctl.model import hashformats as formats
    from mailctl.passwords.hashing import SCHEMES_VERIFY, scheme_of

    if not value:
        raise InvalidInput("empty password hash")
    if len(value) > MAX_STORED:
        raise InvalidInput(f"password hash of {len(value)} characters; at most {MAX_STORED} fit")
    if not value.isascii() or _BLANK.search(value):
        raise InvalidInput("malformed password hash: it contains blanks or non-ASCII characters")
    scheme = scheme_of(value, default_scheme)
    if scheme not in SCHEMES_VERIFY:
        raise InvalidInput(
            f"unknown password scheme {{{scheme}}}; accepted: {', '.join(SCHEMES_VERIFY)}"
        )
    body = value[len(scheme) + 2 :] if value.startswith("{") else value
    if scheme in formats.CRYPT_LABELS:
        # crypt(3) takes any of its formats whatever the label says, bcrypt included.
        ok = any(p.fullmatch(body) for p in (*formats.CRYPT.values(), formats.BCRYPT))
    elif scheme == "BLF-CRYPT":
        ok = bool(formats.BCRYPT.fullmatch(body))
    else:
        match = formats.ARGON2.fullmatch(body)
        ok = match is not None and match.group(1).upper() == scheme
    if not ok:
        expected = formats.EXPECTED[scheme]
        raise InvalidInput(f"malformed {scheme} hash: expected {{{scheme}}}{expected}")
    return scheme


@dataclass(frozen=True)
class HashJob:
    """A plaintext password to store; `current` is the user's stored hash, if any.

    The result is `current` when the password still verifies against it (the
    row is unchanged), else a fresh hash in the configured scheme.
    """

    plaintext: str
    current: str | None = None


@dataclass(frozen=True)
class HashParams:
    """What a hashing process needs for a batch: scheme and cost."""

    scheme: str
    bcrypt_cost: int
    default_scheme: str


def resolve(
    jobs: Sequence[HashJob],
    params: HashParams,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """The hash to store for each job, in order; on all cores above PARALLEL_MIN jobs."""
    workers = workers or usable_cpus()
    if len(jobs) < PARALLEL_MIN or workers < 2:
        results = []
        for job in jobs:
            results.append(_resolve_one(job, params))
            if progress is not None:
                progress(1)
        return results
    return _resolve_parallel(list(jobs), params, workers, progress)


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def chunk_size(count: int, workers: int) -> int:
    """About four chunks per worker (to even out), at most MAX_CHUNK per chunk."""
    return max(1, min(MAX_CHUNK, math.ceil(count / (workers * 4))))


def _resolve_parallel(
    jobs: list[HashJob],
    params: HashParams,
    workers: int,
    progress: Callable[[int], None] | None,
) -> list[str]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    size = chunk_size(len(jobs), workers)
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    # fork: workers start in milliseconds with mailctl already imported; the
    # caller holds no database connection while hashing (see cli.transfer).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    results: list[list[str]] = [[] for _ in chunks]
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=context) as pool:
        futures = {pool.submit(_resolve_chunk, chunk, params): i for i, chunk in enumerate(chunks)}
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            if progress is not None:
                progress(len(chunks[index]))
    return [h for chunk in results for h in chunk]


def _resolve_chunk(chunk: list[HashJob], params: HashParams) -> list[str]:
    return [_resolve_one(job, params) for job in chunk]


def _resolve_one(job: HashJob, params: HashParams) -> str:
    from mailctl.passwords.hashing import hash_password

    if job.current is not None and _verifies(job.plaintext, job.current, params.default_scheme):
        return job.current
    return hash_password(job.plaintext, params.scheme, bcrypt_cost=params.bcrypt_cost)


def _verifies(plaintext: str, stored: str, default_scheme: str) -> bool:
    from mailctl.passwords.hashing import verify_password

    try:
        return verify_password(plaintext, stored, default_scheme=default_scheme)
    except InvalidInput:  # a foreign hash mailctl cannot read: it gets replaced
        return False
