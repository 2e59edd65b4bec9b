"""The real OpenDKIM loads and signs with the key files mailctl writes.

Three ways in, cheapest first:
- `opendkim -n -x CONF`: the config check accepts KeyTable/SigningTable that
  point at the generated key;
- `opendkim -x CONF -t MSG`: OpenDKIM's test mode runs a message through the
  filter's own milter callbacks (KeyTable lookup, key load with the
  RequireSafeKeys check, signing) and prints the header it would insert;
- a private `opendkim -f` daemon on a UNIX socket, driven by a minimal milter
  client below (the protocol Postfix speaks to it).
Each RSA signature is then verified with dkimpy against the TXT value read
back out of the `.txt` file mailctl wrote: an independent signer and verifier.
Ed25519 signatures are verified by OpenDKIM itself (mode v, TestDNSData), as
dkimpy would need PyNaCl for them.

Key safety (the tree OpenDKIM's RequireSafeKeys accepts): support.opendkim.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli import Mailctl
from support.env import need, program
from support.opendkim import (
    DOMAIN,
    FIXED_TIME,
    MESSAGE_BODY,
    MESSAGE_HEADERS,
    SELECTOR,
    Tree,
    dkimpy_verifies,
    message_bytes,
    safe_tree,
    sign_with_tables,
    signature_from_test_mode,
)

from mailctl.dkim import keyfiles as dkim
from mailctl.errors import InvalidInput
from mailctl.system.owners import resolve_owner


@pytest.fixture
def tree() -> Iterator[Tree]:
    """A short private directory OpenDKIM accepts keys in (support.opendkim)."""
    with safe_tree() as made:
        yield made


@dataclass
class Signer:
    """Generated key files plus OpenDKIM's tables and config, in the guide's format."""

    files: dkim.KeyFiles
    conf: Path
    socket: Path
    key_table: Path
    signing_table: Path


def make_signer(
    tree: Tree,
    private_pem: bytes,
    *,
    safe_keys: bool | None = None,
    owner: tuple[int, int] | None = None,
    user_id: str | None = None,
    sock: Path | None = None,
) -> Signer:
    files = dkim.write_key_pair(tree.root / "keys", DOMAIN, SELECTOR, private_pem, owner=owner)
    key_table = tree.root / "KeyTable"
    signing_table = tree.root / "SigningTable"
    key_table.write_text(f"{SELECTOR}._domainkey.{DOMAIN} {DOMAIN}:{SELECTOR}:{files.private}\n")
    signing_table.write_text(f"*@{DOMAIN} {SELECTOR}._domainkey.{DOMAIN}\n")
    sock = sock or tree.root / "opendkim.sock"
    require_safe = tree.safe if safe_keys is None else safe_keys
    algorithm = "ed25519-sha256" if dkim.key_algorithm(private_pem) == "ed25519" else "rsa-sha256"
    conf = tree.root / "opendkim-sign.conf"
    # The guide's SIGN-only instance, made private: no syslog, no PidFile, a
    # UNIX socket in the private tree, UserID only when asked (else it runs as
    # the caller).
    conf.write_text(
        "\n".join(
            [
                "Syslog no",
                "Mode s",
                f"Socket local:{sock}",
                "Canonicalization relaxed/relaxed",
                f"SignatureAlgorithm {algorithm}",
                f"MinimumKeyBits {min(dkim.key_bits(private_pem), 2048)}",
                f"KeyTable refile:{key_table}",
                f"SigningTable refile:{signing_table}",
                "OversignHeaders From",
                f"RequireSafeKeys {'true' if require_safe else 'false'}",
                *([f"UserID {user_id}"] if user_id else []),
                "",
            ]
        )
    )
    return Signer(files, conf, sock, key_table, signing_table)


def published_value(files: dkim.KeyFiles) -> bytes:
    """The record a resolver would return, taken from the .txt file mailctl wrote."""
    return dkim.txt_value(files.txt.read_text()).encode("ascii")


# ------------------------------------------------------------------ config check


def test_config_check_accepts_generated_tables(tree: Tree) -> None:
    opendkim = program("opendkim")
    signer = make_signer(tree, dkim.generate_rsa_key(2048))
    done = subprocess.run(
        [opendkim, "-n", "-x", str(signer.conf)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    # The check is real (it opens the tables; keys are loaded only when signing,
    # which the tests below cover): a missing KeyTable is refused.
    signer.key_table.unlink()
    bad = subprocess.run(
        [opendkim, "-n", "-x", str(signer.conf)], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 78, bad.stderr  # EX_CONFIG
    assert "KeyTable" in bad.stderr or str(signer.key_table) in bad.stderr


# ------------------------------------------------------------------ test mode (-t)


def sign_in_test_mode(signer: Signer, tree: Tree) -> subprocess.CompletedProcess[str]:
    msg = tree.root / "message.eml"
    msg.write_bytes(message_bytes())
    return subprocess.run(
        [program("opendkim"), "-x", str(signer.conf), "-F", FIXED_TIME, "-vv", "-t", str(msg)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("bits", [1024, 2048])
def test_test_mode_signs_with_generated_rsa_key(tree: Tree, bits: int) -> None:
    signer = make_signer(tree, dkim.generate_rsa_key(bits))
    done = sign_in_test_mode(signer, tree)
    assert done.returncode == 0, done.stdout + done.stderr
    header = signature_from_test_mode(done.stdout)
    assert f"d={DOMAIN}; s={SELECTOR}".encode() in header
    signed = header + message_bytes()
    assert dkimpy_verifies(signed, published_value(signer.files))
    other = dkim.dns_value(dkim.generate_rsa_key(1024)).encode()
    assert not dkimpy_verifies(signed, other)


def test_test_mode_signs_with_opendkim_genkey_key_reused(tree: Tree) -> None:
    """A key made by opendkim-genkey, taken over with load_existing_key, still signs."""
    genkey = program("opendkim-genkey")
    made = tree.root / "genkey"
    made.mkdir(mode=0o700)
    subprocess.run(
        [genkey, "-b", "1024", "-D", str(made), "-d", DOMAIN, "-s", SELECTOR],
        check=True,
        timeout=60,
    )
    pem = dkim.load_existing_key(made / f"{SELECTOR}.private")
    signer = make_signer(tree, pem)
    assert signer.files.txt.read_text() == (made / f"{SELECTOR}.txt").read_text()
    done = sign_in_test_mode(signer, tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert dkimpy_verifies(
        signature_from_test_mode(done.stdout) + message_bytes(), published_value(signer.files)
    )


def test_require_safe_keys_judges_mailctls_modes(tree: Tree) -> None:
    """With RequireSafeKeys on, OpenDKIM signs with mailctl's 0600 key and refuses it at
    0644 — the same verdict load_existing_key gives."""
    need(tree.safe, "no directory with an OpenDKIM-safe path chain to hold the key")
    signer = make_signer(tree, dkim.generate_rsa_key(1024), safe_keys=True)
    assert sign_in_test_mode(signer, tree).returncode == 0
    os.chmod(signer.files.private, 0o644)
    refused = sign_in_test_mode(signer, tree)
    assert refused.returncode != 0  # EX_SOFTWARE: the filter answered tempfail
    assert "INSHEADER" not in refused.stdout
    with pytest.raises(InvalidInput, match="chmod 600"):
        dkim.load_existing_key(signer.files.private)


def verify_with_opendkim(tree: Tree, signed: bytes, record: str) -> str:
    """OpenDKIM as verifier (test mode, DNS answered from TestDNSData): its A-R header."""
    dns = tree.root / "dns-data"
    dns.write_text(f"{SELECTOR}._domainkey.{DOMAIN} {record}\n")
    msg = tree.root / "signed.eml"
    msg.write_bytes(signed)
    conf = tree.root / "opendkim-verify.conf"
    conf.write_text(
        "Syslog no\nMode v\nAlwaysAddARHeader yes\nAuthservID test.invalid\n"
        f"TestDNSData file:{dns}\n"
    )
    done = subprocess.run(
        [program("opendkim"), "-x", str(conf), "-vv", "-t", str(msg)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hname='Authentication-Results'" in done.stdout, done.stdout
    return done.stdout


def test_test_mode_signs_with_generated_ed25519_key(tree: Tree) -> None:
    """RFC 8463: OpenDKIM signs with mailctl's PKCS#8 Ed25519 key, and OpenDKIM's verifier
    accepts the signature against the `k=ed25519` value from mailctl's .txt file.
    (dkimpy would need PyNaCl for Ed25519, so OpenDKIM verifies here.)"""
    signer = make_signer(tree, dkim.generate_ed25519_key())
    done = sign_in_test_mode(signer, tree)
    assert done.returncode == 0, done.stdout + done.stderr
    header = signature_from_test_mode(done.stdout)
    assert b"a=ed25519-sha256;" in header
    signed = header + message_bytes()
    record = published_value(signer.files).decode()
    assert "k=ed25519; p=" in record
    assert "dkim=pass header.d=example.nl" in verify_with_opendkim(tree, signed, record)
    other = dkim.dns_value(dkim.generate_ed25519_key())
    assert "dkim=fail" in verify_with_opendkim(tree, signed, other)


# ------------------------------------------------------------------ milter daemon


class MilterError(Exception):
    pass


class MilterClient:
    """Just enough of the milter protocol (version 6) to have a message signed."""

    # protocol flags the filter may set: "don't send" and "no reply" per stage
    NO = {"C": 0x1, "H": 0x2, "M": 0x4, "R": 0x8, "B": 0x10, "L": 0x20, "N": 0x40, "T": 0x200}
    NO_REPLY = {
        "L": 0x80,
        "C": 0x1000,
        "H": 0x2000,
        "M": 0x4000,
        "R": 0x8000,
        "T": 0x10000,
        "N": 0x40000,
        "B": 0x80000,
    }
    OFFERED_PROTOCOL = 0x1FFFFF & ~0x100000  # everything except HDR_LEADSPC

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.protocol = 0

    def close(self) -> None:
        self.sock.close()

    def _send(self, cmd: str, data: bytes = b"") -> None:
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd.encode() + data)

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise MilterError("filter closed the connection")
            buf += chunk
        return buf

    def _recv(self) -> tuple[str, bytes]:
        (length,) = struct.unpack(">I", self._recv_exact(4))
        packet = self._recv_exact(length)
        return chr(packet[0]), packet[1:]

    def negotiate(self) -> None:
        self._send("O", struct.pack(">III", 6, 0x1FF, self.OFFERED_PROTOCOL))
        cmd, data = self._recv()
        assert cmd == "O", cmd
        _version, _actions, self.protocol = struct.unpack(">III", data[:12])

    def step(self, cmd: str, data: bytes) -> None:
        """Send one stage unless the filter opted out; expect `continue` unless no-reply."""
        if self.protocol & self.NO.get(cmd, 0):
            return
        self._send(cmd, data)
        if self.protocol & self.NO_REPLY.get(cmd, 0):
            return
        reply, payload = self._recv()
        if reply not in ("c", "s"):  # continue / skip (body)
            raise MilterError(f"stage {cmd}: filter answered {reply!r} {payload!r}")

    def sign(self, headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
        """Run one message through; return the header fields the filter inserts."""
        z = b"\0"
        self.negotiate()
        # the job id macro ("i") is what OpenDKIM logs messages under
        self._send("D", b"C" + b"j" + z + b"mail.example.nl" + z)
        self.step("C", b"localhost" + z + b"4" + struct.pack(">H", 25) + b"127.0.0.1" + z)
        self.step("H", b"client.example.nl" + z)
        self._send("D", b"M" + b"i" + z + b"4TestJob1" + z)
        self.step("M", b"<joe@example.nl>" + z)
        self.step("R", b"<someone@example.org>" + z)
        self.step("T", b"")
        for name, value in headers:
            self.step("L", name.encode() + z + value.encode() + z)
        self.step("N", b"")
        for start in range(0, len(body), 65535):
            self.step("B", body[start : start + 65535])
        self._send("E")
        added: list[tuple[str, str]] = []
        while True:
            reply, payload = self._recv()
            if reply in ("h", "i"):  # add / insert header field
                if reply == "i":
                    payload = payload[4:]  # index
                field_name, field_value, _ = payload.split(z)
                added.append((field_name.decode(), field_value.decode()))
            elif reply == "p":  # progress
                continue
            elif reply in ("a", "c"):
                break
            elif reply in ("m", "q", "e", "+", "-", "b"):
                continue  # other modifications: not expected, harmless here
            else:
                raise MilterError(f"end of message: filter answered {reply!r} {payload!r}")
        self._send("Q")
        return added


def _running(pid: int) -> bool:
    """Alive per /proc/PID/stat (a zombie or a vanished entry counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] not in ("Z", "X")


