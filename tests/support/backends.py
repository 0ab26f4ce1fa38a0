"""Fake analytics backends: real HTTP servers on 127.0.0.1 that keep every byte they receive.

``CapturingBackend`` reads requests off the socket itself (request line,
headers and body exactly as they arrived), so a test can search the raw
bytes for anything the gateway should never have passed on. It answers with
a configurable status, can be told to fail the first N requests, to answer
slowly, or be stopped to play a backend that is down. It also serves a
script at any path ending in ``.js`` for the first-party script cache.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

SCRIPT = b"/* stub tracker script */ window.__stubScript = (window.__stubScript || 0) + 1;\n"


@dataclass
class Captured:
    raw: bytes  # everything: request line, headers, body

    @property
    def head(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[0]

    @property
    def body(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[1]

    @property
    def method(self) -> str:
        return self.raw.split(b" ", 1)[0].decode()

    @property
    def target(self) -> str:
        return self.raw.split(b" ", 2)[1].decode()

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None

    def body_lines(self) -> list[list[tuple[str, str]]]:
        return [parse_qsl(line, keep_blank_values=True) for line in self.body.decode().split("\n") if line]


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        buffer = b""
        self.request.settimeout(10)
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = self._read()
                if not chunk:
                    return
                buffer += chunk
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                key, _, value = line.partition(b":")
                if key.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(rest) < length:
                chunk = self._read()
                if not chunk:
                    return
                rest += chunk
            body, buffer = rest[:length], rest[length:]
            captured = Captured(head + b"\r\n\r\n" + body)
            backend = self.server.backend
            status, payload = backend.answer(captured)
            reason = {200: b"OK", 204: b"No Content", 503: b"Service Unavailable"}.get(status, b"Status")
            response = b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (status, reason, len(payload))
            if payload:
                response += b"Content-Type: application/javascript\r\n"
            self.request.sendall(response + b"\r\n" + payload)

    def _read(self) -> bytes:
        try:
            return self.request.recv(65536)
        except OSError:
            return b""


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    backend: CapturingBackend


class CapturingBackend:
    """A fake GA4 / UA / Matomo backend that records every request's raw bytes."""

    def __init__(self, status: int = 204, fail_first: int = 0, delay: float = 0.0, script: bytes = SCRIPT) -> None:
        self.status = status
        self.fail_first = fail_first
        self.delay = delay
        self.script = script
        self.script_status = 200
        self.captured: list[Captured] = []
        self.attempts = 0
        self.lock = threading.Lock()
        self.server: _Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, captured: Captured) -> tuple[int, bytes]:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.attempts += 1
            if captured.path.endswith(".js") or captured.path.endswith("/gtag/js"):
                self.captured.append(captured)
                return self.script_status, self.script if self.script_status == 200 else b""
            if self.attempts <= self.fail_first:
                return 503, b""
            self.captured.append(captured)
            return self.status, b""

    def start(self) -> CapturingBackend:
        self.server = _Server(("127.0.0.1", self.port), _Handler)
        self.server.backend = self
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the listening socket: the backend is down (connections are refused)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> CapturingBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def hits(self) -> list[Captured]:
        with self.lock:
            return [c for c in self.captured if not c.path.endswith("js")]

    def all_bytes(self) -> bytes:
        with self.lock:
            return b"".join(c.raw for c in self.captured)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Captured]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = self.hits()
            if len(hits) >= count:
                return hits
            time.sleep(0.02)
        return self.hits()


def closed_port() -> int:
    """A loopback port nobody listens on: a backend that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
