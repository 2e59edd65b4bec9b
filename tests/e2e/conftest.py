"""The e2e tier's one fixture: the whole mail server, started once per test module.

Run it alone with `scripts/test tests/e2e` (or `pytest tests/e2e` as root on a
machine with the DEB_PACKAGES of scripts/test and MariaDB on 127.0.0.1:3306).
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import ADMIN_URL, Ports, SmtpSink, Stack, private_root, unique_names
from helpers import need, program

PROGRAMS = ("postfix", "postmap", "dovecot", "doveadm", "doveconf", "opendkim")
ACCOUNTS = ("postfix", "dovecot", "dovenull", "opendkim")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


def _mariadb_root() -> object:
    import pymysql

    try:
        return pymysql.connect(
            host="127.0.0.1",
            port=3306,
            user="root",
            password="",
            connect_timeout=5,
            autocommit=True,
        )
    except pymysql.err.OperationalError as exc:
        need(False, f"MariaDB not reachable on 127.0.0.1:3306 as root: {exc}")
        raise


def _drop(dbname: str, users: tuple[str, ...]) -> None:
    import pymysql

    conn = _mariadb_root()
    assert isinstance(conn, pymysql.connections.Connection)
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
            (dbname,),
        )
        for (pid,) in cur.fetchall():
            try:
                cur.execute(f"KILL {int(pid)}")
            except pymysql.err.OperationalError:
                pass
        cur.execute(f"DROP DATABASE IF EXISTS `{dbname}`")
        for user in users:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Postfix + Dovecot + OpenDKIM + MariaDB as the guide builds them, fed only by mailctl.

    Module scope: started once for a test module (about 2 s) and stopped when it is
    done, not left running through the rest of the suite."""
    need(os.geteuid() == 0, "the e2e tier runs Postfix, Dovecot and OpenDKIM as root")
    programs = {name: program(name) for name in PROGRAMS}
    for account in ACCOUNTS:
        try:
            pwd.getpwnam(account)
        except KeyError:
            need(False, f"system account {account!r} missing (Debian packages of scripts/test)")
    _mariadb_root()
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as mp, private_root() as root:
        # The stack's config is explicit; a developer's environment must not redirect it.
        mp.delenv("MAILCTL_DB_URL", raising=False)
        mp.delenv("MAILCTL_CONFIG", raising=False)
        dbname, mailctl_user, readonly_user = unique_names()
        stack = Stack(root, programs, Ports(), SmtpSink(), dbname, mailctl_user, readonly_user)
        try:
            stack.build()
            # The two accounts, the schema (migrated as mailctl's own account), and the
            # read-only files Postfix and Dovecot use: all from mailctl.
            stack.mailctl("setup", "sql", "--admin-url", ADMIN_URL)
            rendered = stack.mailctl(
                "setup", "render", "--dovecot-version", "2.3", "--catchall-fix"
            )
            stack.finish_postfix_config(rendered.stdout)
            stack.start_postfix()
            stack.start_opendkim()
            stack.start_dovecot()
            stack.mailctl("sync")
            stack.timings["start"] = time.monotonic() - started
            yield stack
        finally:
            problems = stack.stop()
            _drop(dbname, (mailctl_user, readonly_user))
            if problems:
                pytest.fail(f"daemons still running after teardown: {', '.join(problems)}")
