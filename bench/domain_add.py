"""Benchmark: `mailctl domain add` with 1, 1,000 and 10,000 existing domains.

Key generation is excluded (the new domain's key file exists beforehand and is
reused), so the figure is the database work plus rendering and writing every
managed file. Prints the wall time per size and the ratio to the smallest, in
one run. Usage:

    python bench/domain_add.py [--db URL] [--sizes 1,1000,10000] [--repeat 3]

Without --db a fresh SQLite database per size is used (the sandbox backend).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from benchconfig import compile_mailctl, write_config
from click.testing import CliRunner

from mailctl.cli.root import cli
from mailctl.core import db
from mailctl.dkim.keyfiles import generate_rsa_key


def config(root: Path, url: str) -> Path:
    return write_config(root / "config.toml", root, url)


def populate(url: str, count: int) -> None:
    """Bulk-insert `count` domains with an active key row each (no key files needed)."""
    engine = db.make_engine(url)
    db.upgrade(engine)
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO virtual_domains (name) VALUES (:name)"),
            [{"name": f"d{i:05d}.example"} for i in range(count)],
        )
        conn.execute(
            sa.text(
                "INSERT INTO mailctl_dkim_keys (domain_id, selector, algorithm, bits, state,"
                " created_at, activated_at) SELECT id, 'mail', 'rsa', 1024, 'active', :t, :t"
                " FROM virtual_domains"
            ),
            {"t": now},
        )
    engine.dispose()


def measure(size: int, url_base: str | None, repeat: int, pem: bytes) -> list[float]:
    times = []
    for run in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            url = url_base or f"sqlite:///{root / 'bench.sqlite3'}"
            if url_base:
                reset(url_base)
            populate(url, size)
            cfg = config(root, url)
            runner = CliRunner()
            # Render the files for the existing domains first, as on a live server.
            assert runner.invoke(cli, ["--config", str(cfg), "-q", "sync"]).exit_code == 0
            name = f"new{run}.example"
            key = root / "keys" / name / "mail.private"
            key.parent.mkdir(parents=True)
            key.write_bytes(pem)
            key.chmod(0o600)
            start = time.perf_counter()
            result = runner.invoke(
                cli, ["--config", str(cfg), "-q", "domain", "add", name, "--no-postmaster"]
            )
            times.append(time.perf_counter() - start)
            assert result.exit_code == 0, result.output
    return times


def reset(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in ("mailctl_dkim_keys", "virtual_aliases", "virtual_users",
                      "virtual_domains", "mailctl_schema_version"):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (its tables are dropped and recreated!)")
    parser.add_argument("--sizes", default="1,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compile_mailctl()
    os.environ.pop("MAILCTL_CONFIG", None)
    pem = generate_rsa_key(1024)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {size: statistics.median(measure(size, args.db, args.repeat, pem))
               for size in sizes}
    base = results[sizes[0]]
    print(f"backend: {'sqlite' if not args.db else sa.engine.make_url(args.db).drivername}")
    print(f"{'existing domains':>17} {'domain add (s)':>15} {'ratio':>7} {'per 1k domains':>15}")
    for size in sizes:
        per_k = (results[size] - base) / max(size - sizes[0], 1) * 1000
        print(f"{size:>17} {results[size]:>15.3f} {results[size] / base:>7.2f} {per_k:>15.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
