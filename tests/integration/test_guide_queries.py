"""The guide's own Postfix map queries (section 8.1) and Dovecot password_query
(section 6) return the right rows on a database that mailctl manages, read by
Postfix's real mysql: map client and checked by Dovecot's doveadm."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from support.cli import Mailctl
from support.mailconfig import MailConfig

# Copied from the guide: section 8.1 (Postfix) and section 6 (Dovecot).
POSTFIX_QUERIES = {
    "mysql-virtual-mailbox-domains.cf": "SELECT 1 FROM virtual_domains WHERE name='%s'",
    "mysql-virtual-mailbox-maps.cf": "SELECT 1 FROM virtual_users WHERE email='%s'",
    "mysql-virtual-alias-maps.cf": "SELECT destination FROM virtual_aliases WHERE source='%s'",
    "mysql-sender-login-maps.cf": "SELECT email FROM virtual_users WHERE email='%s'",
}
DOVECOT_PASSWORD_QUERY = "SELECT email AS user, password FROM virtual_users WHERE email='%u';"
PASSWORDS = {"joe@example.nl": "joe's long password", "ann@example2.nl": "ann's long password"}


@pytest.fixture
def managed(maria: Mailctl) -> Mailctl:
    maria("domain", "add", "example.nl", "example2.nl")
    maria("user", "add", "joe@example.nl", "--password-stdin",
          input=PASSWORDS["joe@example.nl"] + "\n")
    maria("user", "add", "ann@example2.nl", "--password-stdin", "--scheme", "BLF-CRYPT",
          input=PASSWORDS["ann@example2.nl"] + "\n")
    maria("alias", "add", "info@example.nl", "joe@example.nl", "ann@example2.nl")
    maria("alias", "add", "@example2.nl", "ann@example2.nl")
    return maria


def _map_file(tmp_path: Path, url: str, name: str, query: str) -> Path:
    db = sa.engine.make_url(url).database
    path = tmp_path / name
    path.write_text(f"user = root\npassword =\nhosts = 127.0.0.1\ndbname = {db}\nquery = {query}\n")
    return path


def test_postfix_reads_the_guide_maps(
    managed: Mailctl, tmp_path: Path, mail_config: MailConfig
) -> None:
    def _postmap_q(key: str, path: Path) -> str | None:
        return mail_config.postmap_query(key, f"mysql:{path}")

    maps = {n: _map_file(tmp_path, managed.url, n, q) for n, q in POSTFIX_QUERIES.items()}
    domains = maps["mysql-virtual-mailbox-domains.cf"]
    assert _postmap_q("example.nl", domains) == "1"
    assert _postmap_q("example2.nl", domains) == "1"
    assert _postmap_q("example.org", domains) is None
    mailboxes = maps["mysql-virtual-mailbox-maps.cf"]
    assert _postmap_q("joe@example.nl", mailboxes) == "1"
    assert _postmap_q("info@example.nl", mailboxes) is None
    aliases = maps["mysql-virtual-alias-maps.cf"]
    assert _postmap_q("info@example.nl", aliases) == "joe@example.nl,ann@example2.nl"
    assert _postmap_q("postmaster@example.nl", aliases) == "admin@example.nl"
    assert _postmap_q("@example2.nl", aliases) == "ann@example2.nl"
    assert _postmap_q("nobody@example.nl", aliases) is None
    senders = maps["mysql-sender-login-maps.cf"]
    assert _postmap_q("ann@example2.nl", senders) == "ann@example2.nl"


def test_dovecot_password_query_returns_hashes_doveadm_accepts(
    managed: Mailctl, mail_config: MailConfig
) -> None:
    for email, password in PASSWORDS.items():
        rows = managed.query(DOVECOT_PASSWORD_QUERY.replace("'%u'", ":u").rstrip(";"), u=email)
        assert len(rows) == 1
        user, stored = rows[0]
        assert user == email
        assert mail_config.password_verifies(stored, password)
        assert not mail_config.password_verifies(stored, password + "x")
    assert managed.query(DOVECOT_PASSWORD_QUERY.replace("'%u'", ":u").rstrip(";"),
                         u="info@example.nl") == []


@pytest.mark.parametrize("scheme", ["SHA512-CRYPT", "BLF-CRYPT", "ARGON2ID"])
def test_every_scheme_written_by_the_cli_is_verified_by_doveadm(
    maria: Mailctl, scheme: str, mail_config: MailConfig
) -> None:
    maria("domain", "add", "example.nl")
    maria("user", "add", "u@example.nl", "--scheme", scheme, "--password-stdin",
          input="pässwörd with umlauts\n")
    (stored,) = maria.query("SELECT password FROM virtual_users")[0]
    assert stored.startswith("{" + scheme + "}")
    assert mail_config.password_verifies(stored, "pässwörd with umlauts")
