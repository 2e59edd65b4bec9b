"""Benchmark: `mailctl domain add` on a three-node Galera cluster against one node.

    python bench/cluster.py [--commands 30] [--workers 3] [--rounds 3] [--quick]
                            [--db mysql+pymysql://root@127.0.0.1:3306]

Starts, with the galera tier's harness (tests/support/galera.py: root, galera-4,
rsync and MariaDB's server binaries), a three-node cluster and a one-node cluster
with the very same settings, each on loopback in a private directory, and uses the
machine's own MariaDB (--db) as a third, plain server: its settings are the
machine's, not the harness's (a reference, not the comparison). On each, the same
number of `domain add` commands run as separate processes, as an administrator
runs them: first one at a time, then by several workers at once, each worker a
mail host with its own file tree and config. On the cluster worker i writes
through node i % 3, the other nodes its failover (so its reads wait for what the
cluster committed: wsrep_sync_wait). The three servers are up together and take
their rounds in turn; each figure is a server's best round. Prints commands per
second on each server, the ratio of the cluster to one node, and how many
commands a certification conflict made run again; checks that every domain is on
every node, once.

Key generation (1024-bit RSA) and postmap on a private main.cf are in every
command, the same on every server. --quick: 9 commands, one round: a smoke test
(about half a minute; the default takes two to three minutes).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import benchconfig  # noqa: F401 - puts tests/ on sys.path (bench/ is when run as a script)
import pymysql
import pytest
from benchconfig import compile_mailctl, write_config
from support.galera import Cluster, galera_cluster

from mailctl.core import db

DATABASE = "mailctl_bench"
RERUN_NOTE = "running it again"  # services.unit's note for a rerun transaction


@dataclass
class Server:
    """Where the commands go: the URL and failover list of each worker's host."""

    name: str
    admin: dict[str, object]  # pymysql.connect() arguments of a root account
    ports: list[int]  # the SQL port of each node (one for a single server)
    database: str = DATABASE
    roots: list[Path] = field(default_factory=list)

    def url(self, port: int) -> str:
        from urllib.parse import quote

        user, password = self.admin["user"], self.admin.get("password") or ""
        login = f"{quote(str(user))}:{quote(str(password))}" if password else quote(str(user))
        return f"mysql+pymysql://{login}@{self.admin['host']}:{port}/{self.database}"

    def host(self, worker: int) -> tuple[str, list[str]]:
        """(database.url, database.failover) of worker `worker`: its node, the others."""
        port = self.ports[worker % len(self.ports)]
        others = [p for p in self.ports if p != port]
        return self.url(port), [f"127.0.0.1:{p}" for p in others]


@dataclass
class Result:
    one_at_a_time: float  # commands per second
    at_once: float
    reruns: int


def prepare(server: Server) -> None:
    with pymysql.connect(**server.admin, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{server.database}`")
        cur.execute(
            f"CREATE DATABASE `{server.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    engine = db.make_engine(server.url(server.ports[0]))
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()


def configs(server: Server, tmp: Path, workers: int) -> list[Path]:
    """One mail host per worker: its own tree and config on its node."""
    made = []
    for worker in range(workers):
        root = tmp / "".join(c if c.isalnum() else "-" for c in server.name) / f"host{worker}"
        root.mkdir(parents=True)
        url, failover = server.host(worker)
        made.append(
            write_config(
                root / "config.toml", root, url, sections={"database": {"failover": failover}}
            )
        )
    return made


def run_commands(config: Path, names: Sequence[str], env: dict[str, str]) -> int:
    """`domain add` of each name, one process after another; the reruns they noted."""
    reruns = 0
    for name in names:
        argv = [sys.executable, "-m", "mailctl", "--config", str(config), "domain", "add", name]
        done = subprocess.run(  # noqa: S603 - fixed argv
            argv, env=env, cwd=config.parent, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv[3:])} failed: {done.stderr[-2000:]}")
        reruns += done.stderr.count(RERUN_NOTE)
    return reruns


def phases(
    server: Server, hosts: list[Path], commands: int, env: dict[str, str], round_: int
) -> Result:
    """One round on one server: `commands` one at a time through the first host,
    then as many again spread over every host at once."""
    workers = len(hosts)
    started = time.perf_counter()
    names = [f"r{round_}-seq{n}.example" for n in range(commands)]
    reruns = run_commands(hosts[0], names, env)
    sequential = commands / (time.perf_counter() - started)
    each = commands // workers
    jobs = [[f"r{round_}-par{w}-{n}.example" for n in range(each)] for w in range(workers)]
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        reruns += sum(pool.map(run_commands, hosts, jobs, [env] * workers))
    return Result(sequential, each * workers / (time.perf_counter() - started), reruns)


def check_rows(server: Server, expected: int) -> None:
    """Every domain on every node, exactly once."""
    for port in server.ports:
        node = {**server.admin, "port": port, "database": server.database}
        with pymysql.connect(**node) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*), COUNT(DISTINCT name) FROM virtual_domains")
            found = cur.fetchone()
        if found != (expected, expected):
            raise SystemExit(
                f"bench: {server.name} port {port} has {found} domains, not {expected}"
            )


