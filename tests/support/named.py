"""A private BIND `named` for tests: 127.0.0.1 on a free high port, its own
directory, authoritative for the zones it is given, restarted on change."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.cli import Mailctl
from support.env import program


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _gone(pid: int) -> bool:
    # PID 1 reaps slowly here: a zombie still answers kill -0, so read its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


@dataclass
class Named:
    directory: Path
    port: int = field(default_factory=free_port)
    zones: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def serve(self, zones: dict[str, str]) -> None:
        """(Re)start named serving exactly these zones (origin -> zone text)."""
        self.stop()
        self.zones = dict(zones)
        conf = self.directory / "named.conf"
        lines = [
            "options {",
            f'  directory "{self.directory}";',
            f"  listen-on port {self.port} {{ 127.0.0.1; }};",
            "  listen-on-v6 { none; };",
            f'  pid-file "{self.directory}/named.pid";',
            f'  session-keyfile "{self.directory}/session.key";',
            "  recursion no;",
            "  dnssec-validation no;",
            "  allow-query { any; };",
            "};",
            "controls { };",
        ]
        for origin, text in zones.items():
            path = self.directory / f"{origin}.zone"
            path.write_text(text)
            lines.append(f'zone "{origin}" {{ type primary; file "{path}"; }};')
        conf.write_text("\n".join(lines) + "\n")
        log = (self.directory / "named.log").open("ab")
        self.proc = subprocess.Popen(
            [program("named"), "-g", "-c", str(conf), "-n", "1"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        import dns.message
        import dns.query

        deadline = time.monotonic() + 20
        origin = next(iter(self.zones), ".")
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError("named exited:\n" + self.log())
            try:
                query = dns.message.make_query(origin, "SOA")
                answer = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
                if answer.answer or not self.zones:
                    return
            except (OSError, dns.exception.Timeout):
                pass
            time.sleep(0.05)
        raise RuntimeError("named did not answer within 20 s:\n" + self.log())

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "named.log").read_text()[-4000:]
        return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        pid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not _gone(pid) and time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=0.1)
        if not _gone(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


def served(m: Mailctl, named: Named, edit: dict[str, str] | None = None) -> None:
    """Serve example.nl from `dns show --zone` (edited), plus the reverse zones."""
    zone = m("dns", "show", "example.nl", "--zone").stdout
    for old, new in (edit or {}).items():
        assert old in zone, old
        zone = zone.replace(old, new)
    records = json.loads(m("dns", "show", "example.nl", "-f", "json").stdout)
    zones = {"example.nl": zone}
    for r in records:
        if r["type"] == "PTR":  # the hosting provider's reverse zones, one name each
            origin = r["name"].rstrip(".")
            zones[origin] = (
                f"$ORIGIN {r['name']}\n$TTL 300\n"
                f"@ IN SOA ns1.example.nl. hostmaster.example.nl. 1 3600 600 86400 300\n"
                f"@ IN NS ns1.example.nl.\n@ IN PTR {r['value']}\n"
            )
    named.serve(zones)
