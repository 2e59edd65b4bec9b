"""mailctl's speed, each figure side by side with its baseline in the same run.

    python bench/run.py [--db mysql+pymysql://root@127.0.0.1:3306] [--quick]

Creates a MariaDB database `mailctl_bench_<random>` on the server of --db (root
without password on 127.0.0.1:3306 by default) and drops it at the end.
Prints one table: what mailctl measured, the baseline measured next to it,
their ratio and the target. Timings are the best of several runs (the
machine's other load only ever makes a run slower), taken alternately so
that both sides see the same conditions. --quick: fewer and smaller runs, for
a smoke test of the suite itself (its numbers are not the reference).

Startup figures run with a bytecode cache (a private PYTHONPYCACHEPREFIX,
warmed first), as after `pip install`, which compiles every module; without
one each run would also compile mailctl's sources.
"""

from __future__ import annotations

import argparse
import itertools
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import argon2
import bcrypt
import benchconfig  # bench/ is on sys.path when run as a script
import pymysql
import sqlalchemy as sa
from benchconfig import compile_mailctl, write_config

from mailctl.core import db
from mailctl.passwords import hashing as passwords
from mailctl.passwords import parallel as bulkhash

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:  # libxcrypt in-process, the SHA512-CRYPT baseline: the stdlib module...
        from crypt import crypt as libxcrypt
    except ImportError:  # ... gone in Python 3.13: the same library through ctypes
        from mailctl.passwords.hashing import _ctypes_crypt as libxcrypt  # type: ignore[assignment]


def sha512_setting() -> str:
    return "$6$" + "".join(secrets.choice(passwords._SALT_ALPHABET) for _ in range(16))


BIN = Path(sys.executable).parent
MAILCTL = str(BIN / "mailctl") if (BIN / "mailctl").exists() else shutil.which("mailctl") or ""


@dataclass
class Row:
    name: str
    measured: str
    baseline: str
    ratio: float | None  # None: not measurable this run
    target: str
    ok: bool | None  # None: for information, no target


ROWS: list[Row] = []


def report(
    name: str, measured: str, baseline: str, ratio: float | None, target: str, ok: bool | None
) -> None:
    ROWS.append(Row(name, measured, baseline, ratio, target, ok))
    shown = "-" if ratio is None else f"{ratio:.2f}"
    print(f"  {name}: {measured} vs {baseline} -> {shown}", file=sys.stderr, flush=True)


def best_of(runs: int, *funcs: Callable[[], float]) -> list[float]:
    """Run each function `runs` times, interleaved; the best time of each."""
    results: list[list[float]] = [[] for _ in funcs]
    for _ in range(runs):
        for i, func in enumerate(funcs):
            results[i].append(func())
    return [min(r) for r in results]


