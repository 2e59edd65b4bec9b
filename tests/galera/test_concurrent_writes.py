"""Many commands at once through all three nodes: every one lands exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from support.galera import Cluster, MailHost

WORKERS = 6  # two mail hosts per node, each running its commands one after another
DOMAINS_EACH = 5
USERS_EACH = 20  # 6 x (5 + 20) = 150 commands
PASSWORD = "correct horse battery staple\n"


def _run_all(jobs: Mapping[MailHost, Sequence[tuple[str, ...]]]) -> list[tuple[str, Any]]:
    """Each host's commands in order, all hosts at once; the failures."""

    def work(host: MailHost, commands: Sequence[tuple[str, ...]]) -> list[tuple[str, Any]]:
        failed = []
        for argv in commands:
            done = host.run(*argv, input=PASSWORD if argv[:2] == ("user", "add") else None)
            if done.returncode != 0:
                failed.append((f"{host.name}: {' '.join(argv)}", done.stderr))
        return failed

    with ThreadPoolExecutor(len(jobs)) as pool:
        results = [pool.submit(work, host, commands) for host, commands in jobs.items()]
        return [failure for result in results for failure in result.result()]


def _rows(cluster: Cluster, sql: str) -> list[list[tuple[Any, ...]]]:
    """The result of `sql` on each node, sorted."""
    found = []
    for node in cluster.nodes:
        conn = node.connect("mailserver")
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                found.append(sorted(cur.fetchall()))
        finally:
            conn.close()
    return found


def test_150_domain_and_user_adds_across_three_nodes_land_exactly_once(
    cluster: Cluster, host_factory: Callable[..., MailHost]
) -> None:
    hosts = [host_factory(f"W{i}", i % 3 + 1) for i in range(WORKERS)]
    domains = {h: [f"w{i}-{k}.example" for k in range(DOMAINS_EACH)] for i, h in enumerate(hosts)}
    started = time.monotonic()
    failed = _run_all({h: [("domain", "add", d) for d in domains[h]] for h in hosts})
    # Each host adds mailboxes to the domains another host just added through another
    # node: it must see them (the transaction's causal snapshot).
    users: dict[MailHost, list[tuple[str, ...]]] = {}
    for i, host in enumerate(hosts):
        theirs = domains[hosts[(i + 1) % WORKERS]]
        users[host] = [
            ("user", "add", f"u{i}-{n}@{theirs[n % DOMAINS_EACH]}", "--password-stdin")
            for n in range(USERS_EACH)
        ]
    failed += _run_all(users)
    elapsed = time.monotonic() - started
    assert failed == [], failed

    expected_domains = sorted((d,) for names in domains.values() for d in names)
    expected_users = sorted((argv[2],) for commands in users.values() for argv in commands)
    assert len(expected_domains) + len(expected_users) == 150
    for table, sql, expected in (
        ("domains", "SELECT name FROM virtual_domains WHERE name LIKE 'w%'", expected_domains),
        ("users", "SELECT email FROM virtual_users WHERE email LIKE 'u%'", expected_users),
        # No unique key stops a doubled alias row: only "exactly once" does.
        (
            "role aliases",
            "SELECT source FROM virtual_aliases WHERE source LIKE 'postmaster@w%'",
            sorted((f"postmaster@{d}",) for (d,) in expected_domains),
        ),
        (
            "DKIM keys",
            "SELECT d.name FROM mailctl_dkim_keys k JOIN virtual_domains d"
            " ON d.id = k.domain_id WHERE d.name LIKE 'w%'",
            expected_domains,
        ),
    ):
        on_nodes = _rows(cluster, sql)
        for node, rows in zip(cluster.nodes, on_nodes, strict=True):
            assert rows == expected, f"{table} on {node.name}"
    print(f"150 commands on 3 nodes: {elapsed:.1f} s")
