"""Everyday commands counted in instructions, the same figure on a busy machine as on an idle one.

    python bench/instructions.py [--db mysql+pymysql://root@127.0.0.1:3306] [--mailctl PATH]

Wall-clock ratios (bench/run.py, bench/peers.py) move by a tenth from run to run
on a shared machine; the instructions a process executes do not. Each command
runs once under `valgrind --tool=callgrind` (Debian's valgrind), after one
ordinary run that fills the bytecode cache and mailctl's parse cache, as every
run after the first finds them, and the table gives its count beside
`python -c "import click"`'s. The count leaves out what the process waits
for (the database server's work, the disk), which only wall time shows. Uses a
throwaway MariaDB database `mailctl_bench_<random>` (bench/run.py's Bench) and
a config with maildirs on, as in bench/peers.py. --mailctl: another installed
mailctl's console script (an earlier release's venv, say), counted the same way.
About half a minute.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import subprocess
import sys
from collections.abc import Callable

from benchconfig import compile_mailctl  # bench/ is on sys.path when run as a script
from run import MAILCTL, Bench

PASSWORD_LINE = b"bench password 0123\n"


def instructions(
    argv: Callable[[], list[str]], env: dict[str, str], stdin: bytes | None = None
) -> int:
    """Instructions of one run of `argv()`, after an ordinary run (each call of `argv`
    names a new mailbox or alias where the command adds one)."""
    subprocess.run(argv(), env=env, input=stdin, capture_output=True, check=True)
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv()],
        env=env,
        input=stdin,
        capture_output=True,
        check=True,
    )
    found = re.search(rb"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"bench: no count from callgrind: {done.stderr.decode()[-500:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--mailctl", default=MAILCTL, help="console script to count")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("bench: valgrind is not installed (apt-get install valgrind)")
    compile_mailctl()
    with Bench(args.db, quick=False) as b:
        config = b.write_config(create_maildirs=True)
        mailctl = [args.mailctl, "--config", str(config)]
        fresh = itertools.count()

        def run(*args: str, stdin: bytes | None = None) -> None:
            subprocess.run(
                [*mailctl, *args], env=b.env, input=stdin, check=True, capture_output=True
            )

        run("domain", "add", "bench.example")
        for i in range(10):
            run("user", "add", "--password-stdin", f"u{i}@bench.example", stdin=PASSWORD_LINE)
        commands: list[tuple[str, Callable[[], list[str]], bytes | None]] = [
            (
                '`python -c "import click"` (baseline)',
                lambda: [sys.executable, "-c", "import click"],
                None,
            ),
            ("`--help`", lambda: [*mailctl, "--help"], None),
            (
                "user add --password-stdin",
                lambda: [
                    *mailctl,
                    "user",
                    "add",
                    "--password-stdin",
                    f"n{next(fresh)}@bench.example",
                ],
                PASSWORD_LINE,
            ),
            (
                "alias add",
                lambda: [
                    *mailctl,
                    "alias",
                    "add",
                    f"a{next(fresh)}@bench.example",
                    "u0@bench.example",
                ],
                None,
            ),
            (
                "user list of a domain of 10",
                lambda: [*mailctl, "user", "list", "bench.example"],
                None,
            ),
            ("domain list", lambda: [*mailctl, "domain", "list"], None),
        ]
        counts = []
        for label, argv, stdin in commands:
            print(label, file=sys.stderr, flush=True)
            counts.append((label, instructions(argv, b.env, stdin)))
    base = counts[0][1]
    print("| command | instructions | × `import click` |")
    print("|---|---:|---:|")
    for label, count in counts:
        print(f"| {label} | {count / 1e6:.1f} million | {count / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