def wall(argv: Sequence[str], env: dict[str, str], stdin: bytes | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=env, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed: {done.stderr.decode()[-2000:]}")
    return elapsed


# ------------------------------------------------------------------ environment


class Bench:
    def __init__(self, server_url: str, quick: bool) -> None:
        self.quick = quick
        self.tmp = Path(tempfile.mkdtemp(prefix="mailctl-bench-"))
        url = sa.engine.make_url(server_url)
        self.server = {
            "host": url.host or "127.0.0.1",
            "port": url.port or 3306,
            "user": url.username or "root",
            "password": url.password or "",
        }
        self.name = f"mailctl_bench_{secrets.token_hex(4)}"
        self.url = url.set(database=self.name, query={"charset": "utf8mb4"}).render_as_string(
            hide_password=False
        )
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONDONTWRITEBYTECODE", "MAILCTL_CONFIG", "MAILCTL_DB_URL")
        }
        self.env["PYTHONPYCACHEPREFIX"] = str(self.tmp / "pycache")

    def admin(self) -> pymysql.connections.Connection:  # type: ignore[name-defined]
        return pymysql.connect(**self.server, autocommit=True)

    def __enter__(self) -> Bench:
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        engine = db.make_engine(self.url)
        db.upgrade(engine)
        engine.dispose()
        self.config = self.write_config(create_maildirs=False)
        return self

    def __exit__(self, *exc: object) -> None:
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_config(self, *, create_maildirs: bool) -> Path:
        root = self.tmp / ("files-maildirs" if create_maildirs else "files")
        root.mkdir(exist_ok=True)
        path = self.tmp / f"config-{create_maildirs}.toml"
        return write_config(path, root, self.url, create_maildirs=create_maildirs)

    def sql(self, statement: str, rows: Sequence[Sequence[object]] | None = None) -> None:
        with pymysql.connect(**self.server, database=self.name, autocommit=True) as conn:
            with conn.cursor() as cur:
                if rows is None:
                    cur.execute(statement)
                else:
                    for start in range(0, len(rows), 5000):
                        cur.executemany(statement, rows[start : start + 5000])

    def domain_id(self, name: str) -> int:
        with pymysql.connect(**self.server, database=self.name) as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM virtual_domains WHERE name = %s", (name,))
            row = cur.fetchone()
            assert row is not None
            return int(row[0])


# ------------------------------------------------------------------ 1. startup


def bench_startup(b: Bench) -> None:
    runs = 5 if b.quick else 25
    click_argv = [sys.executable, "-c", "import click"]
    for argv in (click_argv, [MAILCTL, "--help"], [MAILCTL, "domain", "--help"]):
        wall(argv, b.env)  # fill the bytecode cache
    base, root_help, domain_help = best_of(
        runs,
        lambda: wall(click_argv, b.env),
        lambda: wall([MAILCTL, "--help"], b.env),
        lambda: wall([MAILCTL, "domain", "--help"], b.env),
    )
    report(
        "mailctl --help",
        ms(root_help),
        f"{ms(base)} python -c 'import click'",
        root_help / base,
        "<= 1.5x",
        root_help / base <= 1.5,
    )
    report(
        "mailctl domain --help",
        ms(domain_help),
        f"{ms(base)} python -c 'import click'",
        domain_help / base,
        "<= 1.5x",
        domain_help / base <= 1.5,
    )


# ------------------------------------------------------------------ 2. completion


def bench_completion(b: Bench) -> None:
    b.sql(
        "INSERT INTO virtual_domains (name) VALUES (%s)",
        [(f"d{i:04d}.example",) for i in range(1000)],
    )
    runs = 5 if b.quick else 20
    env = {
        **b.env,
        "MAILCTL_CONFIG": str(b.config),
        "_MAILCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": "mailctl domain show ",
        "COMP_CWORD": "3",
    }
    out = subprocess.run([MAILCTL], env=env, capture_output=True, text=True, check=True).stdout
    count = len(out.splitlines())
    if count != 1000:
        raise SystemExit(f"bench: completion returned {count} domains, expected 1000")
    click_argv = [sys.executable, "-c", "import click"]
    base, tab = best_of(runs, lambda: wall(click_argv, b.env), lambda: wall([MAILCTL], env))
    report(
        "TAB: domain show <TAB>, 1,000 domains",
        ms(tab),
        "150 ms target",
        tab / 0.150,
        "<= 150 ms",
        tab <= 0.150,
    )
    report("  same, relative to python -c 'import click'", ms(tab), ms(base), tab / base, "-", None)


# ------------------------------------------------------------------ 3. hashing


def rate(func: Callable[[], object], count: int) -> Callable[[], float]:
    """A timing function whose result is seconds per hash (so best_of's min is the best)."""

    def run() -> float:
        start = time.perf_counter()
        for _ in range(count):
            func()
        return (time.perf_counter() - start) / count

    return run


