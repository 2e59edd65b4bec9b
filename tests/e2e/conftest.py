"""The e2e tier's one fixture: the whole mail server, started once per test module.

Run it alone with `scripts/test tests/e2e` (or `pytest tests/e2e` as root on a
machine with the DEB_PACKAGES of scripts/test and MariaDB on 127.0.0.1:3306).
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Iterator

import pytest
from e2e_stack import Ports, SmtpSink, Stack, private_root, unique_names
from support.databases import MARIADB_ADMIN_URL, drop_mariadb_database, mariadb_admin
from support.env import need, program

PROGRAMS = ("postfix", "postmap", "dovecot", "doveadm", "doveconf", "opendkim")
# vmail (uid 5000, guide section 5): the mail processes' user, who alone may open the
# SQL dict's socket (quota_clone, last_login) in the policy fragment setup render writes.
ACCOUNTS = ("postfix", "dovecot", "dovenull", "opendkim", "vmail")



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
            need(False, f"system account {account!r} missing (made by scripts/test)")
    mariadb_admin().close()
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
            stack.mailctl("setup", "sql", "--admin-url", MARIADB_ADMIN_URL)
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
            drop_mariadb_database(dbname, (mailctl_user, readonly_user))
            if problems:
                pytest.fail(f"daemons still running after teardown: {', '.join(problems)}")
