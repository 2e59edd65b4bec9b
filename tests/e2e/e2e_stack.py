"""The guide's mail server, privately, on loopback: what the e2e tests drive.

One temporary tree under /run (OpenDKIM refuses keys below a world-writable
directory such as /tmp) holds everything:

    etc/             mailctl's config and password files
    postfix/etc/     main.cf, master.cf and every map mailctl writes (config_directory)
    postfix/spool/   queue_directory; Dovecot's auth and LMTP sockets live in private/
    postfix/data/    data_directory (owned by postfix)
    dovecot/         dovecot.conf; from setup render: dovecot-sql.conf.ext (SQL passdb
                     and userdb), dovecot-dict-sql.conf.ext, conf.d/90-mailctl-policy.conf
                     (quota, quota-status, quota_clone, last_login); SNI conf; run/
    opendkim/        signer config, KeyTable, SigningTable, keys/ (from mailctl)
    certs/           self-signed certificates: the server's and one per domain
    vmail/           maildirs (uid/gid 5000)

Postfix runs the guide's main.cf/master.cf (§8.9/§8.10) minus what needs the
outside world: postscreen's DNSBL, the DNS-based client/HELO/sender checks,
policyd-spf, Amavis and OpenDMARC. The OpenDKIM signer (§12) sits on the
submission service directly (the guide puts it after Amavis), and relayhost is
an SMTP sink in this process. Every port is a free high port on 127.0.0.1; the
"outside" clients connect from 127.0.0.2, which is not in mynetworks.

The account policy is enforced as `setup render` writes it: Dovecot's SQL passdb
and userdb, the policy fragment and the SQL dict (its socket belongs to the vmail
user, uid 5000, guide section 5), and the check_policy_service line render prints
in smtpd_recipient_restrictions (Dovecot's quota-status at RCPT).

Daemons are started with their output in log files (Dovecot keeps the
caller's stderr open otherwise) and stopped by PID, waiting until /proc says
they are gone (PID 1 here reaps slowly, so kill -0 is not enough).
MAILCTL_E2E_KEEP=1 keeps the tree afterwards for debugging: the logs are
postfix/log/postfix.log, dovecot/dovecot.log and opendkim/opendkim.out.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import grp
import imaplib
import os
import pwd
import secrets
import shutil
import smtplib
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from support.cli import Mailctl
from support.dovecot import free_port, running, wait_for
from support.files import make_cert

ADMIN_EMAIL = "hostmaster@admin.example"  # server.admin_email: role and report aliases
MAILHOST = "mail.example.nl"
OUTSIDE = "127.0.0.2"  # the address "other servers" connect from
VMAIL_UID = 5000
PASSWORD = "correct horse battery staple"
DUMPED_TABLES = (
    "virtual_domains",
    "virtual_users",
    "virtual_aliases",
    "mailctl_domain_policy",
    "mailctl_user_policy",
    "mailctl_sender_grants",
)


# ------------------------------------------------------------------ processes


def wait_gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_listening(port: int, what: str, log: Path | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if time.monotonic() > deadline:
            detail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} is not listening on port {port}\n{detail}")
        time.sleep(0.02)


def run(
    argv: list[str], *, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr}{done.stdout}")
    return done


# ------------------------------------------------------------------ SMTP sink


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes  # CRLF line ends, dot-unstuffed: the bytes a DKIM verifier needs

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


class _SinkHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for Postfix's smtp client: EHLO, MAIL, RCPT, DATA, RSET, QUIT."""

    server: SmtpSink

    def handle(self) -> None:
        self.reply("220 sink.invalid ESMTP test sink")
        mail_from: str | None = None
        rcpts: list[str] = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command[:4].upper()
            if verb == "EHLO":
                self.reply("250-sink.invalid", "250-8BITMIME", "250 SIZE 52428800")
            elif verb == "HELO":
                self.reply("250 sink.invalid")
            elif verb == "MAIL":
                mail_from, rcpts = _address(command), []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                rcpts.append(_address(command))
                self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = self._read_data()
                self.server.deliver(Received(mail_from or "", rcpts, data))
                mail_from, rcpts = None, []
                self.reply("250 2.0.0 Ok: queued")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Command not recognized")

    def _read_data(self) -> bytes:
        lines: list[bytes] = []
        while True:
            line = self.rfile.readline()
            if not line or line == b".\r\n":
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b".") else line)

    def reply(self, *lines: str) -> None:
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())
        self.wfile.flush()


