"""The galera tier's fixtures: a three-node MariaDB Galera cluster on loopback,
started once for the session (about 15 s), and two mail hosts on it.

Run it alone with `scripts/test tests/galera` (or `pytest tests/galera` on a
machine with galera-4, rsync and MariaDB's server binaries; the machine's own
MariaDB is not used). MAILCTL_GALERA_KEEP=1 keeps the nodes' directories and logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.galera import Cluster, MailHost, galera_cluster, mail_host

DATABASE = "mailserver"



@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """Three Synced nodes: node 1 bootstrapped, nodes 2 and 3 joined by SST."""
    with galera_cluster() as started:
        yield started


@pytest.fixture(scope="session")
def hosts_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("galera-hosts")


@pytest.fixture(scope="session")
def hosts(cluster: Cluster, hosts_root: Path) -> dict[str, MailHost]:
    """Mail hosts A (on node 1) and B (on node 2), each with its own file tree, and
    the schema and SQL accounts made once, by `mailctl setup sql` on A."""
    password = hosts_root / "db.password"  # written by setup sql, read by both hosts
    first, second = cluster.nodes[0], cluster.nodes[1]
    a = mail_host(cluster, "A", first, hosts_root, DATABASE, password_file=password)
    b = mail_host(cluster, "B", second, hosts_root, DATABASE, password_file=password)
    started = time.monotonic()
    a("setup", "sql", "--admin-url", f"mysql+pymysql://root@127.0.0.1:{first.port}/")
    cluster.timings["setup sql"] = time.monotonic() - started
    return {"A": a, "B": b}


@pytest.fixture
def host_factory(
    cluster: Cluster, hosts: dict[str, MailHost], tmp_path: Path
) -> Iterator[Callable[..., MailHost]]:
    """More mail hosts, each with its own tree: `host_factory("C", node)`."""
    password = Path(hosts["A"].mailctl.sections["database"]["password_file"])

    def make(name: str, node_number: int, **sections: dict[str, object]) -> MailHost:
        node = cluster.nodes[node_number - 1]
        return mail_host(
            cluster, name, node, tmp_path, DATABASE, password_file=password, sections=sections
        )

    yield make
