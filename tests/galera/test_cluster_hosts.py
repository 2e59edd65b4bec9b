"""`doctor --cluster` on a real cluster: the Galera state as the node reports it, and
a mail host that stops syncing named until it syncs again; a killed node shrinks the
cluster size doctor reports."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from support.galera import Cluster, MailHost

STALE_AFTER = 3  # seconds: host.sync_stale_after of the host that asks


def _rows(host: MailHost) -> dict[str, dict[str, str]]:
    # Other tests' hosts (stale by this threshold) make the whole run red: read the rows.
    out = host("doctor", "--cluster", "-f", "json", code=None)
    return {r["check"]: r for r in json.loads(out.stdout)}


def test_doctor_cluster_goes_red_when_host_b_stops_syncing(
    cluster: Cluster, hosts: dict[str, MailHost], host_factory: Callable[..., MailHost]
) -> None:
    b = hosts["B"]
    watcher = host_factory("W", 1, host={"sync_stale_after": STALE_AFTER})
    b("sync")
    watcher("sync")
    found = _rows(watcher)
    assert found["galera ready"] == {
        "check": "galera ready",
        "status": "OK",
        "detail": "wsrep_ready ON, node Synced",
    }
    assert found["galera cluster"]["status"] == "OK"
    assert found["galera cluster"]["detail"] == (
        "wsrep_cluster_size 3, wsrep_cluster_status Primary"
    )
    assert found["galera flow control"]["detail"].startswith("wsrep_flow_control_paused ")
    assert found["host b.mail.test"]["status"] == "OK"
    assert "files in sync" in found["host b.mail.test"]["detail"]
    assert found["host w.mail.test"]["status"] == "OK"

    time.sleep(STALE_AFTER + 1.2)  # B's timer stops: no sync
    watcher("sync")  # the watcher itself goes on
    found = _rows(watcher)
    assert found["host b.mail.test"]["status"] == "FAIL"
    assert (
        f"more than host.sync_stale_after ({STALE_AFTER} s)"
        in (found["host b.mail.test"]["detail"])
    )
    assert found["host w.mail.test"]["status"] == "OK"
    # B's own row, read through node 2, says the same
    listed = {h["name"]: h for h in json.loads(b("host", "list", "-f", "json").stdout)}
    assert listed["b.mail.test"]["roles"] == ["mx", "submission", "imap"]

    b("sync")  # B syncs again: green
    assert _rows(watcher)["host b.mail.test"]["status"] == "OK"


def test_doctor_cluster_reports_the_smaller_cluster_after_a_node_dies(
    cluster: Cluster, host_factory: Callable[..., MailHost]
) -> None:
    watcher = host_factory("V", 1)
    victim = cluster.nodes[2]
    cluster.kill(victim)
    try:
        cluster.wait_size(2)
        found = _rows(watcher)
        assert found["galera cluster"]["status"] == "WARN"
        assert found["galera cluster"]["detail"] == (
            "wsrep_cluster_size 2, wsrep_cluster_status Primary: database.url and"
            " database.failover name 3 nodes"
        )
        assert found["galera ready"]["status"] == "OK"
    finally:
        cluster.restart(victim)
        cluster.wait_size(3)
    assert _rows(watcher)["galera cluster"]["status"] == "OK"
