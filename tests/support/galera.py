"""A three-node MariaDB Galera cluster on loopback, for the galera tier.

Each node is its own `mariadbd` (the machine's binary, not its service): its own
defaults file (nothing from /etc/mysql is read), data directory, socket, SQL port
and Galera ports (group communication, IST, SST), so the machine's own MariaDB on
127.0.0.1:3306 is left alone. Node 1 is bootstrapped as `galera_new_cluster`
does (`--wsrep-new-cluster`); nodes 2 and 3 join it with an rsync SST. `stop()`
ends every node the harness started, by its process.

WSREP_SETTINGS are the settings the how-to "Two mail hosts on a Galera cluster"
(docs/how-to/galera-cluster.md) gives; TEST_SETTINGS only make a throwaway node
small and quick.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.cli import Mailctl
from support.config import merge
from support.env import need, program

GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"
# What Galera needs of every node; the how-to shows these lines.
WSREP_SETTINGS = {
    "binlog_format": "ROW",
    "default_storage_engine": "InnoDB",
    "innodb_autoinc_lock_mode": "2",
    "wsrep_on": "ON",
    "wsrep_provider": GALERA_PROVIDER,
    "wsrep_sst_method": "rsync",
}
# Failure detection in seconds rather than Galera's default of tens: a killed node
# stalls the others' commits until it is declared gone.
EVS_OPTIONS = (
    "evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;"
    "evs.inactive_timeout=PT4S;evs.inactive_check_period=PT0.5S"
)
# A throwaway node: small buffers, no fsync per commit.
TEST_SETTINGS = {
    "innodb_buffer_pool_size": "32M",
    "innodb_log_file_size": "16M",
    "innodb_flush_log_at_trx_commit": "0",
    "performance_schema": "OFF",
    "skip_name_resolve": "ON",
    "max_connections": "100",
}
CLUSTER_NAME = "mailctl-test"
MAILCTL_ACCOUNT = "mailctl"  # database.url's user, made by `mailctl setup sql`
START_TIMEOUT = 60.0


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback TCP ports that are free now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Node:
    """One mariadbd of the cluster."""

    number: int
    root: Path
    port: int  # SQL
    gcomm_port: int  # group communication
    ist_port: int
    sst_port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"node{self.number}"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    @property
    def defaults_file(self) -> Path:
        return self.root / "my.cnf"

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    @property
    def address(self) -> str:
        """host:port of its SQL server, as database.failover names it."""
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def write_defaults(self, cluster_address: str) -> None:
        settings = {
            "datadir": str(self.datadir),
            "socket": str(self.socket),
            "port": str(self.port),
            "bind_address": "127.0.0.1",
            "pid_file": str(self.root / "mysqld.pid"),
            "log_error": str(self.error_log),
            # As root, the nodes run as mysql, as the service does: the SST's rsync
            # daemon would otherwise drop to nobody and could not write the datadir.
            **({"user": "mysql"} if os.geteuid() == 0 else {}),
            **TEST_SETTINGS,
            **WSREP_SETTINGS,
            "wsrep_cluster_name": CLUSTER_NAME,
            "wsrep_cluster_address": cluster_address,
            "wsrep_node_name": self.name,
            "wsrep_node_address": f"127.0.0.1:{self.gcomm_port}",
            "wsrep_node_incoming_address": self.address,
            "wsrep_sst_receive_address": f"127.0.0.1:{self.sst_port}",
            "wsrep_provider_options": (
                f'"gmcast.listen_addr=tcp://127.0.0.1:{self.gcomm_port};'
                f'ist.recv_addr=127.0.0.1:{self.ist_port};gcache.size=64M;{EVS_OPTIONS}"'
            ),
        }
        lines = ["[mysqld]", *(f"{key} = {value}" for key, value in settings.items())]
        self.defaults_file.write_text("\n".join(lines) + "\n")

    def connect(self, database: str | None = None, **extra: Any) -> Any:
        """A root connection over the node's socket (autocommit)."""
        import pymysql

        return pymysql.connect(
            unix_socket=str(self.socket),
            user="root",
            database=database,
            autocommit=True,
            connect_timeout=5,
            **extra,
        )

    def status(self, name: str) -> str | None:
        """A wsrep status variable (`wsrep_ready`, `wsrep_cluster_size`, ...), or None
        when the node does not answer."""
        import pymysql

        try:
            conn = self.connect()
        except pymysql.err.MySQLError:
            return None
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
                row = cur.fetchone()
                return str(row[1]) if row else None
        finally:
            conn.close()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.error_log.read_text(errors="replace")
        except OSError:
            return "(no error log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    """Three Galera nodes on loopback; `start()`, `kill(node)`, `restart(node)`, `stop()`."""

    root: Path
    nodes: list[Node] = field(default_factory=list)
    mariadbd: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path, size: int = 3) -> Cluster:
        need(Path(GALERA_PROVIDER).is_file(), f"{GALERA_PROVIDER} missing (Debian: galera-4)")
        mariadbd = program("mariadbd")
        for name in ("mariadb-install-db", "rsync", "wsrep_sst_rsync"):
            program(name)
        ports = free_ports(4 * size)
        nodes = []
        for n in range(size):
            port, gcomm, ist, sst = ports[4 * n : 4 * n + 4]
            nodes.append(Node(n + 1, root / f"node{n + 1}", port, gcomm, ist, sst))
        cluster = cls(root, nodes, mariadbd)
        address = "gcomm://" + ",".join(f"127.0.0.1:{n.gcomm_port}" for n in nodes)
        for node in nodes:
            node.root.mkdir(parents=True)
            node.datadir.mkdir()
            node.write_defaults(address)
            if os.geteuid() == 0:
                for path in (node.root, node.datadir, node.defaults_file):
                    shutil.chown(path, "mysql", "mysql")
        return cluster

    def start(self) -> None:
        """Bootstrap node 1 (`--wsrep-new-cluster`), then join the others one by one."""
        started = time.monotonic()
        first = self.nodes[0]
        self._install_db(first)
        self.timings["install"] = time.monotonic() - started
        self._spawn(first, bootstrap=True)
        self.wait_synced(first)
        self._grant_tcp_root(first)
        self.timings["bootstrap"] = time.monotonic() - started
        for node in self.nodes[1:]:
            self._spawn(node)
            self.wait_synced(node)
        self.wait_size(len(self.nodes))
        self.timings["start"] = time.monotonic() - started

    def _install_db(self, node: Node) -> None:
        argv = [
            program("mariadb-install-db"),
            f"--defaults-file={node.defaults_file}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--wsrep-on=OFF",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise AssertionError(
                f"mariadb-install-db for {node.name} failed:\n{done.stdout}\n{done.stderr}"
            )

    def _spawn(self, node: Node, *, bootstrap: bool = False) -> None:
        argv = [self.mariadbd, f"--defaults-file={node.defaults_file}"]
        if bootstrap:
            argv.append("--wsrep-new-cluster")
        # Its own session: a ^C to pytest does not reach the node mid-SST.
        with open(node.root / "stderr.log", "ab") as stderr:  # before log_error opens
            node.process = subprocess.Popen(  # noqa: S603 - fixed argv
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )

    def _grant_tcp_root(self, node: Node) -> None:
        """root@127.0.0.1 without password, replicated to every joiner by its SST."""
        conn = node.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'")
                cur.execute("GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
        finally:
            conn.close()

    def wait_synced(self, node: Node, timeout: float = START_TIMEOUT) -> None:
        """Until the node is Synced and ready (wsrep_ready=ON)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not node.running:
                raise AssertionError(f"{node.name} exited:\n{node.log_tail()}")
            if (
                node.status("wsrep_ready") == "ON"
                and node.status("wsrep_local_state_comment") == "Synced"
            ):
                return
            time.sleep(0.2)
        raise AssertionError(f"{node.name} not synced after {timeout:.0f} s:\n{node.log_tail()}")

    def wait_size(self, size: int, timeout: float = START_TIMEOUT) -> None:
        """Until every running node sees a primary component of `size` nodes."""
        deadline = time.monotonic() + timeout
        running = [n for n in self.nodes if n.running]
        while time.monotonic() < deadline:
            if all(
                n.status("wsrep_cluster_size") == str(size)
                and n.status("wsrep_cluster_status") == "Primary"
                for n in running
            ):
                return
            time.sleep(0.2)
        sizes = {n.name: n.status("wsrep_cluster_size") for n in running}
        raise AssertionError(f"cluster size is not {size} after {timeout:.0f} s: {sizes}")

    def kill(self, node: Node) -> None:
        """SIGKILL: the node dies as in a power cut, without leaving the cluster."""
        assert node.process is not None
        node.process.kill()
        node.process.wait(timeout=30)

    def restart(self, node: Node) -> None:
        """Start a stopped node again: it rejoins and catches up (IST, or SST)."""
        assert not node.running, f"{node.name} is running"
        self._spawn(node)
        self.wait_synced(node)

    def stop(self) -> list[str]:
        """Stop every node (SIGTERM, then SIGKILL); the names of those that needed it."""
        stubborn = []
        for node in self.nodes:
            if node.running:
                assert node.process is not None
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=30)
                stubborn.append(node.name)
        return stubborn

    def failover(self, first: Node) -> list[str]:
        """The other nodes' host:port, in order after `first`: database.failover."""
        index = self.nodes.index(first)
        return [n.address for n in self.nodes[index + 1 :] + self.nodes[:index]]


