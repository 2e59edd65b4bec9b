"""A private nginx for tests: the server blocks `setup render --web nginx` wrote,
included unchanged in a config of the test's own (its pid file, logs and temp
directories in a private directory), workers as www-data like Debian's; and a
client that fetches from it by name over verified HTTPS."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from support.env import program


@dataclass
class Nginx:
    directory: Path
    proc: subprocess.Popen[bytes] | None = None

    def write_config(self, include: Path) -> Path:
        """nginx.conf around the server blocks in `include`."""
        d = self.directory
        for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (d / "temp" / temp).mkdir(parents=True, exist_ok=True)
        conf = d / "nginx.conf"
        conf.write_text(
            "daemon off;\n"
            "worker_processes 1;\n"
            "user www-data;\n"  # as Debian's nginx.conf: the web files must be world-readable
            f"pid {d}/nginx.pid;\n"
            f"error_log {d}/error.log info;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            f"    access_log {d}/access.log;\n"
            f"    client_body_temp_path {d}/temp/body;\n"
            f"    proxy_temp_path {d}/temp/proxy;\n"
            f"    fastcgi_temp_path {d}/temp/fastcgi;\n"
            f"    uwsgi_temp_path {d}/temp/uwsgi;\n"
            f"    scgi_temp_path {d}/temp/scgi;\n"
            f"    include {include};\n"
            "}\n"
        )
        return conf

    def test(self, include: Path) -> subprocess.CompletedProcess[str]:
        """`nginx -t` on the config: parses it and loads the certificates."""
        conf = self.write_config(include)
        return subprocess.run(
            [program("nginx"), "-t", "-c", str(conf), "-e", str(self.directory / "error.log")],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    def start(self, include: Path, port: int = 443) -> None:
        conf = self.write_config(include)
        log = (self.directory / "nginx.out").open("ab")
        self.proc = subprocess.Popen(
            [program("nginx"), "-c", str(conf), "-e", str(self.directory / "error.log")],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited:\n" + self.log())
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.05)
        raise RuntimeError("nginx did not listen within 20 s:\n" + self.log())

    def reload(self) -> None:
        """SIGHUP: the master reads the configuration again; new connections get it."""
        assert self.proc is not None
        before = self._workers()
        os.kill(self.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while self._workers() & before and time.monotonic() < deadline:
            time.sleep(0.05)  # the old workers finish; the new ones serve the new blocks

    def _workers(self) -> set[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        with contextlib.suppress(OSError):
            return {int(pid) for pid in children.read_text().split()}
        return set()

    def log(self) -> str:
        text = ""
        for name in ("nginx.out", "error.log"):
            with contextlib.suppress(OSError):
                text += (self.directory / name).read_text()[-3000:]
        return text

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def fetch(
    name: str,
    path: str,
    *,
    cafile: Path,
    method: str = "GET",
    body: bytes | None = None,
    address: str = "127.0.0.1",
    port: int = 443,
) -> Answer:
    """`method` https://name/path at address:port, the certificate verified for `name`."""
    context = ssl.create_default_context(cafile=str(cafile))
    sock = socket.create_connection((address, port), timeout=5)
    conn = http.client.HTTPConnection(name, port, timeout=5)
    conn.sock = context.wrap_socket(sock, server_hostname=name)
    try:
        headers = {"Content-Type": "text/xml"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return Answer(response.status, response.getheader("Content-Type") or "", response.read())
    finally:
        conn.close()
