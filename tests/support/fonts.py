"""A stand-in for font CDNs (Google Fonts' shape): stylesheets, font files, and a record of who asked.

One handler behind two listeners on loopback: plain HTTP for the gateway's
own fetches (``font_mirrors`` points the catalogued hosts at it) and HTTPS
for a browser that reaches ``fonts.googleapis.com`` and ``fonts.gstatic.com``
through ``--host-resolver-rules``. Every request is kept with the listener
it came through and its headers, and TLS handshakes are counted by name, so
a test can tell the gateway's fetch from a visitor's browser.

Stylesheets are written per User-Agent as Google Fonts writes them: WOFF2
for current browsers, WOFF for Internet Explorer; the font file is the test's.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from support.stubs import make_certificate

FAMILY = "Stub Display"
FONT_PATH = "/s/stubdisplay/v1/stub"


@dataclass
class FontHit:
    tls: bool
    host: str
    path: str  # path and query
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


def stylesheet(query: str, user_agent: str, file_origin: str) -> str:
    family = parse_qs(query).get("family", [FAMILY])[0].split(":")[0]
    extension, form = ("woff", "woff") if "Trident/" in user_agent else ("ttf", "truetype")
    return (
        "/* stub font CSS */\n"
        f"@font-face {{\n  font-family: '{family}';\n  font-style: normal;\n  font-weight: 400;\n"
        f"  src: url({file_origin}{FONT_PATH}.{extension}) format('{form}');\n}}\n"
    )


class FontCDNStub:
    """``css_status`` / ``file_status`` make the vendor fail; ``font`` is what a font file's body is."""

    def __init__(self, font: bytes = b"wOF2-stub-font-bytes", file_origin: str = "https://fonts.gstatic.com") -> None:
        self.font = font
        self.file_origin = file_origin
        self.css_status = 200
        self.file_status = 200
        self.types: dict[str, str] = {}  # path -> content type, to serve something other than CSS or a font
        self.bodies: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._hits: list[FontHit] = []
        self.handshakes: list[str] = []
        self._directory = tempfile.TemporaryDirectory(prefix="font-stub-")
        cert, key = make_certificate(Path(self._directory.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sslobj, name, ctx: self.handshakes.append((name or "").lower())
        self._plain = self._server(None)
        self._tls = self._server(context)
        self.port, self.tls_port = self._plain.server_address[1], self._tls.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = False
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self._plain, self._tls)]

    def mirrors(self, *hosts: str) -> str:
        """``font_mirrors`` that send the gateway's fetches for ``hosts`` here."""
        return ",".join(f"{host}={self.url}" for host in hosts)

    def _server(self, context: ssl.SSLContext | None) -> ThreadingHTTPServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if stub._stopped:  # a kept-alive connection to a vendor that is down: closed, no answer
                    self.close_connection = True
                    return
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                with stub._lock:
                    stub._hits.append(FontHit(context is not None, host, self.path, dict(self.headers.items())))
                status, content_type, body = stub.answer(self.path, self.headers.get("User-Agent") or "")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Set-Cookie", "NID=stub; Path=/; Secure")
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):  # type: ignore[override]
                sock, address = self.socket.accept()
                if context is None:
                    return sock, address
                return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

            def handle_error(self, request, client_address) -> None:
                pass

        return Server(("127.0.0.1", 0), Handler)

    def answer(self, target: str, user_agent: str) -> tuple[int, str, bytes]:
        parts = urlsplit(target)
        if parts.path in self.types:
            return 200, self.types[parts.path], self.bodies.get(parts.path, b"x")
        if parts.path.startswith("/s/"):
            if self.file_status != 200:
                return self.file_status, "text/plain", b"down"
            kind = "font/woff" if parts.path.endswith(".woff") else "font/ttf"
            return 200, kind, self.font
        if parts.path in ("/css", "/css2", "/icon"):
            if self.css_status != 200:
                return self.css_status, "text/plain", b"down"
            css = stylesheet(parts.query, user_agent, self.file_origin)
            return 200, "text/css; charset=utf-8", css.encode()
        return 404, "text/plain", b"not found"

    # ---- what the tests read ----------------------------------------------------

    @property
    def hits(self) -> list[FontHit]:
        with self._lock:
            return list(self._hits)

    def browser_hits(self) -> list[FontHit]:
        """Requests that came the way a browser comes: over TLS, to the CDN's own name."""
        return [hit for hit in self.hits if hit.tls]

    def gateway_hits(self) -> list[FontHit]:
        return [hit for hit in self.hits if not hit.tls]

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
            self.handshakes.clear()

    def __enter__(self) -> FontCDNStub:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self._directory.cleanup()

    def stop(self) -> None:
        """Down altogether (a vendor that does not answer); once is enough."""
        if self._stopped:
            return
        self._stopped = True
        for server in (self._plain, self._tls):
            server.shutdown()
            server.server_close()
