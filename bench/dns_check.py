"""Benchmark: `mailctl dns check` of 100 domains against a local BIND.

Adds the domains (SQLite, 1024-bit keys to keep set-up short), serves each
zone exactly as `dns show --zone` prints it (plus the reverse zones) from a
private `named` on 127.0.0.1, then times `dns check --nameserver` of all
domains; target <= 5 s. Prints the time and the ratio to the target. Usage:

    python bench/dns_check.py [--domains 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from domain_add import config  # noqa: E402
from support.named import Named  # noqa: E402  (the tests' private BIND harness)

from mailctl.cli.root import cli  # noqa: E402

TARGET = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = config(root, f"sqlite:///{root / 'bench.sqlite3'}")
        # The mail host inside the first domain, so its A/AAAA (and SPF's mx) resolve.
        cfg.write_text(cfg.read_text() + '[server]\nhostname = "mail.d000.example"\n')
        runner = CliRunner()

        def mailctl(*argv: str) -> str:
            result = runner.invoke(cli, ["--config", str(cfg), "-q", *argv])
            assert result.exit_code in (0, 1), result.output
            return result.stdout

        names = [f"d{i:03d}.example" for i in range(args.domains)]
        assert runner.invoke(cli, ["--config", str(cfg), "-q", "db", "upgrade"]).exit_code == 0
        mailctl("domain", "add", *names)
        zones = {}
        for name in names:
            zones[name] = mailctl("dns", "show", name, "--zone")
        for record in json.loads(mailctl("dns", "show", "-f", "json")):
            if record["type"] == "PTR":
                zones[record["name"].rstrip(".")] = (
                    f"$ORIGIN {record['name']}\n$TTL 300\n"
                    "@ IN SOA ns1.example. hostmaster.example. 1 3600 600 86400 300\n"
                    f"@ IN NS ns1.example.\n@ IN PTR {record['value']}\n"
                )
        named = Named(root / "named")
        (root / "named").mkdir()
        named.serve(zones)
        try:
            start = time.perf_counter()
            result = runner.invoke(
                cli,
                ["--config", str(cfg), "-q", "dns", "check", "--nameserver", named.address,
                 "-f", "json"],
            )
            elapsed = time.perf_counter() - start
        finally:
            named.stop()
        rows = json.loads(result.stdout)
        ok = sum(1 for r in rows if r["status"] == "OK")
        print(f"dns check of {args.domains} domains ({len(rows)} records, {ok} OK,"
              f" exit {result.exit_code}): {elapsed:.2f} s; target {TARGET:.0f} s;"
              f" ratio {elapsed / TARGET:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