def doveadm_rate(scheme: str, rounds: tuple[int, int], per: float) -> Callable[[], float]:
    """Seconds per hash inside doveadm: the difference between a cheap and an expensive
    rounds setting (worth `per` standard hashes) removes process start-up from the figure."""
    doveadm = benchconfig.doveadm()

    def run() -> float:
        if doveadm is None:  # not installed: the comparison shows "nan"
            return float("nan")
        times = []
        for r in rounds:
            start = time.perf_counter()
            subprocess.run(
                [*doveadm, "pw", "-s", scheme, "-r", str(r), "-p", "bench password"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - start)
        return (times[1] - times[0]) / per

    return run


def bench_hashing(b: Bench) -> None:
    n = 50 if b.quick else 300
    runs = 3 if b.quick else 5
    settings = itertools.cycle([sha512_setting() for _ in range(n)])  # salts made beforehand
    mine, library, dove = best_of(
        runs,
        rate(lambda: passwords.hash_password("bench password", "SHA512-CRYPT"), n),
        rate(lambda: libxcrypt("bench password", next(settings)), n),
        doveadm_rate("SHA512-CRYPT", (5000, 5000 * 101), 100),
    )
    report(
        f"SHA512-CRYPT hashes/s/core ({passwords.sha512_backend()})",
        f"{1 / mine:.0f}/s",
        f"{1 / library:.0f}/s libxcrypt in-process",
        library / mine,
        ">= 0.9x",
        library / mine >= 0.9,
    )
    report(  # the difference of two timings: on a busy machine it can come out <= 0
        "  same, vs doveadm pw -s SHA512-CRYPT",
        f"{1 / mine:.0f}/s",
        f"{1 / dove:.0f}/s doveadm (start-up removed)" if dove > 0 else "doveadm: too noisy",
        dove / mine if dove > 0 else None,
        "-",
        None,
    )
    n = 3 if b.quick else 15
    raw_salt = bcrypt.gensalt(10)
    mine, library, dove = best_of(
        runs,
        rate(lambda: passwords.hash_password("bench password", "BLF-CRYPT", bcrypt_cost=10), n),
        rate(lambda: bcrypt.hashpw(b"bench password", raw_salt), n),
        doveadm_rate("BLF-CRYPT", (4, 12), (2**12 - 2**4) / 2**10),  # in cost-10 hashes
    )
    report(
        "BLF-CRYPT cost 10 hashes/s/core",
        f"{1 / mine:.1f}/s",
        f"{1 / library:.1f}/s bcrypt library",
        library / mine,
        ">= 0.9x",
        library / mine >= 0.9,
    )
    report(  # the difference of two timings: on a busy machine it can come out <= 0
        "  same, vs doveadm pw -s BLF-CRYPT",
        f"{1 / mine:.1f}/s",
        f"{1 / dove:.1f}/s doveadm (start-up removed)" if dove > 0 else "doveadm: too noisy",
        dove / mine if dove > 0 else None,
        "-",
        None,
    )
    hasher = argon2.PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1)
    n = 2 if b.quick else 10
    mine, library = best_of(
        runs,
        rate(lambda: passwords.hash_password("bench password", "ARGON2ID"), n),
        rate(lambda: hasher.hash("bench password"), n),
    )
    report(
        "ARGON2ID (m=64M,t=3,p=1) hashes/s/core",
        f"{1 / mine:.1f}/s",
        f"{1 / library:.1f}/s argon2-cffi",
        library / mine,
        ">= 0.9x",
        library / mine >= 0.9,
    )


# ------------------------------------------------------------------ 4. import


def _crypt_chunk(passwords_: list[str]) -> list[str]:
    return ["{SHA512-CRYPT}" + str(libxcrypt(p, sha512_setting())) for p in passwords_]


