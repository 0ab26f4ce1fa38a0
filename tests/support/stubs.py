"""Local stand-ins for tracker hosts and for other sites, for the browser tests.

Chromium is started with ``--host-resolver-rules`` that send every host name
to one HTTPS stub server on loopback (a certificate made at test time with
``openssl``; the browser context ignores certificate errors). The stub
answers like the real hosts would in shape only (a script, a 1x1 GIF, a page
for an embed, 204 for a hit) and records every TLS handshake (by SNI) and
every request (by ``Host``), so a test can say exactly which tracker host was
contacted, in which order, and when. Nothing ever leaves the machine.

The stub scripts behave like the real tags in the ways the tests look at:
each records that it ran (``window.__stub``) and sets the first-party cookie
its tracker is known for (``_ga``, ``_fbp``, ``_hjSessionUser_*``,
``li_fat_id``), and each response sets a cookie on the tracker's own host.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

GIF = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")

# The first-party cookie each tracker's script writes, on the page's own origin.
FIRST_PARTY_COOKIES = {
    "www.googletagmanager.com": "_ga=GA1.1.1111111111.1700000000",
    "connect.facebook.net": "_fbp=fb.1.1700000000000.1111111111",
    "static.hotjar.com": "_hjSessionUser_1000001=eyJpZCI6InN0dWIifQ",
    "snap.licdn.com": "li_fat_id=stub",
}


@dataclass
class Hit:
    host: str
    path: str  # path and query
    method: str
    at: float  # time.monotonic() when the request arrived
    done: float | None = None  # just before the body was sent (None: not answered yet)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate; CN and names do not matter to a context that ignores errors."""
    cert, key = directory / "stub.crt", directory / "stub.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=tracker-stub.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StubHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _answer(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        hit = Hit(host, self.path, self.command, time.monotonic())
        self.server.stub._record(hit)  # counted on arrival, whatever happens next
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        delay = query.get("delay_ms", ["0"])[0]
        if delay.isdigit():
            time.sleep(int(delay) / 1000)
        status, content_type, body = self._content(host, parts.path)
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Set-Cookie", "stub_third_party=1; Path=/; Secure; SameSite=None; Max-Age=3600")
        self.end_headers()
        hit.done = time.monotonic()  # from here on the browser may have the whole answer
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    do_GET = do_POST = do_HEAD = do_PUT = _answer

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        self.server.stub._record(Hit(host, self.path, "OPTIONS", time.monotonic(), time.monotonic()))

    @staticmethod
    def _content(host: str, path: str) -> tuple[int, str, bytes]:
        if path.endswith((".js", "/js")):
            cookie = FIRST_PARTY_COOKIES.get(host)
            script = f"(window.__stub=window.__stub||[]).push({json.dumps(host + path)});"
            if cookie:
                script += f"document.cookie={json.dumps(cookie + '; path=/; max-age=3600')};"
            return 200, "text/javascript", ("/* stub */" + script).encode()
        if path.endswith((".gif", "/tr", "/tr/")) or "/collect" in path and "fmt=gif" in path:
            return 200, "image/gif", GIF
        if "/embed/" in path or path.endswith(("ns.html", ".html")):
            return 200, "text/html; charset=utf-8", b"<!doctype html><title>stub</title><p>stub embed</p>"
        if path.endswith("/collect") or path.endswith("/g/collect"):
            return 204, "", b""
        return 204, "", b""


class _StubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stub: TrackerStub, context: ssl.SSLContext) -> None:
        self.stub = stub
        self.context = context
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self):  # type: ignore[override]
        sock, address = self.socket.accept()
        # The handshake runs in the handler's thread, on its first read.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:  # aborted connections are normal here
        pass


class TrackerStub:
    """One HTTPS server that stands in for every tracker host; counts what reaches it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: list[Hit] = []
        self._handshakes: list[str] = []
        self._directory = tempfile.TemporaryDirectory(prefix="tracker-stub-")
        cert, key = make_certificate(Path(self._directory.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = self._on_sni
        self._server = _StubHTTPServer(self, context)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _on_sni(self, sslobj, server_name, context) -> None:
        with self._lock:
            self._handshakes.append((server_name or "").lower())

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def __enter__(self) -> TrackerStub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._directory.cleanup()

    # ---- what the tests read -------------------------------------------------

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
            self._handshakes.clear()

    @property
    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    @property
    def handshakes(self) -> list[str]:
        with self._lock:
            return list(self._handshakes)

    def hosts(self) -> Counter:
        """Requests per host, plus hosts that were only contacted (TLS handshake, no request yet)."""
        counted = Counter(hit.host for hit in self.hits)
        for name in self.handshakes:
            counted.setdefault(name, 0)
        return counted

    def contacted(self) -> set[str]:
        return {hit.host for hit in self.hits} | set(self.handshakes)

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        """Poll until ``predicate(stub)`` holds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)


class StaticSite:
    """A plain HTTP server on a loopback address (e.g. 127.0.0.2) that serves fixed pages: another site."""

    def __init__(self, host: str = "127.0.0.2", pages: dict[str, str] | None = None) -> None:
        pages = self.pages = dict(pages or {})  # tests may add pages once they know the other server's port

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = pages.get(urlsplit(self.path).path)
                data = (body or "not found").encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._server = Server((host, 0), Handler)
        self.port = self._server.server_address[1]
        self.origin = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StaticSite:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
