"""mailctl side by side with its peers, vmm 0.7.0 and PostfixAdmin 3.3.13, in one run.

    python bench/peers.py [--db mysql+pymysql://root@127.0.0.1:3306]
                          [--pg postgresql://postgres@127.0.0.1:5432] [--quick]
                          [--runs N] [--only STEP,...]

Runs as root on Debian 12 (vmm refuses any other user; the packages come from apt).
Missing packages are installed first: `vmm`, `postfixadmin` and `php-cli` with
--no-install-recommends (that brings apache2, PHP 8.2, dbconfig-common and
python3-psycopg2), debconf preseeded so that dbconfig-common configures no
database, and with no service started during the install (a temporary
/usr/sbin/policy-rc.d when the machine has none). Already installed: no apt call.

Each tool gets a throwaway database, dropped at the end with everything else:
  mailctl       MariaDB `mailctl_peers_<hex>`, a private config from
                benchconfig.write_config (reloads off, postmap on a private main.cf),
                maildirs created on `user add` (as vmm does) and DKIM keys of the
                product's default size.
  vmm           PostgreSQL `vmm_peers_<hex>` with the package's create_tables.pgsql.
                vmm 0.7.0 reads only /etc/vmm/vmm.cfg and fails on Python 3.10+
                (collections.Callable), so it runs through a small launcher that sets
                that alias and points vmm's CFG_PATH at a private copy of the packaged
                vmm.cfg (database, mail root under the temp dir); its postconf reads a
                private main.cf through MAIL_CONFIG. Nothing under /etc/vmm or /usr is
                changed.
  PostfixAdmin  MariaDB `pfa_peers_<hex>`, schema by its own public/upgrade.php run
                with the PHP CLI. postfixadmin-cli reads only
                /etc/postfixadmin/config.local.php, so the run writes that file and
                puts back what was there (or removes it) at the end. Hashes are
                php_crypt:SHA512, the SHA512-CRYPT mailctl and vmm store.

Every figure is a new process per command, best of several runs taken with the
tools alternating, except the 1,000-mailbox loop: one pass, the tools alternating
call by call, reported as the sum. PostfixAdmin has no listing command ("—").
`python -c "import click"` (mailctl's interpreter) is the baseline of the
"within 3x of import click" target. --quick: 3 runs, 100 mailboxes in the loop and
1,000 to list, a smoke test of the script (its numbers are not the reference).
--runs N: N runs per figure instead of 10; --only: some of the steps (help,
domain-add, mailbox-add, alias-add, list-domain, loop, list-all) and those they need.
mailctl must be installed from its wheel (scripts/test does that in .venv): an
editable install adds an import finder that costs every command about 5 ms.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import gzip
import itertools
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pymysql
import sqlalchemy as sa
from benchconfig import compile_mailctl, write_config  # bench/ is on sys.path when run as a script
from psycopg import sql
from psycopg.rows import TupleRow
from run import MAILCTL, best_of, ms, secs, wall

import mailctl
from mailctl.core import db
from mailctl.passwords import hashing as passwords

PACKAGES = ("vmm", "postfixadmin", "php-cli")
PRESEED = b"postfixadmin postfixadmin/dbconfig-install boolean false\n"
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
VMM_SCRIPT = Path("/usr/sbin/vmm")
VMM_CONFIG = Path("/etc/vmm/vmm.cfg")
VMM_SCHEMA_DIRS = (Path("/usr/share/doc/vmm"), Path("/usr/share/vmm"))
PFA_ROOT = Path("/usr/share/postfixadmin")
PFA_LOCAL_CONFIG = Path("/etc/postfixadmin/config.local.php")
PASSWORD = "bench password 0123"  # noqa: S105 - a throwaway test password
PASSWORD_LINE = (PASSWORD + "\n").encode()


# ------------------------------------------------------------------ the tools


class Tool:
    """One CLI: the argv of each operation, its run as a new process, and its rows."""

    label = ""

    def __init__(self, argv: Sequence[str], env: dict[str, str], server: Server, name: str):
        self.argv = list(argv)
        self.env = env
        self.server = server  # the tool's database server
        self.name = name  # and its throwaway database there

    def time(self, *args: str, stdin: bytes | None = None) -> float:
        return wall([*self.argv, *args], self.env, stdin)

    def output(self, *args: str) -> str:
        done = subprocess.run(
            [*self.argv, *args], env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout

    def help(self) -> float:
        return self.time("--help")

    def domain_add(self, domain: str) -> float:
        raise NotImplementedError

    def mailbox_add(self, email: str) -> float:
        raise NotImplementedError

    def alias_add(self, source: str, destination: str) -> float:
        raise NotImplementedError

    def list_args(self, domain: str | None) -> list[str] | None:
        """The argv that lists the mailboxes of `domain` (None: all); None: no such command."""
        return None

    def count_mailboxes(self, domain: str) -> int:
        raise NotImplementedError

    def replace_mailboxes(self, domain: str, count: int) -> None:
        """Delete every mailbox, then insert `count` into `domain` by SQL."""
        raise NotImplementedError


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str

    @classmethod
    def from_url(cls, url: str, default_port: int, default_user: str) -> Server:
        parsed = sa.engine.make_url(url)
        return cls(
            parsed.host or "127.0.0.1",
            parsed.port or default_port,
            parsed.username or default_user,
            parsed.password or "",
        )

    def mysql(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            autocommit=True,
        )

    def pg(self, database: str = "postgres") -> psycopg.Connection[TupleRow]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
        )


def stored_hash() -> str:
    """One SHA512-CRYPT hash with its {SCHEME} prefix, as mailctl and vmm store it."""
    return passwords.hash_password(PASSWORD, "SHA512-CRYPT")


class Mailctl(Tool):
    label = "mailctl"

    def domain_add(self, domain: str) -> float:
        return self.time("domain", "add", domain)

    def mailbox_add(self, email: str) -> float:
        return self.time("user", "add", "--password-stdin", email, stdin=PASSWORD_LINE)

    def alias_add(self, source: str, destination: str) -> float:
        return self.time("alias", "add", source, destination)

    def list_args(self, domain: str | None) -> list[str] | None:
        return ["user", "list"] if domain is None else ["user", "list", domain]

    def count_mailboxes(self, domain: str) -> int:
        with self.server.mysql(self.name) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM virtual_users u JOIN virtual_domains d"
                " ON d.id = u.domain_id WHERE d.name = %s",
                (domain,),
            )
            return int(cur.fetchone()[0])

    def replace_mailboxes(self, domain: str, count: int) -> None:
        stored = stored_hash()
        with self.server.mysql(self.name) as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM virtual_users")
            cur.execute("SELECT id FROM virtual_domains WHERE name = %s", (domain,))
            domain_id = cur.fetchone()[0]
            rows = [(domain_id, f"u{i:05d}@{domain}", stored) for i in range(count)]
            for start in range(0, count, 5000):
                cur.executemany(
                    "INSERT INTO virtual_users (domain_id, email, password) VALUES (%s, %s, %s)",
                    rows[start : start + 5000],
                )


class Vmm(Tool):
    label = "vmm"

    def domain_add(self, domain: str) -> float:
        return self.time("domainadd", domain)

    def mailbox_add(self, email: str) -> float:
        return self.time("useradd", "-p", PASSWORD, email)

    def alias_add(self, source: str, destination: str) -> float:
        return self.time("aliasadd", source, destination)

    def list_args(self, domain: str | None) -> list[str] | None:
        # A pattern without "@" matches the domain part only.
        return ["listusers"] if domain is None else ["listusers", "-p", domain]

    def count_mailboxes(self, domain: str) -> int:
        with self.server.pg(self.name) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM users JOIN domain_name USING (gid) WHERE domainname = %s",
                (domain,),
            ).fetchone()
            assert row is not None
            return int(row[0])

    def replace_mailboxes(self, domain: str, count: int) -> None:
        stored = stored_hash()
        with self.server.pg(self.name) as conn:
            conn.execute("DELETE FROM users")
            row = conn.execute(
                "SELECT gid FROM domain_name WHERE domainname = %s", (domain,)
            ).fetchone()
            assert row is not None
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO users (local_part, passwd, gid) VALUES (%s, %s, %s)",
                    [(f"u{i:05d}", stored, row[0]) for i in range(count)],
                )


class PostfixAdmin(Tool):
    label = "PostfixAdmin"

    def domain_add(self, domain: str) -> float:
        return self.time("domain", "add", domain)

    def mailbox_add(self, email: str) -> float:
        # --welcome-mail 0: its default mails the new mailbox through localhost:25.
        passwords = ["--password", PASSWORD, "--password2", PASSWORD]
        return self.time("mailbox", "add", email, *passwords, "--welcome-mail", "0")

    def alias_add(self, source: str, destination: str) -> float:
        return self.time("alias", "add", source, "--goto", destination)

    def count_mailboxes(self, domain: str) -> int:
        with self.server.mysql(self.name) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM mailbox WHERE domain = %s", (domain,))
            return int(cur.fetchone()[0])


# ------------------------------------------------------------------ installing the peers


def installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout == "installed"


@contextlib.contextmanager
def services_held() -> Iterator[None]:
    """No service starts during the install (apache2 would): policy-rc.d answers 101."""
    if POLICY_RC_D.exists():  # the machine has its own policy; keep it
        yield
        return
    fd = os.open(POLICY_RC_D, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755)
    with os.fdopen(fd, "w") as out:
        out.write("#!/bin/sh\n# bench/peers.py: no service starts while it installs\nexit 101\n")
    try:
        yield
    finally:
        POLICY_RC_D.unlink()


def install_peers() -> None:
    missing = [p for p in PACKAGES if not installed(p)]
    if not missing:
        return
    print(f"installing {' '.join(missing)}", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["debconf-set-selections"], input=PRESEED, check=True)
    with services_held():
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            env=env,
            check=True,
        )


# ------------------------------------------------------------------ setting them up


def clean_env() -> dict[str, str]:
    drop = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "MAILCTL_CONFIG", "MAILCTL_DB_URL")
    return {k: v for k, v in os.environ.items() if k not in drop}


def setup_mailctl(stack: contextlib.ExitStack, server: Server, tmp: Path) -> Mailctl:
    name = f"mailctl_peers_{secrets.token_hex(4)}"
    with server.mysql() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    stack.callback(drop_mysql, server, name)
    url = sa.engine.URL.create(
        "mysql+pymysql",
        username=server.user,
        password=server.password or None,
        host=server.host,
        port=server.port,
        database=name,
        query={"charset": "utf8mb4"},
    ).render_as_string(hide_password=False)
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    root = tmp / "mailctl"
    root.mkdir()
    config = write_config(
        root / "config.toml",
        root,
        url,
        create_maildirs=True,
        sections={"dkim": {"bits": None}},  # the product's key size, not the tests' 1024
    )
    # Started as after `pip install`: with a warm bytecode cache (see bench/run.py).
    env = {**clean_env(), "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
    return Mailctl([MAILCTL, "--config", str(config)], env, server, name)


def vmm_schema() -> str:
    found = sorted(p for d in VMM_SCHEMA_DIRS for p in d.rglob("create_tables*.pgsql*"))
    if not found:
        raise SystemExit(f"bench: no create_tables.pgsql under {VMM_SCHEMA_DIRS}")
    data = found[0].read_bytes()
    text = (gzip.decompress(data) if found[0].suffix == ".gz" else data).decode()
    # plpgsql is built in since PostgreSQL 9.0; creating it again is an error.
    return re.sub(r"(?m)^CREATE LANGUAGE plpgsql;$", "", text)


def vmm_config(server: Server, name: str, base: Path) -> str:
    """The packaged vmm.cfg with the throwaway database and a private mail root."""
    cfg = configparser.RawConfigParser(comment_prefixes=(";", "#"))
    cfg.read(VMM_CONFIG, encoding="utf-8")
    database = {
        "host": server.host,
        "port": str(server.port),
        # vmm accepts "disabled" but hands it to libpq, which wants "disable": "allow"
        # is the closest it can say (no TLS unless the server insists).
        "sslmode": "allow",
        "user": server.user,
        "pass": server.password,
        "name": name,
    }
    cfg["database"].update(database)
    cfg["misc"]["base_directory"] = str(base)
    lines: list[str] = []
    for section in cfg.sections():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in cfg[section].items())
    return "\n".join(lines) + "\n"


VMM_LAUNCHER = '''\
"""vmm 0.7.0 on Python 3.10+ with a private vmm.cfg (written by bench/peers.py)."""
import collections
import collections.abc
import sys

collections.Callable = collections.abc.Callable  # gone since 3.10; vmm's config.py uses it
import VirtualMailManager.handler

VirtualMailManager.handler.CFG_PATH = {cfg_dir!r}  # vmm reads only CFG_PATH/vmm.cfg
from VirtualMailManager.cli.main import run

sys.argv[0] = "vmm"
sys.exit(run(sys.argv))
'''


def setup_vmm(stack: contextlib.ExitStack, server: Server, tmp: Path) -> Vmm:
    name = f"vmm_peers_{secrets.token_hex(4)}"
    with server.pg() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    stack.callback(drop_pg, server, name)
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", server.host]
    subprocess.run(
        [*psql, "-p", str(server.port), "-U", server.user, "-d", name],
        input=vmm_schema().encode(),
        env={**os.environ, "PGPASSWORD": server.password},
        stdout=subprocess.DEVNULL,
        check=True,
    )
    root = tmp / "vmm"
    (root / "etc").mkdir(parents=True)
    # vmm stores each domain's directory, base/X/GID, in a varchar(40): a short base.
    mail = Path(tempfile.mkdtemp(prefix="vmm-", dir="/tmp"))
    stack.callback(shutil.rmtree, mail, ignore_errors=True)
    fd = os.open(root / "etc" / "vmm.cfg", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "w") as out:  # vmm refuses a vmm.cfg whose mode is not 0640
        out.write(vmm_config(server, name, mail))
    # aliasadd asks postconf for virtual_alias_expansion_limit: a private main.cf
    # (and master.cf: postconf's warning about a missing one is an error to vmm).
    postfix = root / "postfix-etc"
    postfix.mkdir()
    (postfix / "main.cf").write_text("compatibility_level = 3.6\n")
    (postfix / "master.cf").write_text("")
    launcher = root / "vmm_launcher.py"
    launcher.write_text(VMM_LAUNCHER.format(cfg_dir=str(root / "etc")))
    python = VMM_SCRIPT.read_text().splitlines()[0].removeprefix("#!").split()
    env = {**clean_env(), "MAIL_CONFIG": str(postfix)}
    return Vmm([*python, str(launcher)], env, server, name)


def php_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def setup_postfixadmin(stack: contextlib.ExitStack, server: Server, tmp: Path) -> PostfixAdmin:
    name = f"pfa_peers_{secrets.token_hex(4)}"
    with server.mysql() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    stack.callback(drop_mysql, server, name)
    settings = {
        "database_type": "mysqli",
        "database_host": server.host,
        "database_port": str(server.port),
        "database_user": server.user,
        "database_password": server.password,
        "database_name": name,
        "encrypt": "php_crypt:SHA512",  # the SHA512-CRYPT that mailctl and vmm store
        "emailcheck_resolve_domain": "NO",  # its default looks each domain up in DNS
        "aliases": "0",  # 0: no limit per domain (default 10)
        "mailboxes": "0",
        "maxquota": "0",
        "domain_quota": "NO",
    }
    text = "<?php\n// bench/peers.py: a throwaway database, removed at the end of the run\n"
    text += "$CONF['configured'] = true;\n"
    text += "".join(f"$CONF[{php_string(k)}] = {php_string(v)};\n" for k, v in settings.items())
    backup = PFA_LOCAL_CONFIG.with_name(PFA_LOCAL_CONFIG.name + ".peers-bench-backup")
    if PFA_LOCAL_CONFIG.exists():
        os.replace(PFA_LOCAL_CONFIG, backup)
        stack.callback(os.replace, backup, PFA_LOCAL_CONFIG)
    else:
        stack.callback(PFA_LOCAL_CONFIG.unlink, missing_ok=True)
    fd = os.open(PFA_LOCAL_CONFIG, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    subprocess.run(
        ["php", str(PFA_ROOT / "public" / "upgrade.php")],
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    with server.mysql(name) as conn, conn.cursor() as cur:
        cur.execute("SELECT value FROM config WHERE name = 'version'")
        if cur.fetchone() is None:
            raise SystemExit("bench: PostfixAdmin's upgrade.php created no schema")
    cli = shutil.which("postfixadmin-cli") or str(PFA_ROOT / "scripts" / "postfixadmin-cli")
    return PostfixAdmin([cli], clean_env(), server, name)


def drop_mysql(server: Server, name: str) -> None:
    with server.mysql() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def drop_pg(server: Server, name: str) -> None:
    with server.pg() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class Target:
    text: str
    vs_vmm: float | None  # mailctl / vmm at most
    vs_click: float | None  # mailctl / `import click` at most


EVERYDAY = Target("≤ 1.0× vmm, ≤ 3× import click", 1.0, 3.0)
DOMAIN_ADD = Target("≤ 2.5× vmm", 2.5, None)
NOT_SLOWER = Target("≤ vmm", 1.0, None)
NO_TARGET = Target("—", None, None)


@dataclass
class Row:
    command: str
    times: dict[str, float | None]  # per tool label; None: the tool has no such command
    seconds: bool  # shown in s (a total), else in ms
    target: Target


ROWS: list[Row] = []
CLICK: list[float] = []  # the baseline, measured with the help


def report(
    command: str,
    tools: Sequence[Tool],
    times: Sequence[float | None],
    *,
    target: Target,
    seconds: bool = False,
) -> None:
    row = Row(command, {t.label: v for t, v in zip(tools, times, strict=True)}, seconds, target)
    ROWS.append(row)
    shown = ", ".join(f"{k} {cell(v, seconds)}" for k, v in row.times.items())
    print(f"  {command}: {shown}", file=sys.stderr, flush=True)


def cell(value: float | None, seconds: bool) -> str:
    if value is None:
        return "—"
    return secs(value) if seconds else ms(value)


def verdict(row: Row) -> tuple[str, str, str]:
    """mailctl / vmm, mailctl / import click, and whether the target is met."""
    mine, vmm = row.times.get("mailctl"), row.times.get("vmm")
    by_vmm = mine / vmm if mine is not None and vmm else None
    by_click = mine / CLICK[0] if mine is not None and CLICK and not row.seconds else None
    misses = []
    if row.target.vs_vmm is not None and (by_vmm is None or by_vmm > row.target.vs_vmm):
        misses.append("vmm")
    if row.target.vs_click is not None and (by_click is None or by_click > row.target.vs_click):
        misses.append("click")
    met = "—" if row.target is NO_TARGET else (f"no ({', '.join(misses)})" if misses else "yes")
    return (
        "—" if by_vmm is None else f"{by_vmm:.2f}",
        "—" if by_click is None else f"{by_click:.2f}",
        met,
    )


def markdown_table(tools: Sequence[Tool]) -> str:
    ratios = ["mailctl / vmm", "mailctl / click"]
    header = ["command", *(t.label for t in tools), *ratios, "target", "met"]
    lines = [header]
    for row in ROWS:
        by_vmm, by_click, met = verdict(row)
        times = [cell(row.times.get(t.label), row.seconds) for t in tools]
        lines.append([row.command, *times, by_vmm, by_click, row.target.text, met])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = [False] + [True] * (len(tools) + len(ratios)) + [False, False]
    rule = ["-" * w + (":" if r else "-") for w, r in zip(widths, numeric, strict=True)]
    out = []
    for line in lines:
        cells = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(line, widths, numeric, strict=True)
        ]
        out.append("| " + " | ".join(cells) + " |")
    out.insert(1, "|-" + "|-".join(rule) + "|")
    return "\n".join(out)


def all_met() -> bool:
    return not any(verdict(row)[2].startswith("no") for row in ROWS)


# ------------------------------------------------------------------ measurements


def timed(runs: int, *funcs: Callable[[], float]) -> list[float]:
    """best_of after one call of each (a cold start is no figure of the tool)."""
    for func in funcs:
        func()
    return best_of(runs, *funcs)


def numbered(func: Callable[[str], float], pattern: str) -> Callable[[], float]:
    """`func` called with a new name each time: pattern.format(0), (1), ..."""
    counter = itertools.count()
    return lambda: func(pattern.format(next(counter)))


def bench_help(tools: Sequence[Tool], runs: int) -> None:
    mailctl = tools[0]
    click_argv = [sys.executable, "-c", "import click"]
    click, *helps = timed(runs, lambda: wall(click_argv, mailctl.env), *(t.help for t in tools))
    CLICK.append(click)
    ROWS.append(Row('`python -c "import click"` (baseline)', {"mailctl": click}, False, NO_TARGET))
    report("`--help`", tools, helps, target=EVERYDAY)


def bench_domain_add(tools: Sequence[Tool], runs: int) -> None:
    times = timed(runs, *(numbered(t.domain_add, "d{}.example") for t in tools))
    report("domain add", tools, times, target=DOMAIN_ADD)


def bench_mailbox_add(tools: Sequence[Tool], runs: int) -> None:
    for tool in tools:
        tool.domain_add("peers.example")
    times = timed(runs, *(numbered(t.mailbox_add, "m{}@peers.example") for t in tools))
    report("mailbox add", tools, times, target=EVERYDAY)


def bench_alias_add(tools: Sequence[Tool], runs: int) -> None:
    def adder(tool: Tool) -> Callable[[str], float]:
        return lambda source: tool.alias_add(source, "m0@peers.example")

    times = timed(runs, *(numbered(adder(t), "a{}@peers.example") for t in tools))
    report("alias add", tools, times, target=EVERYDAY)


def listing(tool: Tool, domain: str | None, expected: int) -> Callable[[], float] | None:
    """A timing function for the tool's listing, checked once to list `expected` mailboxes."""
    args = tool.list_args(domain)
    if args is None:
        return None
    listed = sum("@" in line for line in tool.output(*args).splitlines())
    if listed != expected:
        raise SystemExit(f"bench: {tool.label} listed {listed} mailboxes, expected {expected}")
    return lambda: tool.time(*args)


