"""The cluster itself: three nodes, one primary component, one set of rows."""

from __future__ import annotations

from support.env import REPO_ROOT
from support.galera import EVS_OPTIONS, WSREP_SETTINGS, Cluster, MailHost


def test_three_synced_nodes_with_their_own_ports_and_data(cluster: Cluster) -> None:
    nodes = cluster.nodes
    assert len({n.port for n in nodes}) == 3
    assert len({n.datadir for n in nodes}) == 3
    for node in nodes:
        assert node.status("wsrep_cluster_size") == "3"
        assert node.status("wsrep_cluster_status") == "Primary"
        assert node.status("wsrep_ready") == "ON"


def test_a_domain_added_through_one_node_is_on_all(
    cluster: Cluster, hosts: dict[str, MailHost]
) -> None:
    hosts["A"]("domain", "add", "first.example")
    for node in cluster.nodes:
        conn = node.connect("mailserver")
        with conn.cursor() as cur:
            # a causal read: wait until this node has applied what the cluster committed
            cur.execute("SET SESSION wsrep_sync_wait = 1")
            cur.execute("SELECT name FROM virtual_domains WHERE name = 'first.example'")
            assert cur.fetchall() == (("first.example",),)
        conn.close()


def test_the_how_to_gives_the_settings_the_test_cluster_runs_with() -> None:
    import re

    text = (REPO_ROOT / "docs" / "how-to" / "galera-cluster.md").read_text()
    for key, value in WSREP_SETTINGS.items():
        assert re.search(rf"^{key} += {re.escape(value)}$", text, re.M), key
    for option in EVS_OPTIONS.split(";"):
        assert option in text