@contextmanager
def galera_cluster(size: int = 3) -> Iterator[Cluster]:
    """A started cluster of `size` nodes (bench/cluster.py compares three with one)
    in a private directory, stopped and removed afterwards (MAILCTL_GALERA_KEEP=1
    keeps the directory, with the nodes' logs)."""
    # Not under pytest's 0700 temporary tree: the mysql account walks this path.
    root = Path(tempfile.mkdtemp(prefix="mailctl-galera-"))
    os.chmod(root, 0o711)  # noqa: S103 - the nodes' own directories are mysql's, 0700
    cluster = Cluster.create(root, size)
    try:
        cluster.start()
        yield cluster
    finally:
        stubborn = cluster.stop()
        if not os.environ.get("MAILCTL_GALERA_KEEP"):
            shutil.rmtree(root, ignore_errors=True)
        assert not stubborn, f"nodes needed SIGKILL to stop: {', '.join(stubborn)}"


# ------------------------------------------------------------------ mail hosts


@dataclass(eq=False)  # one per host: hashed by identity, a key of job tables
class MailHost:
    """One mail host of the cluster: its own tree of managed files, lock and audit log,
    and a mailctl config whose database.url names `node`, the others as failover."""

    name: str
    node: Node
    mailctl: Mailctl

    @property
    def root(self) -> Path:
        return self.mailctl.root

    def __call__(self, *args: str, input: str | None = None, code: int | None = 0) -> Any:
        """The command in process (CliRunner), as support.cli runs it."""
        return self.mailctl(*args, input=input, code=code)

    def argv(self, *args: str) -> list[str]:
        """The command as its own process: what runs concurrently with others."""
        return [sys.executable, "-m", "mailctl", "--config", str(self.mailctl.config), *args]

    def start(self, *args: str) -> subprocess.Popen[str]:
        """The command in the background; `finish()` collects it."""
        return subprocess.Popen(  # noqa: S603 - the test's own argv
            self.argv(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.root,  # not the checkout: `-m` puts the working directory on sys.path
        )

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - the test's own argv
            self.argv(*args),
            input=input or "",
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=120,
            check=False,
        )


def finish(
    process: subprocess.Popen[str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def mail_host(
    cluster: Cluster,
    name: str,
    node: Node,
    root: Path,
    database: str,
    *,
    password_file: Path,
    sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> MailHost:
    """A mail host on `node` (the others its failover), files under root/name."""
    tree = root / name
    tree.mkdir(parents=True)
    url = f"mysql+pymysql://{MAILCTL_ACCOUNT}@127.0.0.1:{node.port}/{database}"
    own = {
        "database": {"password_file": str(password_file), "failover": cluster.failover(node)},
        "host": {"name": f"{name.lower()}.mail.test"},  # mailctl_hosts: one row per host
    }
    m = Mailctl.create(tree / "config.toml", url, tree, sections=merge(own, sections or {}))
    return MailHost(name, node, m)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (but the audit log) by relative path: a tree to compare."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("audit.log", "mailctl.lock")
    }