def bench_list_domain(tools: Sequence[Tool], runs: int) -> None:
    listers = [t for t in tools if t.list_args("ten.example") is not None]
    for tool in listers:
        tool.domain_add("ten.example")
        for i in range(10):
            tool.mailbox_add(f"t{i}@ten.example")
    funcs = [listing(t, "ten.example", 10) for t in tools]
    best = iter(timed(runs, *(f for f in funcs if f is not None)))
    times = [None if f is None else next(best) for f in funcs]
    report("list a domain of 10 mailboxes", tools, times, target=EVERYDAY)


def bench_mailbox_loop(tools: Sequence[Tool], count: int) -> None:
    """`count` mailbox adds, one process each, the tools alternating call by call."""
    for tool in tools:
        tool.domain_add("loop.example")
    totals = [0.0] * len(tools)
    for i in range(count):
        for n, tool in enumerate(tools):
            totals[n] += tool.mailbox_add(f"l{i:05d}@loop.example")
    for tool in tools:
        if (made := tool.count_mailboxes("loop.example")) != count:
            raise SystemExit(f"bench: {tool.label} has {made} of {count} loop mailboxes")
    command = f"{count:,} × mailbox add, one call each (total)"
    report(command, tools, totals, target=NOT_SLOWER, seconds=True)