def measure(
    servers: list[Server], tmp: Path, commands: int, workers: int, rounds: int, env: dict[str, str]
) -> dict[str, Result]:
    """Each server's best round, the rounds taken in turn on every server (the
    machine's other load only ever slows a round down, and then each server alike)."""
    hosts = {}
    for server in servers:
        prepare(server)
        hosts[server.name] = configs(server, tmp, workers)
        run_commands(hosts[server.name][0], ["warm-up.example"], env)  # bytecode cache
    best: dict[str, Result] = {}
    for round_ in range(rounds):
        for server in servers:
            got = phases(server, hosts[server.name], commands, env, round_)
            was = best.get(server.name, Result(0.0, 0.0, 0))
            best[server.name] = Result(
                max(was.one_at_a_time, got.one_at_a_time),
                max(was.at_once, got.at_once),
                was.reruns + got.reruns,
            )
    for server in servers:
        check_rows(server, 1 + rounds * (commands + commands // workers * workers))
    return best


@contextmanager
def cluster_of(size: int) -> Iterator[Cluster]:
    try:
        with galera_cluster(size) as cluster:
            yield cluster
    except pytest.skip.Exception as exc:  # the harness's "cannot run here"
        raise SystemExit(f"bench: {exc}") from None


def galera_server(name: str, cluster: Cluster) -> Server:
    ports = [node.port for node in cluster.nodes]
    return Server(name, {"host": "127.0.0.1", "port": ports[0], "user": "root"}, ports)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--commands", type=int, default=30, help="domain adds per phase")
    parser.add_argument("--workers", type=int, default=3, help="commands at once")
    parser.add_argument(
        "--db",
        default="mysql+pymysql://root@127.0.0.1:3306",
        help="the machine's own MariaDB (root; a database is made and dropped)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--quick", action="store_true", help="9 commands, 1 round: a smoke test")
    args = parser.parse_args()
    compile_mailctl()
    commands, rounds = (9, 1) if args.quick else (args.commands, args.rounds)
    from sqlalchemy.engine import make_url

    plain = make_url(args.db)
    tmp = Path(tempfile.mkdtemp(prefix="mailctl-bench-cluster-"))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "MAILCTL_CONFIG", "MAILCTL_DB_URL")
    }
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    machine = Server(
        "machine's MariaDB",
        {
            "host": plain.host or "127.0.0.1",
            "port": plain.port or 3306,
            "user": plain.username or "root",
            "password": plain.password or "",
        },
        [plain.port or 3306],
        database=f"{DATABASE}_{secrets.token_hex(4)}",
    )
    try:
        started = time.perf_counter()
        with cluster_of(1) as one, cluster_of(3) as three:
            print(f"clusters started in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            servers = [
                machine,
                galera_server("one Galera node", one),
                galera_server("three Galera nodes", three),
            ]
            results = measure(servers, tmp, commands, args.workers, rounds, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with pymysql.connect(**machine.admin, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{machine.database}`")
    report(results, commands, args.workers, rounds)
    return 0


def report(results: dict[str, Result], commands: int, workers: int, rounds: int) -> None:
    print(
        f"domain add: {commands} one at a time, then {commands // workers * workers}"
        f" by {workers} workers at once; commands per second, best of {rounds} round(s)"
    )
    print(f"{'server':<34} {'one at a time':>14} {f'{workers} at once':>11} {'reruns':>7}")
    for name, r in results.items():
        print(f"{name:<34} {r.one_at_a_time:>13.2f}/s {r.at_once:>10.2f}/s {r.reruns:>7}")
    cluster = results["three Galera nodes"]
    for base in ("one Galera node", "machine's MariaDB"):
        one = results[base]
        print(
            f"{'three nodes / ' + base:<34} {cluster.one_at_a_time / one.one_at_a_time:>13.2f}x"
            f" {cluster.at_once / one.at_once:>10.2f}x"
        )


if __name__ == "__main__":
    sys.exit(main())
