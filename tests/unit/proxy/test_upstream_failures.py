"""An upstream that breaks off mid-response: a reset, a stall, garbage. Whatever the point of failure,
the visitor gets the 502/504 page while the start is still the gateway's to give, a cut connection
(never a response that looks complete) after, and each failure is counted and logged once."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from support.helpers import SECRET, ThreadedServer

from gateway.proxy.app import proxy_app

PAGE_HEAD = b"<!DOCTYPE html><html><head><title>Les</title></head><body>"


class BreakingUpstream(socketserver.ThreadingTCPServer):
    """Answers every request by the script named in its path: /reset-small, /reset-large, /stall, /garbage."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), BreakingHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class BreakingHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            request += chunk
        path = request.split(b" ", 2)[1].decode()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        if path.startswith("/reset-small"):  # announced 5,000 bytes, sends 1,000, then RST
            self.request.sendall(head + b"Content-Length: 5000\r\n\r\n" + PAGE_HEAD + b"x" * 900)
            self.reset()
        elif path.startswith("/reset-large"):  # chunked, 3 MB promised, 1 MB sent, then RST
            self.request.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
            for _ in range(16):
                piece = PAGE_HEAD + b"y" * 65_000
                self.request.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.reset()
        elif path.startswith("/stall"):  # half a page, then silence past the read timeout
            self.request.sendall(head + b"Content-Length: 5000\r\n\r\n" + PAGE_HEAD)
            time.sleep(4)
        elif path.startswith("/garbage"):
            self.request.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n" + b"zz\r\nnot a chunk\r\n")
            time.sleep(0.5)

    def reset(self) -> None:
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.request.close()


@pytest.fixture
def upstream() -> Iterator[BreakingUpstream]:
    server = BreakingUpstream()
    server.thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway(upstream, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    monkeypatch.setenv("GATEWAY_UPSTREAM_READ_TIMEOUT", "1")
    app = proxy_app(upstream.url)
    with ThreadedServer(app) as server:
        server.app = app
        yield server


def failures(gateway, kind: str) -> float:
    return gateway.app.components.metrics.metrics["gateway_upstream_errors_total"].value(kind=kind)


def failure_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "upstream" in r.getMessage()]


@pytest.mark.parametrize(
    ("method", "path", "status", "kind"),
    [
        ("GET", "/reset-small", 502, "cut_off"),
        ("POST", "/reset-small", 502, "cut_off"),
        ("GET", "/stall", 504, "cut_off"),
        ("GET", "/garbage", 502, "unreachable"),  # garbled in the same packet as the head: no start yet
    ],
)
def test_a_failure_while_the_start_is_held_gives_the_error_page(gateway, caplog, method, path, status, kind) -> None:
    caplog.set_level(logging.WARNING)
    response = httpx.request(method, gateway.url + path, content=b"x" if method == "POST" else None, timeout=10)
    assert response.status_code == status, response.text[:200]
    assert ("te traag" if status == 504 else "niet bereikbaar") in response.text
    assert failures(gateway, kind) == 1
    (line,) = failure_lines(caplog)
    assert kind in line and path in line and gateway.app.components.settings.upstream.rstrip("/") in line
    assert not any(r.exc_info for r in caplog.records), "logged once, without a traceback"
    assert httpx.get(gateway.url + "/_consent/healthz").status_code == 200  # and the gateway keeps serving


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_failure_after_the_start_cuts_the_connection(gateway, caplog, method) -> None:
    caplog.set_level(logging.WARNING)
    with pytest.raises(httpx.RemoteProtocolError):  # an incomplete chunked body: never a clean end
        httpx.request(method, gateway.url + "/reset-large", content=b"x" if method == "POST" else None, timeout=10)
    assert failures(gateway, "cut_off") == 1
    (line,) = failure_lines(caplog)
    assert "cut_off" in line and "/reset-large" in line
    assert not any(r.exc_info and "UpstreamCutOff" in repr(r.exc_info[1]) for r in caplog.records)
    assert httpx.get(gateway.url + "/_consent/healthz").status_code == 200