def bench_list_all(tools: Sequence[Tool], runs: int, count: int) -> None:
    """The listing of all mailboxes, `count` of them (inserted by SQL, all others deleted)."""
    funcs: list[Callable[[], float] | None] = []
    for tool in tools:
        if tool.list_args(None) is None:
            funcs.append(None)
            continue
        tool.domain_add("big.example")
        tool.replace_mailboxes("big.example", count)
        funcs.append(listing(tool, None, count))
    best = iter(timed(runs, *(f for f in funcs if f is not None)))
    times = [None if f is None else next(best) for f in funcs]
    report(f"list all {count:,} mailboxes", tools, times, target=NOT_SLOWER, seconds=True)


# ------------------------------------------------------------------ main

# Each step and the steps it needs (--only): alias add points at mailbox add's m0, and
# every ratio to `import click` needs help's baseline.
STEPS: dict[str, tuple[str, ...]] = {
    "help": (),
    "domain-add": ("help",),
    "mailbox-add": ("help",),
    "alias-add": ("help", "mailbox-add"),
    "list-domain": ("help",),
    "loop": (),
    "list-all": (),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--db",
        default="mysql+pymysql://root@127.0.0.1:3306",
        help="MariaDB server for mailctl's and PostfixAdmin's databases",
    )
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server for vmm's"
    )
    parser.add_argument("--quick", action="store_true", help="3 runs, small counts")
    parser.add_argument("--runs", type=int, help="runs per figure (default 10; --quick: 3)")
    parser.add_argument(
        "--only",
        metavar="STEP,...",
        help=f"only these steps (and what they need): {', '.join(STEPS)}",
    )
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else set(STEPS)
    if unknown := only - set(STEPS):
        parser.error(f"unknown step {', '.join(sorted(unknown))}; steps: {', '.join(STEPS)}")
    only |= {need for step in only for need in STEPS[step]}
    compile_mailctl()
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (apt-get, and vmm refuses any other user)")
    if not MAILCTL:
        raise SystemExit("bench: no mailctl console script next to this Python or on PATH")
    if "site-packages" not in str(Path(mailctl.__file__)):
        raise SystemExit(  # an editable install imports through an extra finder: ~5 ms
            "bench: time mailctl as installed (scripts/test puts the wheel into .venv),"
            " not an editable install"
        )
    runs = args.runs or (3 if args.quick else 10)
    loop = 100 if args.quick else 1000
    big = 1000 if args.quick else 10_000
    install_peers()
    mysql = Server.from_url(args.db, 3306, "root")
    pg = Server.from_url(args.pg, 5432, "postgres")
    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="mailctl-peers-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        tools: list[Tool] = [
            setup_mailctl(stack, mysql, tmp),
            setup_vmm(stack, pg, tmp),
            setup_postfixadmin(stack, mysql, tmp),
        ]
        steps: dict[str, Callable[[], None]] = {
            "help": lambda: bench_help(tools, 2 * runs),
            "domain-add": lambda: bench_domain_add(tools, runs),
            "mailbox-add": lambda: bench_mailbox_add(tools, runs),
            "alias-add": lambda: bench_alias_add(tools, runs),
            "list-domain": lambda: bench_list_domain(tools, runs),
            "loop": lambda: bench_mailbox_loop(tools, loop),
            "list-all": lambda: bench_list_all(tools, max(3, runs // 2), big),
        }
        for name, step in steps.items():
            if name in only:
                print(name, file=sys.stderr, flush=True)
                step()
    print(markdown_table(tools))
    return 0 if all_met() else 1


if __name__ == "__main__":
    sys.exit(main())
