"""`mailctl doctor` on the running end-to-end installation: green as built, and
each fault an administrator can cause is named with exit 1."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from datetime import UTC, datetime

from e2e_stack import Stack, add_domain_cert, run
from support.files import make_cert

DOMAIN = "doctor.example"


def rows(stack: Stack, code: int) -> dict[str, dict[str, str]]:
    out = stack.mailctl("doctor", "-f", "json", code=code)
    return {r["check"]: r for r in json.loads(out.stdout)}


def failures(stack: Stack) -> dict[str, str]:
    return {k: r["detail"] for k, r in rows(stack, 1).items() if r["status"] == "FAIL"}


def settled(stack: Stack, check: str, status: str, timeout: float = 20) -> dict[str, str]:
    """doctor's row `check` once it has `status`: a reload reaches new connections
    within moments, not at once."""
    deadline = time.monotonic() + timeout
    while True:
        found = json.loads(stack.mailctl("doctor", "-f", "json", code=None).stdout)
        row: dict[str, str] | None = next((r for r in found if r["check"] == check), None)
        if row and row["status"] == status:
            return row
        assert time.monotonic() < deadline, f"after {timeout:g}s doctor's row is {row}"
        time.sleep(0.1)


def test_doctor_on_the_running_server(stack: Stack) -> None:
    add_domain_cert(stack, DOMAIN)
    stack.mailctl("domain", "add", DOMAIN)
    stack.mailctl("user", "add", f"joe@{DOMAIN}", "--password-stdin",
                  input="correct horse battery staple\n")
    healthy = rows(stack, 0)
    assert not [r for r in healthy.values() if r["status"] == "FAIL"]
    assert healthy[f"tls {DOMAIN}"]["status"] == "OK"
    cert = stack.cert_dir(DOMAIN) / "fullchain.pem"
    assert healthy[f"tls dovecot imap.{DOMAIN}"]["detail"] == f"Dovecot serves {cert}"
    assert healthy[f"tls postfix smtp.{DOMAIN}"]["detail"] == f"Postfix serves {cert}"
    assert healthy["postfix map virtual-mailbox-domains"]["status"] == "OK"

    key = stack.odk / "keys" / DOMAIN / "mail.private"
    saved = key.read_bytes()
    owner = (key.stat().st_uid, key.stat().st_gid)

    # 1. a deleted key file
    key.unlink()
    assert failures(stack)[f"dkim mail._domainkey.{DOMAIN}"] == (
        f"{key} is missing (run: mailctl sync) (active key)"
    )
    key.write_bytes(saved)
    key.chmod(0o600)
    os.chown(key, *owner)
    rows(stack, 0)

    # 2. a key readable by others
    key.chmod(0o644)
    assert f"chmod 600 {key}" in failures(stack)[f"dkim mail._domainkey.{DOMAIN}"]
    key.chmod(0o600)
    rows(stack, 0)

    # 3. the KeyTable edited by hand
    table = stack.odk / "KeyTable"
    table.write_text(table.read_text().replace(f"{DOMAIN}:mail:", f"{DOMAIN}:edited:"))
    assert "differs from the database" in failures(stack)["file KeyTable"]
    stack.mailctl("sync")
    rows(stack, 0)

    # 4. a removed certificate: its SNI entries must go, and the domain is TLS pending
    certs = stack.cert_dir(DOMAIN)
    kept = certs.with_name(certs.name + ".kept")
    shutil.move(certs, kept)
    try:
        found = failures(stack)
        assert "differs from the database" in found["file SNI map"]
        assert "differs from the database" in found["file Dovecot SNI"]
    finally:
        shutil.move(kept, certs)
    rows(stack, 0)


def test_doctor_asks_the_servers_which_certificate_they_serve(stack: Stack) -> None:
    """certbot renewed, but the deploy hook did not run: the files on disk are new,
    Dovecot and Postfix still serve the old certificate, and only asking them shows it."""
    domain = "served.example"
    names = [domain, f"imap.{domain}", f"smtp.{domain}"]
    add_domain_cert(stack, domain)
    stack.mailctl("domain", "add", domain)
    dovecot, postfix = f"tls dovecot imap.{domain}", f"tls postfix smtp.{domain}"
    cert = stack.cert_dir(domain) / "fullchain.pem"
    assert settled(stack, dovecot, "OK")["detail"] == f"Dovecot serves {cert}"
    assert settled(stack, postfix, "OK")["detail"] == f"Postfix serves {cert}"

    # 1. renewed files, no sync: both servers named, `mailctl sync` the remedy
    make_cert(stack.cert_dir(domain), names, not_before=datetime.now(UTC))
    found = failures(stack)
    for check, server in ((dovecot, "Dovecot"), (postfix, "Postfix")):
        name = check.rsplit(" ", 1)[1]
        assert found[check].startswith(
            f"{server} serves an older certificate for {name} than {cert} (issued "
        ), found[check]
        assert found[check].endswith(f"): reload {server} (run: mailctl sync)"), found[check]
    stack.mailctl("sync")
    settled(stack, dovecot, "OK")
    settled(stack, postfix, "OK")
    rows(stack, 0)

    # 2. renewed and synced, but Dovecot never reloaded: the files are in sync, so
    #    `sync` would do nothing; doctor names Dovecot's own reload command
    reload = stack.mailctl.sections["commands"]["reload_dovecot"]
    make_cert(stack.cert_dir(domain), names, not_before=datetime.now(UTC))
    stack.mailctl.reconfigure(commands={"reload_dovecot": []})
    try:
        stack.mailctl("sync")
    finally:
        stack.mailctl.reconfigure(commands={"reload_dovecot": reload})
    assert "all managed files are in sync" in stack.mailctl("sync", "--check").stderr
    settled(stack, postfix, "OK")
    assert failures(stack)[dovecot].endswith(f"reload Dovecot (run: {shlex.join(reload)})")
    run(reload)
    settled(stack, dovecot, "OK")
    rows(stack, 0)