@contextlib.contextmanager
def running_opendkim(signer: Signer, tree: Tree) -> Iterator[subprocess.Popen[bytes]]:
    """`opendkim -f -x CONF` until the block ends; stopped and confirmed gone afterwards."""
    opendkim = program("opendkim")
    log = tree.root / "opendkim.out"
    with log.open("wb") as out:
        # -f: stay in the foreground, so this Popen is the daemon and can be reaped
        proc = subprocess.Popen(
            [opendkim, "-f", "-x", str(signer.conf)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                pytest.fail(f"opendkim exited {proc.returncode}: {log.read_text()}")
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(str(signer.socket))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    pytest.fail(f"opendkim did not listen on {signer.socket}: {log.read_text()}")
                time.sleep(0.02)
        yield proc
    finally:
        proc.terminate()
        # libmilter notices the stop only when its accept loop wakes up (up to
        # 5 s after the last connection); a new connection wakes it at once,
        # provided the SIGTERM has been handled by then: so poke until it's gone.
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as poke:
                poke.settimeout(1)
                poke.connect(str(signer.socket))
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _running(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _running(proc.pid), f"opendkim (pid {proc.pid}) still running"


def sign_over_milter(signer: Signer, proc: subprocess.Popen[bytes]) -> None:
    """One message through the running signer; its signature must verify (dkimpy)."""
    client = MilterClient(signer.socket)
    try:
        added = client.sign(MESSAGE_HEADERS, MESSAGE_BODY)
    finally:
        client.close()
    signatures = [value for name, value in added if name == "DKIM-Signature"]
    assert len(signatures) == 1, added  # a down or refusing signer adds nothing
    assert f"d={DOMAIN}; s={SELECTOR};" in signatures[0]
    header = b"DKIM-Signature: " + signatures[0].replace("\n", "\r\n").encode() + b"\r\n"
    signed = header + message_bytes()
    assert dkimpy_verifies(signed, published_value(signer.files))
    tampered = signed.replace(b"Hello from", b"Hello frum")
    assert not dkimpy_verifies(tampered, published_value(signer.files))
    assert proc.poll() is None  # still serving


def test_daemon_signs_over_milter(tree: Tree) -> None:
    signer = make_signer(tree, dkim.generate_rsa_key(2048))
    with running_opendkim(signer, tree) as proc:
        sign_over_milter(signer, proc)


def test_daemon_as_the_guide_runs_it(tree: Tree) -> None:
    """Root starts it with `UserID opendkim:opendkim`; the key is opendkim's, 0600, in
    0750 directories owned by opendkim (resolve_owner + write_key_pair), and
    RequireSafeKeys is on: exactly the production layout of guide section 12."""
    need(os.geteuid() == 0, "needs root (to chown keys and let opendkim switch user)")
    need(tree.safe, "no directory with an OpenDKIM-safe path chain to hold the key")
    owner, note = resolve_owner("opendkim", "opendkim")
    need(owner is not None, f"no opendkim account: {note}")
    assert owner is not None
    run_dir = tree.root / "run"  # like /run/opendkim: the socket is made as opendkim
    run_dir.mkdir(mode=0o750)
    os.chown(run_dir, *owner)
    signer = make_signer(
        tree,
        dkim.generate_rsa_key(2048),
        safe_keys=True,
        owner=owner,
        user_id="opendkim:opendkim",
        sock=run_dir / "opendkim.sock",
    )
    for path in (signer.files.directory.parent, signer.files.directory, signer.files.private):
        assert (path.stat().st_uid, path.stat().st_gid) == owner, path
    with running_opendkim(signer, tree) as proc:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uids.split()[1:] == [str(owner[0])] * 4  # it really dropped root
        sign_over_milter(signer, proc)


# ------------------------------------------------------------------ mailctl's own tables


def test_opendkim_signs_with_the_tables_mailctl_rendered(tree: Tree, mariadb_url: str) -> None:
    """End to end: `mailctl domain add` writes key, KeyTable and SigningTable; the
    real OpenDKIM reads exactly those files and signs; dkimpy verifies against
    the .txt record mailctl wrote."""
    # Test mode runs OpenDKIM as the caller (root), and RequireSafeKeys refuses a key
    # owned by another user; in production it runs as opendkim, which owns the key
    # (test_daemon_as_the_guide_runs_it covers that).
    m = Mailctl.create(
        tree.root / "config.toml",
        mariadb_url,
        tree.root,
        sections={"dkim": {"owner": "root", "group": "root"}},
    )
    m("db", "upgrade")
    m("domain", "add", DOMAIN)
    signed = sign_with_tables(tree.root, safe=tree.safe)
    txt = tree.root / "keys" / DOMAIN / f"{SELECTOR}.txt"
    assert dkimpy_verifies(signed, dkim.txt_value(txt.read_text()).encode("ascii"))
