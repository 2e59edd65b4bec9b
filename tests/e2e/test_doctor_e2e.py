"""`mailctl doctor` on the running end-to-end installation: green as built, and
each fault an administrator can cause is named with exit 1."""

from __future__ import annotations

import json
import os
import shutil

from e2e_stack import Stack, add_domain_cert

DOMAIN = "doctor.example"


def rows(stack: Stack, code: int) -> dict[str, dict[str, str]]:
    out = stack.mailctl("doctor", "-f", "json", code=code)
    return {r["check"]: r for r in json.loads(out.stdout)}


def failures(stack: Stack) -> dict[str, str]:
    return {k: r["detail"] for k, r in rows(stack, 1).items() if r["status"] == "FAIL"}


def test_doctor_on_the_running_server(stack: Stack) -> None:
    add_domain_cert(stack, DOMAIN)
    stack.mailctl("domain", "add", DOMAIN)
    stack.mailctl("user", "add", f"joe@{DOMAIN}", "--password-stdin",
                  input="correct horse battery staple\n")
    healthy = rows(stack, 0)
    assert not [r for r in healthy.values() if r["status"] == "FAIL"]
    assert healthy[f"tls {DOMAIN}"]["status"] == "OK"
    assert healthy["postfix map virtual-mailbox-domains"]["status"] == "OK"

    key = stack.odk / "keys" / DOMAIN / "mail.private"
    saved = key.read_bytes()
    owner = (key.stat().st_uid, key.stat().st_gid)

    # 1. a deleted key file
    key.unlink()
    assert "No such file" in failures(stack)[f"dkim mail._domainkey.{DOMAIN}"]
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