def _address(command: str) -> str:
    start, end = command.find("<"), command.find(">")
    return command[start + 1 : end] if 0 <= start < end else ""


class SmtpSink(socketserver.ThreadingTCPServer):
    """The relayhost: keeps every message Postfix hands on."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.port: int = self.server_address[1]
        self.messages: list[Received] = []
        self._arrived = threading.Condition()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def deliver(self, message: Received) -> None:
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()

    def wait_for(self, rcpt: str, timeout: float = 20) -> Received:
        """The first message for `rcpt` (waits until it arrives)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for message in self.messages:
                    if rcpt in message.rcpt_to:
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the sink received nothing for {rcpt} in {timeout:g}s")
                self._arrived.wait(left)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


# ------------------------------------------------------------------ mailctl


# ------------------------------------------------------------------ the stack


@dataclass
class Ports:
    smtp: int = field(default_factory=free_port)
    submission: int = field(default_factory=free_port)
    imaps: int = field(default_factory=free_port)
    milter: int = field(default_factory=free_port)
    quota_status: int = field(default_factory=free_port)


@dataclass
class Stack:
    root: Path
    programs: dict[str, str]
    ports: Ports
    sink: SmtpSink
    dbname: str
    mailctl_user: str
    readonly_user: str
    mailctl: Mailctl = field(init=False)
    opendkim: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _certs: dict[str, bytes] = field(default_factory=dict)

    # -------------------------------------------------------------- layout
    @property
    def postfix_dir(self) -> Path:
        return self.root / "postfix" / "etc"

    @property
    def queue_dir(self) -> Path:
        return self.root / "postfix" / "spool"

    @property
    def dovecot_conf(self) -> Path:
        return self.root / "dovecot" / "dovecot.conf"

    @property
    def dovecot_sql_conf(self) -> Path:
        return self.root / "dovecot" / "dovecot-sql.conf.ext"

    @property
    def dovecot_dict_conf(self) -> Path:
        return self.root / "dovecot" / "dovecot-dict-sql.conf.ext"

    @property
    def dovecot_policy_conf(self) -> Path:
        return self.root / "dovecot" / "conf.d" / "90-mailctl-policy.conf"

    @property
    def dovecot_sni_conf(self) -> Path:
        return self.root / "dovecot" / "conf.d" / "11-ssl-sni.conf"

    @property
    def odk(self) -> Path:
        return self.root / "opendkim"

    @property
    def vmail(self) -> Path:
        return self.root / "vmail"

    def cert_dir(self, domain: str) -> Path:
        return self.root / "certs" / domain

    def maildir(self, address: str) -> Path:
        local, _, domain = address.partition("@")
        return self.vmail / domain / local

    # -------------------------------------------------------------- set-up
    def build(self) -> None:
        for directory in (
            self.root / "etc",
            self.root / "bin",
            self.postfix_dir,
            self.root / "postfix" / "log",
            self.queue_dir,
            self.dovecot_sni_conf.parent,
            self.root / "dovecot" / "run",
            self.root / "dovecot" / "state",
            self.odk,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        data = self.root / "postfix" / "data"
        data.mkdir(mode=0o700)
        postfix = pwd.getpwnam("postfix")
        os.chown(data, postfix.pw_uid, postfix.pw_gid)
        make_cert(self.cert_dir(MAILHOST), [MAILHOST])
        self._write_mailctl_config()
        self._write_postfix_config()
        self._write_dovecot_config()
        self._write_opendkim_config()
        # As the guide's `install -d -o opendkim -g opendkim` leaves it. (mailctl would
        # create a missing key_dir 0750 root:root, which the opendkim user cannot enter.)
        keys = self.odk / "keys"
        keys.mkdir(mode=0o750)
        opendkim = pwd.getpwnam("opendkim")
        os.chown(keys, opendkim.pw_uid, opendkim.pw_gid)
        # Managed files the daemons open at start; mailctl fills them (sync) once they run.
        for path in (self.odk / "KeyTable", self.odk / "SigningTable"):
            path.write_text("")
            os.chown(path, 0, grp.getgrnam("opendkim").gr_gid)
            path.chmod(0o640)
        (self.postfix_dir / "helo_checks.pcre").write_text("")
        (self.postfix_dir / "vmail_ssl.map").write_text("")
        (self.postfix_dir / "vmail_ssl.map").chmod(0o600)

    @property
    def postmap(self) -> list[str]:
        """postmap on the stack's own main.cf."""
        return [self.programs["postmap"], "-c", str(self.postfix_dir)]

    def _write_mailctl_config(self) -> None:
        etc = self.root / "etc"
        commands = {
            "postmap": [self.programs["postmap"], "-c", str(self.postfix_dir)],
            "reload_postfix": [self.programs["postfix"], "-c", str(self.postfix_dir), "reload"],
            "reload_dovecot": [self.programs["doveadm"], "-c", str(self.dovecot_conf), "reload"],
            "reload_opendkim": [str(self.root / "bin" / "reload-opendkim")],
            "reload_opendkim_ed25519": [],
            "check_postfix": [self.programs["postfix"], "-c", str(self.postfix_dir), "check"],
            "check_dovecot": [self.programs["doveconf"], "-c", str(self.dovecot_conf), "-n"],
            "kick": [self.programs["doveadm"], "-c", str(self.dovecot_conf), "kick"],
        }
        reload_script = self.root / "bin" / "reload-opendkim"
        # The guide's ExecReload (kill -USR1 $MAINPID) for the private signer.
        reload_script.write_text(f'#!/bin/sh\nkill -USR1 "$(cat {self.odk / "pid"})"\n')
        reload_script.chmod(0o700)
        etc.mkdir(parents=True, exist_ok=True)
        self.mailctl = Mailctl.create(
            etc / "config.toml",
            f"mysql+pymysql://{self.mailctl_user}@127.0.0.1:3306/{self.dbname}",
            self.root,
            sections={
                "database": {"password_file": str(etc / "db.password")},
                "server": {"hostname": MAILHOST, "primary_domain": "example.nl",
                           "admin_email": ADMIN_EMAIL},
                "passwords": {"min_length": None, "bcrypt_cost": None},
                "vmail": {"home": str(self.vmail), "uid": VMAIL_UID, "gid": VMAIL_UID},
                "dkim": {
                    "bits": None,
                    "key_dir": str(self.odk / "keys"),
                    "key_table": str(self.odk / "KeyTable"),
                    "signing_table": str(self.odk / "SigningTable"),
                    "ed25519_key_table": str(self.odk / "KeyTable.ed25519"),
                    "ed25519_signing_table": str(self.odk / "SigningTable.ed25519"),
                },
                "postfix": {
                    "sni_map": str(self.postfix_dir / "vmail_ssl.map"),
                    "helo_checks": str(self.postfix_dir / "helo_checks.pcre"),
                },
                "dovecot": {"sni_conf": str(self.dovecot_sni_conf), "version": "2.3"},
                # doctor asks the stack's own servers which certificates they serve.
                "tls": {
                    "probe_host": "127.0.0.1",
                    "imaps_port": self.ports.imaps,
                    "submission_port": self.ports.submission,
                },
                "setup": {
                    "readonly_user": self.readonly_user,
                    "readonly_password_file": str(etc / "mailuser.password"),
                    "postfix_map_dir": str(self.postfix_dir),
                    "dovecot_sql_conf": str(self.dovecot_sql_conf),
                    "dovecot_dict_conf": str(self.dovecot_dict_conf),
                    "dovecot_policy_conf": str(self.dovecot_policy_conf),
                    "quota_status_port": self.ports.quota_status,
                },
                "commands": commands,
            },
        )

    def _write_postfix_config(self) -> None:
        d = self.postfix_dir
        (d / "postscreen_access.cidr").write_text("127.0.0.0/8 permit\n")
        log_dir = self.root / "postfix" / "log"
        main = f"""\
# The guide's main.cf (section 8.9), private and offline; see e2e_stack.py.
compatibility_level = 3.6
queue_directory = {self.queue_dir}
data_directory = {self.root / "postfix" / "data"}
maillog_file = {log_dir / "postfix.log"}
maillog_file_prefixes = {log_dir}
myhostname = {MAILHOST}
mydomain = example.nl
myorigin = $myhostname
mydestination = $myhostname, localhost.$mydomain, localhost
relayhost = [127.0.0.1]:{self.sink.port}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
mynetworks_style = host
mailbox_size_limit = 0
recipient_delimiter = +
alias_maps =
alias_database =

smtpd_tls_cert_file = {self.cert_dir(MAILHOST) / "fullchain.pem"}
smtpd_tls_key_file = {self.cert_dir(MAILHOST) / "privkey.pem"}
smtp_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1
smtpd_tls_protocols = $smtp_tls_protocols
tls_preempt_cipherlist = yes
smtp_tls_ciphers = high
smtpd_tls_mandatory_ciphers = medium
smtp_tls_mandatory_ciphers = medium
tls_ssl_options = NO_COMPRESSION, NO_RENEGOTIATION
smtp_tls_session_cache_database = btree:${{data_directory}}/smtp_scache
smtpd_tls_session_cache_database = btree:${{data_directory}}/smtpd_scache
smtp_tls_loglevel = 1
smtpd_tls_loglevel = $smtp_tls_loglevel
# guide: dane + smtp_dns_support_level = dnssec (needs a validating resolver)
smtp_tls_security_level = may
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes

smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = yes
broken_sasl_auth_clients = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous

# guide minus the DNS-based reject_unknown_* checks and policyd-spf
smtpd_helo_required = yes
smtpd_client_restrictions = permit_mynetworks, permit_sasl_authenticated
smtpd_helo_restrictions = permit_mynetworks, permit_sasl_authenticated,
    check_helo_access pcre:{d / "helo_checks.pcre"},
    reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname
smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated,
    reject_non_fqdn_recipient, reject_unlisted_recipient,
    {{quota_policy}},
    reject_unauth_destination
smtpd_sender_restrictions = permit_mynetworks, permit_sasl_authenticated,
    reject_non_fqdn_sender
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
    reject_unauth_destination

smtpd_client_port_logging = no
smtpd_banner = $myhostname ESMTP
smtpd_tls_received_header = no
smtpd_discard_ehlo_keywords = etrn

# guide minus postscreen_dnsbl_*
postscreen_access_list = cidr:{d / "postscreen_access.cidr"}
postscreen_greet_action = enforce
postscreen_greet_wait = 3s
postscreen_greet_ttl = 1d

smtputf8_enable = no
{{maps}}
virtual_transport = lmtp:unix:private/dovecot-lmtp

smtpd_timeout = 30s
smtp_helo_timeout = 15s
smtp_rcpt_timeout = 15s
smtpd_recipient_limit = 40
unknown_client_reject_code = 450
unknown_hostname_reject_code = 450
unknown_address_reject_code = 450
invalid_hostname_reject_code = 501
non_fqdn_reject_code = 501
access_map_reject_code = 554
maps_rbl_reject_code = 554
unknown_virtual_mailbox_reject_code = 550
unknown_virtual_alias_reject_code = 550
unknown_local_recipient_reject_code = 550

# guide: inbound verify (8891) + OpenDMARC (8893) milters; not part of this stack
milter_default_action = accept
milter_protocol = 6
smtp_helo_name = {MAILHOST}
"""
        (d / "main.cf.in").write_text(main)
        sender_restrictions = ",".join(
            [
                "reject_authenticated_sender_login_mismatch",
                "permit_sasl_authenticated",
                "reject",
            ]
        )
        master = f"""\
# The guide's master.cf (section 8.10), private and offline; see e2e_stack.py.
127.0.0.1:{self.ports.smtp} inet n - n - 1 postscreen
smtpd pass - - n - - smtpd
  -o smtpd_helo_required=yes
  -o disable_vrfy_command=yes
  -o smtpd_data_restrictions=reject_unauth_pipelining
  -o smtpd_relay_restrictions=permit_mynetworks,permit_sasl_authenticated,reject_unauth_destination
127.0.0.1:{self.ports.submission} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_sender_login_maps={{sender_login_maps}}
  -o smtpd_sender_restrictions={sender_restrictions}
  -o milter_macro_daemon_name=ORIGINATING
  -o tls_server_sni_maps=hash:{d / "vmail_ssl.map"}
  -o smtpd_milters=inet:127.0.0.1:{self.ports.milter}
  -o non_smtpd_milters=
postlog unix-dgram n - n - 1 postlogd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
tlsproxy unix - - n - 0 tlsproxy
dnsblog unix - - n - 0 dnsblog
"""
        (d / "master.cf.in").write_text(master)

    def finish_postfix_config(self, render_output: str) -> None:
        """Fill in the map lines exactly as `mailctl setup render` printed them."""
        lines = [line for line in render_output.splitlines() if line.startswith("virtual_")]
        assert len(lines) == 3, render_output
        (quota_policy,) = (
            line for line in render_output.splitlines() if line.startswith("check_policy_service")
        )
        sender = next(
            line.split("smtpd_sender_login_maps=", 1)[1]
            for line in render_output.splitlines()
            if "smtpd_sender_login_maps=" in line
        )
        d = self.postfix_dir
        main = (
            (d / "main.cf.in")
            .read_text()
            .replace("{maps}", "\n".join(lines))
            .replace("{quota_policy}", quota_policy)
        )
        master = (d / "master.cf.in").read_text().replace("{sender_login_maps}", sender)
        (d / "main.cf").write_text(main)
        (d / "master.cf").write_text(master)
        # A main.cf younger than a few seconds makes postfix wait for it to "cool down".
        past = time.time() - 10
        for name in ("main.cf", "master.cf"):
            os.utime(d / name, (past, past))
        # The SNI map Postfix opens at start; mailctl fills it (sync) once it runs.
        run([*self.postmap, "-F", f"hash:{d / 'vmail_ssl.map'}"])

    def _write_dovecot_config(self) -> None:
        private = self.queue_dir / "private"
        conf = f"""\
# Guide section 6 (Dovecot 2.3 syntax), private: own base_dir, log, ports.
instance_name = mailctl-e2e-{self.root.name[-8:]}
base_dir = {self.root / "dovecot" / "run"}
state_dir = {self.root / "dovecot" / "state"}
log_path = {self.root / "dovecot" / "dovecot.log"}
protocols = imap lmtp
listen = 127.0.0.1
ssl = required
ssl_min_protocol = TLSv1.2
ssl_cert = <{self.cert_dir(MAILHOST) / "fullchain.pem"}
ssl_key = <{self.cert_dir(MAILHOST) / "privkey.pem"}
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:%{{home}}
namespace inbox {{
  inbox = yes
}}
passdb {{
  driver = sql
  args = {self.dovecot_sql_conf}
}}
userdb {{
  driver = sql
  args = {self.dovecot_sql_conf}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.ports.imaps}
    ssl = yes
  }}
}}
service auth {{
  unix_listener {private / "auth"} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
service lmtp {{
  unix_listener {private / "dovecot-lmtp"} {{
    mode = 0600
    user = postfix
    group = postfix
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol lmtp {{
  auth_username_format = %{{user}}
}}
!include_try {self.dovecot_sni_conf}
!include {self.dovecot_policy_conf}
"""
        self.dovecot_conf.write_text(conf)

    def _write_opendkim_config(self) -> None:
        (self.odk / "TrustedHosts").write_text("127.0.0.1\nlocalhost\n::1\n")
        (self.odk / "opendkim-sign.conf").write_text(
            f"""\
# Guide section 12, SIGN-only instance, private: no syslog, foreground, high port.
Syslog no
UserID opendkim:opendkim
Mode s
Socket inet:{self.ports.milter}@127.0.0.1
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
MinimumKeyBits 2048
KeyTable refile:{self.odk / "KeyTable"}
SigningTable refile:{self.odk / "SigningTable"}
InternalHosts refile:{self.odk / "TrustedHosts"}
AlwaysAddARHeader yes
AuthservID {MAILHOST}
OversignHeaders From
"""
        )

    # -------------------------------------------------------------- daemons
    def start_postfix(self) -> None:
        postfix = self.programs["postfix"]
        run([postfix, "-c", str(self.postfix_dir), "check"])
        run([postfix, "-c", str(self.postfix_dir), "start"])
        log = self.root / "postfix" / "log" / "postfix.log"
        wait_listening(self.ports.smtp, "postscreen", log)
        wait_listening(self.ports.submission, "submission", log)

    def start_dovecot(self) -> None:
        log = self.root / "dovecot" / "dovecot.out"
        with log.open("wb") as out:
            subprocess.run(
                [self.programs["dovecot"], "-c", str(self.dovecot_conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=30,
            )
        wait_listening(self.ports.imaps, "dovecot imaps", self.root / "dovecot" / "dovecot.log")
        wait_for(lambda: (self.queue_dir / "private" / "auth").exists(), "dovecot auth socket")
        wait_for(lambda: (self.queue_dir / "private" / "dovecot-lmtp").exists(), "LMTP socket")

    def start_opendkim(self) -> None:
        log = self.odk / "opendkim.out"
        with log.open("wb") as out:
            self.opendkim = subprocess.Popen(
                [self.programs["opendkim"], "-f", "-x", str(self.odk / "opendkim-sign.conf")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        (self.odk / "pid").write_text(f"{self.opendkim.pid}\n")
        wait_listening(self.ports.milter, "opendkim", log)

    def stop(self) -> list[str]:
        """Stop every daemon; return what would not stop (the fixture fails on it)."""
        problems = []
        master = self.queue_dir / "pid" / "master.pid"
        if master.exists():
            pid = int(master.read_text().split()[0])
            run([self.programs["postfix"], "-c", str(self.postfix_dir), "stop"], check=False)
            if not wait_gone(pid):
                run([self.programs["postfix"], "-c", str(self.postfix_dir), "abort"], check=False)
                if not wait_gone(pid, 5):
                    problems.append(f"postfix master {pid}")
        dovecot = self.root / "dovecot" / "run" / "master.pid"
        if dovecot.exists():
            pid = int(dovecot.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
            if not wait_gone(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
                if not wait_gone(pid, 5):
                    problems.append(f"dovecot master {pid}")
        if self.opendkim is not None:
            proc = self.opendkim
            proc.terminate()
            # libmilter notices the stop when its accept loop wakes; a connection wakes it.
            deadline = time.monotonic() + 10
            while proc.poll() is None and time.monotonic() < deadline:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", self.ports.milter), 0.5),
                ):
                    pass
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.05)
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            if not wait_gone(proc.pid, 5):
                problems.append(f"opendkim {proc.pid}")
        self.sink.stop()
        return problems

    # -------------------------------------------------------------- probes
    def auth_ok(self, user: str, password: str) -> bool:
        """`doveadm auth test` against the private Dovecot (its SQL passdb)."""
        done = run(
            [
                self.programs["doveadm"],
                "-c",
                str(self.dovecot_conf),
                "auth",
                "test",
                user,
                password,
            ],
            check=False,
        )
        if done.returncode not in (0, 77):  # 77: EX_NOPERM, authentication failed
            raise RuntimeError(f"doveadm auth test: exit {done.returncode}: {done.stderr}")
        return done.returncode == 0

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of the stack's database, read as MariaDB's root (mailctl's own account
        has its password in a file the URL does not name)."""
        from support.databases import mariadb_admin

        conn = mariadb_admin(database=self.dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return [tuple(row) for row in cur.fetchall()]
        finally:
            conn.close()

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the guide's and the account policy's tables: to prove a refused
        command changed nothing."""
        return {
            table: sorted(self.query(f"SELECT * FROM {table}"))  # noqa: S608 - fixed names
            for table in DUMPED_TABLES
        }

    def postmap_q(self, key: str, map_name: str) -> str | None:
        """`postmap -q` over a map file `setup render` wrote (None: not found)."""
        path = self.postfix_dir / map_name
        done = run([*self.postmap, "-q", key, f"mysql:{path}"], check=False)
        if done.returncode == 1:
            return None
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def delivered(self, address: str) -> list[bytes]:
        """Messages in a mailbox's Maildir (new/ and cur/)."""
        maildir = self.maildir(address)
        found = []
        for sub in ("new", "cur"):
            directory = maildir / sub
            if directory.is_dir():
                found += [p.read_bytes() for p in sorted(directory.iterdir())]
        return found

    def wait_delivered(self, address: str, marker: str, timeout: float = 20) -> bytes:
        def look() -> bytes | None:
            for message in self.delivered(address):
                if marker.encode() in message:
                    return message
            return None

        found: bytes = wait_for(look, f"a message {marker!r} in {self.maildir(address)}", timeout)
        return found

    def run_postmap_sni(self, name: str) -> str | None:
        """`postmap -F -q NAME hash:vmail_ssl.map`: what Postfix's SNI lookup finds."""
        path = self.postfix_dir / "vmail_ssl.map"
        done = run([*self.postmap, "-F", "-q", name, f"hash:{path}"], check=False)
        if done.returncode == 1:
            return None
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def imap_login_cert(self, server_name: str) -> bytes:
        """The certificate Dovecot presents for `server_name` (no login)."""
        client = SniIMAP4(self.ports.imaps, server_name)
        try:
            cert = client.sock.getpeercert(binary_form=True)  # type: ignore[attr-defined]
            assert cert is not None
            return bytes(cert)
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def submission_cert(self, server_name: str) -> bytes:
        """The certificate Postfix's submission service presents after STARTTLS with SNI."""
        client = smtplib.SMTP(timeout=20)
        client._host = server_name  # type: ignore[attr-defined]  # starttls() sends it as SNI
        try:
            client.connect("127.0.0.1", self.ports.submission)
            client.ehlo("client.example")
            client.starttls(context=client_context())
            cert = client.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
            assert cert is not None
            return bytes(cert)
        finally:
            with contextlib.suppress(Exception):
                client.quit()

    def cert_der(self, name: str) -> bytes:
        if name not in self._certs:
            from cryptography import x509
            from cryptography.hazmat.primitives import serialization

            pem = (self.cert_dir(name) / "fullchain.pem").read_bytes()
            cert = x509.load_pem_x509_certificate(pem)
            self._certs[name] = cert.public_bytes(serialization.Encoding.DER)
        return self._certs[name]

    def imap_login(self, user: str, password: str, server_name: str) -> bytes:
        """IMAPS login with SNI `server_name`; returns the certificate the server chose."""
        client = SniIMAP4(self.ports.imaps, server_name)
        try:
            client.login(user, password)
            client.select("INBOX")
            cert = client.sock.getpeercert(binary_form=True)  # type: ignore[attr-defined]
            assert cert is not None
            return bytes(cert)
        finally:
            with contextlib.suppress(Exception):
                client.logout()


def client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed: the tests compare the certificate itself
    return ctx


class SniIMAP4(imaplib.IMAP4_SSL):
    """IMAPS to 127.0.0.1 with an SNI name that does not resolve (imap.DOMAIN)."""

    def __init__(self, port: int, server_name: str) -> None:
        super().__init__(server_name, port, ssl_context=client_context(), timeout=20)

    def _create_socket(self, timeout: float | None) -> ssl.SSLSocket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout)
        context: ssl.SSLContext = self.ssl_context
        return context.wrap_socket(sock, server_hostname=self.host)


@contextlib.contextmanager
def private_root() -> Iterator[Path]:
    """A 0755 directory under /run: a path chain OpenDKIM accepts for keys."""
    root = Path(tempfile.mkdtemp(prefix="mailctl-e2e-", dir="/run"))
    os.chmod(root, 0o755)  # noqa: S103 - daemons running as postfix/dovecot/vmail walk it
    try:
        yield root
    finally:
        if not os.environ.get("MAILCTL_E2E_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


def unique_names() -> tuple[str, str, str]:
    tag = secrets.token_hex(4)
    return f"mailctl_e2e_{tag}", f"mc_e2e_{tag}", f"mu_e2e_{tag}"


def add_domain_cert(stack: Stack, domain: str) -> None:
    """A certificate for the names mailctl's SNI entries use (before `domain add`)."""
    make_cert(stack.cert_dir(domain), [domain, f"imap.{domain}", f"smtp.{domain}"])


# ------------------------------------------------------------------ what the tests do


def add_domain(stack: Stack, domain: str, *, cert: bool = True) -> None:
    if cert:
        add_domain_cert(stack, domain)
    stack.mailctl("domain", "add", domain)


def add_user(
    stack: Stack, address: str, scheme: str = "SHA512-CRYPT", password: str = PASSWORD
) -> None:
    stack.mailctl(
        "user", "add", address, "--scheme", scheme, "--password-stdin", input=password + "\n"
    )


def message(sender: str, rcpt: str, marker: str, padding: int = 0) -> EmailMessage:
    """A short message naming `marker`; `padding` adds about that many bytes of body."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = rcpt
    msg["Subject"] = f"e2e {marker}"
    msg["Date"] = email.utils.formatdate()
    msg["Message-ID"] = email.utils.make_msgid(domain="e2e.invalid")
    filler = ("x" * 76 + "\n") * (padding // 77)
    msg.set_content(f"Hello from the e2e tier.\n{marker}\n{filler}")
    return msg


def inbound(stack: Stack, helo: str = "client.outside.example") -> smtplib.SMTP:
    """A connection to the port-25 listener (postscreen) from an address outside mynetworks."""
    return smtplib.SMTP(
        "127.0.0.1", stack.ports.smtp, local_hostname=helo, source_address=(OUTSIDE, 0), timeout=30
    )


def send_inbound(stack: Stack, rcpt: str, marker: str, sender: str = "a@outside.example") -> None:
    with inbound(stack) as smtp:
        smtp.send_message(message(sender, rcpt, marker), from_addr=sender, to_addrs=[rcpt])


def rcpt_reply(stack: Stack, rcpt: str, helo: str = "client.outside.example") -> tuple[int, str]:
    """The server's answer to RCPT TO from the outside."""
    with inbound(stack, helo) as smtp:
        smtp.ehlo()
        code, _ = smtp.mail("a@outside.example")
        assert code == 250
        reply, text = smtp.rcpt(rcpt)
        return reply, text.decode()


def submission(stack: Stack, server_name: str = MAILHOST) -> smtplib.SMTP:
    """Port 587 with STARTTLS, asking for `server_name` by SNI."""
    smtp = smtplib.SMTP(
        "127.0.0.1", stack.ports.submission, local_hostname="laptop.example", timeout=30
    )
    smtp.ehlo()
    smtp._host = server_name  # what starttls() sends as SNI
    smtp.starttls(context=client_context())
    smtp.ehlo()
    return smtp


def imap_login_works(stack: Stack, user: str, password: str = PASSWORD) -> bool:
    """An IMAPS login (and SELECT INBOX): True, or False when Dovecot refuses it."""
    try:
        stack.imap_login(user, password, MAILHOST)
    except imaplib.IMAP4.error as exc:
        assert "AUTHENTICATIONFAILED" in str(exc), exc
        return False
    return True


def smtp_auth_works(stack: Stack, user: str, password: str = PASSWORD) -> bool:
    """SMTP AUTH PLAIN on the submission port (Postfix asks Dovecot, service smtp): True,
    or False when it is refused with 535. (One mechanism: smtplib's login() would try
    LOGIN after PLAIN, and Dovecot answers each failure only at its next 0.5 s tick.)"""
    with submission(stack) as smtp:
        smtp.user, smtp.password = user, password
        try:
            smtp.auth("PLAIN", smtp.auth_plain)
        except smtplib.SMTPAuthenticationError as exc:
            assert exc.smtp_code == 535, exc
            return False
    return True


class ImapSession:
    """An IMAPS session left open, to see whether the server ends it."""

    def __init__(self, stack: Stack, user: str, password: str = PASSWORD) -> None:
        self.client = SniIMAP4(stack.ports.imaps, MAILHOST)
        self.client.login(user, password)
        self.client.select("INBOX")

    def alive(self) -> bool:
        try:
            typ, _ = self.client.noop()
        except (imaplib.IMAP4.abort, OSError):
            return False
        return typ == "OK"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.logout()