def bench_import(b: Bench) -> None:
    count = 2000 if b.quick else 10_000
    b.sql("INSERT INTO virtual_domains (name) VALUES ('bench.example')")
    domain_id = b.domain_id("bench.example")
    users = [(f"user{i:05d}@bench.example", f"bench password {i:05d}") for i in range(count)]
    csv_file = b.tmp / "users.csv"
    csv_file.write_text("kind,email,plaintext\n" + "".join(f"user,{e},{p}\n" for e, p in users))
    workers = bulkhash.usable_cpus()

    def baseline() -> float:
        b.sql("DELETE FROM virtual_users")
        start = time.perf_counter()
        plain = [p for _e, p in users]
        size = bulkhash.chunk_size(len(plain), workers)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            hashed = [
                h
                for chunk in pool.map(
                    _crypt_chunk, [plain[i : i + size] for i in range(0, len(plain), size)]
                )
                for h in chunk
            ]
        with pymysql.connect(**b.server, database=b.name) as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO virtual_users (domain_id, email, password) VALUES (%s, %s, %s)",
                [(domain_id, e, h) for (e, _p), h in zip(users, hashed, strict=True)],
            )
            conn.commit()
        return time.perf_counter() - start

    def mailctl_import(config: Path) -> Callable[[], float]:
        def run() -> float:
            b.sql("DELETE FROM virtual_users")
            return wall([MAILCTL, "--config", str(config), "-q", "import", str(csv_file)], b.env)

        return run

    runs = 1 if b.quick else 2
    base, mine = best_of(runs, baseline, mailctl_import(b.config))
    report(
        f"import {count:,} users, SHA512-CRYPT plaintext ({workers} cores)",
        secs(mine),
        f"{secs(base)} hash on all cores + 1 bulk INSERT",
        mine / base,
        "<= 1.3x",
        mine / base <= 1.3,
    )
    with_dirs = mailctl_import(b.write_config(create_maildirs=True))()
    report(
        "  same, also creating the 4 maildir dirs per user",
        secs(with_dirs),
        secs(base),
        with_dirs / base,
        "-",
        None,
    )
    b.sql("DELETE FROM virtual_users")


# ------------------------------------------------------------------ 5. user list


def bench_user_list(b: Bench) -> None:
    count = 20_000 if b.quick else 100_000
    b.sql("INSERT IGNORE INTO virtual_domains (name) VALUES ('bench.example')")
    domain_id = b.domain_id("bench.example")
    stored = passwords.hash_password("bench password")
    b.sql(
        "INSERT INTO virtual_users (domain_id, email, password) VALUES (%s, %s, %s)",
        [(domain_id, f"u{i:06d}@bench.example", stored) for i in range(count)],
    )
    argv = [MAILCTL, "--config", str(b.config), "user", "list"]
    wall(argv, b.env)
    runs = 2 if b.quick else 5
    (listing,) = best_of(runs, lambda: wall(argv, b.env))
    b.sql("INSERT INTO virtual_domains (name) VALUES ('empty.example')")
    (fixed,) = best_of(runs, lambda: wall([*argv, "empty.example"], b.env))
    report(
        f"user list, {count:,} users (MariaDB, no policy, usage or logins yet)",
        secs(listing),
        "1 s target",
        listing / 1.0,
        "<= 1 s",
        listing <= 1.0,
    )
    report(
        "  of which start-up, schema check, queries (0 users)",
        secs(fixed),
        f"{(listing - fixed) / count * 1e6:.1f} us per user listed",
        fixed / listing,
        "-",
        None,
    )
    # Issue 12's case: every column filled (a domain default quota, and the usage
    # and last login Dovecot writes for every mailbox), so the listing joins them all.
    b.sql(
        "INSERT INTO mailctl_domain_policy (domain_id, default_quota_bytes) VALUES (%s, %s)",
        [(domain_id, 1 << 30)],
    )
    b.sql(
        "INSERT INTO mailctl_quota_usage (username, bytes, messages) VALUES (%s, %s, %s)",
        [(f"u{i:06d}@bench.example", 1000 * i, i) for i in range(count)],
    )
    b.sql(
        "INSERT INTO mailctl_last_login (username, last_login) VALUES (%s, %s)",
        [(f"u{i:06d}@bench.example", 1_780_000_000 + i) for i in range(count)],
    )
    wall(argv, b.env)
    (full,) = best_of(runs, lambda: wall(argv, b.env))
    report(
        f"user list, {count:,} users (MariaDB, status, quota, usage, last login)",
        secs(full),
        "1 s target",
        full / 1.0,
        "<= 1 s",
        full <= 1.0,
    )
    # The same SELECT through MariaDB's own client: what the database itself costs.
    client = shutil.which("mariadb") or shutil.which("mysql") or "mysql"
    server = b.server
    query = _user_list_query(b)
    baseline_argv = [
        client, "-N", "-h", str(server["host"]), "-P", str(server["port"]),
        "-u", str(server["user"]), *([f"-p{server['password']}"] if server["password"] else []),
        b.name, "-e", query,
    ]
    wall(baseline_argv, b.env)
    listing_again, client_time = best_of(runs, lambda: wall(argv, b.env),
                                         lambda: wall(baseline_argv, b.env))
    report(
        "  same, against its SELECT in `mariadb -N -e`",
        secs(listing_again),
        f"`mariadb -N -e` {secs(client_time)}",
        listing_again / client_time,
        "<= 3x",
        listing_again <= 3 * client_time,
    )
    env = {
        **b.env,
        "MAILCTL_CONFIG": str(b.config),
        "_MAILCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": "mailctl user show u01234",
        "COMP_CWORD": "3",
    }
    (tab,) = best_of(runs, lambda: wall([MAILCTL], env))
    report(
        f"TAB: user show u01234<TAB>, {count:,} users",
        ms(tab),
        "150 ms target",
        tab / 0.150,
        "<= 150 ms",
        tab <= 0.150,
    )


