"""Two writers of one row through different nodes: Galera certifies the first and
refuses the other (error 1213); mailctl runs the refused change again, from the start.

Each test holds one writer at a known point inside its transaction, so that the
other commits first for certain: a trigger that sleeps (`alias add`), or a
postmap stand-in that waits (`domain add`, after its files are written).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.files import make_cert
from support.galera import Cluster, MailHost, Node, finish, snapshot

RERUN_NOTE = "deadlock or Galera certification conflict (1213)); running it again"


def _query(node: Node, sql: str) -> list[tuple[Any, ...]]:
    conn = node.connect("mailserver")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return sorted(cur.fetchall())
    finally:
        conn.close()


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextmanager
def _sleeping_trigger(node: Node) -> Iterator[None]:
    """An UPDATE of virtual_aliases that adds a slow@ destination sleeps, once per
    session: the first attempt holds its row lock until another node's commit
    aborts it; the rerun, on the same connection, goes straight through."""
    conn = node.connect("mailserver")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TRIGGER test_gate BEFORE UPDATE ON virtual_aliases FOR EACH ROW"
                " BEGIN IF NEW.destination LIKE '%slow@%' AND @held IS NULL THEN"
                " SET @held = 1; DO SLEEP(20); END IF; END"
            )
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute("DROP TRIGGER IF EXISTS test_gate")
        conn.close()


def _sleeping(node: Node) -> bool:
    return bool(
        _query(node, "SELECT id FROM information_schema.processlist WHERE state = 'User sleep'")
    )


def test_two_alias_adds_on_one_row_through_two_nodes_both_land(
    cluster: Cluster, hosts: dict[str, MailHost]
) -> None:
    a, b = hosts["A"], hosts["B"]
    a("domain", "add", "conflict.example")
    a("alias", "add", "team@conflict.example", "first@conflict.example")
    with _sleeping_trigger(a.node):
        held = a.start("alias", "add", "team@conflict.example", "slow@conflict.example")
        _wait_for(lambda: _sleeping(a.node), "alias add on node 1 to hold its row")
        # Through node 2, the same row: certified first, it aborts the held one.
        other = b.run("alias", "add", "team@conflict.example", "fast@conflict.example")
        assert other.returncode == 0, other.stderr
        rerun = finish(held)
    assert rerun.returncode == 0, rerun.stderr
    assert RERUN_NOTE in rerun.stderr
    assert "team@conflict.example -> first@conflict.example" in rerun.stderr
    for node in cluster.nodes:
        rows = _query(
            node, "SELECT destination FROM virtual_aliases WHERE source = 'team@conflict.example'"
        )
        assert len(rows) == 1, node.name
        assert sorted(rows[0][0].split(",")) == [
            "fast@conflict.example",
            "first@conflict.example",
            "slow@conflict.example",
        ], node.name


GATE = """\
import pathlib, sys, time
reached, release = map(pathlib.Path, sys.argv[1:3])
reached.touch()
deadline = time.monotonic() + 60
while not release.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def test_a_refused_domain_add_puts_back_its_files_and_runs_again(
    cluster: Cluster,
    hosts: dict[str, MailHost],
    host_factory: Callable[..., MailHost],
    tmp_path: Path,
) -> None:
    """Host G's `domain add` has written its key and tables and waits in the step
    before the commit (postmap) while host B adds the same domain through node 2:
    G's commit is refused, its files are put back, and the rerun finds the domain
    there already. Host G's tree is as it was; the cluster has the domain once."""
    gate, reached, release = tmp_path / "gate.py", tmp_path / "reached", tmp_path / "release"
    gate.write_text(GATE)
    g = host_factory(
        "G", 1, commands={"postmap": [sys.executable, str(gate), str(reached), str(release)]}
    )
    make_cert(g.root / "certs" / "dup.example", ["dup.example", "imap.dup.example"])
    release.touch()  # open while the tree is set up
    g("domain", "add", "before.example")  # tables with content to put back
    release.unlink()
    reached.unlink()
    before = snapshot(g.root)

    held = g.start("domain", "add", "dup.example")
    _wait_for(reached.exists, "domain add on node 1 to reach postmap")
    assert (g.root / "keys" / "dup.example").is_dir()  # written, not committed
    other = hosts["B"].run("domain", "add", "dup.example")
    assert other.returncode == 0, other.stderr
    release.touch()
    rerun = finish(held)

    assert rerun.returncode == 1, rerun.stderr
    assert RERUN_NOTE in rerun.stderr
    assert rerun.stderr.splitlines()[-1] == "mailctl: error: domain dup.example exists already"
    assert snapshot(g.root) == before
    for node in cluster.nodes:
        assert _query(node, "SELECT name FROM virtual_domains WHERE name = 'dup.example'") == [
            ("dup.example",)
        ], node.name
        assert _query(
            node,
            "SELECT k.selector FROM mailctl_dkim_keys k JOIN virtual_domains d"
            " ON d.id = k.domain_id WHERE d.name = 'dup.example'",
        ) == [("mail",)], node.name