def _user_list_query(b: Bench) -> str:
    """The SELECT `mailctl user list` sends (mailctl.store.policy.user_rows), with the
    joins it asks for on this database (its first query says which side tables hold
    rows: that one is asked of the database itself)."""
    from mailctl.store import policy

    class Recorder:
        backend = "mysql"
        sql = ""

        def row(self, sql: str, params: object = ()) -> tuple[object, ...] | None:
            with pymysql.connect(**b.server, database=b.name) as conn, conn.cursor() as cur:
                cur.execute(sql)
                found: tuple[object, ...] | None = cur.fetchone()
                return found

        def rows(self, sql: str, params: object = ()) -> list[tuple[object, ...]]:
            self.sql = sql
            return []

    recorder = Recorder()
    policy.user_rows(recorder)  # type: ignore[arg-type]
    return recorder.sql


# ------------------------------------------------------------------ output


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def table() -> str:
    header = ("benchmark", "mailctl", "baseline", "ratio", "target", "")
    lines = [header] + [
        (
            r.name,
            r.measured,
            r.baseline,
            "-" if r.ratio is None else f"{r.ratio:.2f}",
            r.target,
            "" if r.ok is None else ("ok" if r.ok else "MISS"),
        )
        for r in ROWS
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default="mysql+pymysql://root@127.0.0.1:3306",
        help="MariaDB server to create the bench database on",
    )
    parser.add_argument("--quick", action="store_true", help="fewer, smaller runs")
    args = parser.parse_args()
    compile_mailctl()
    if not MAILCTL:
        raise SystemExit("bench: no mailctl console script next to this Python or on PATH")
    print(
        f"mailctl {MAILCTL}; python {sys.version.split()[0]}; "
        f"{bulkhash.usable_cpus()} usable cores",
        file=sys.stderr,
    )
    with Bench(args.db, args.quick) as b:
        for step in (bench_startup, bench_completion, bench_hashing, bench_import, bench_user_list):
            print(step.__name__, file=sys.stderr, flush=True)
            step(b)
    print(table())
    return 0 if all(r.ok is not False for r in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
