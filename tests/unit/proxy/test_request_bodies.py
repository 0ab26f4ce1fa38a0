"""Every method through the lean client: HEAD, form posts and uploads reach the upstream exactly as sent.

The upstream here is a raw TCP server on loopback that records the bytes of
each request as they arrive on the wire, so the tests see the framing the
gateway chose (Content-Length or chunks), how many connections carried the
requests, and what an upstream sees when a visitor leaves mid-upload.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from support.helpers import SECRET, ThreadedServer

from gateway.proxy.app import proxy_app

PAGE = b"<!DOCTYPE html><title>Les</title><p>Hallo</p>"


@dataclass
class Seen:
    head: bytes
    body: bytes = b""
    complete: bool = False  # the whole body arrived, as its framing announced
    cut: bool = False  # the connection ended before the body did


@dataclass
class Recorder:
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    read_delay: float = 0.0  # seconds before the upstream starts reading a body


def read_into(stream, size: int, seen: Seen) -> bool:
    """Read ``size`` bytes of body into ``seen`` as they come; False when the connection ends first."""
    while size:
        piece = stream.read1(min(65536, size))
        if not piece:
            return False
        seen.body += piece
        size -= len(piece)
    return True


def read_body(stream, head: bytes, seen: Seen) -> None:
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        while True:
            size_line = stream.readline()
            if not size_line:
                return
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                stream.readline()
                seen.complete = True
                return
            if not read_into(stream, size, seen):
                return
            stream.readline()
    for line in lowered.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            seen.complete = read_into(stream, int(line.split(b":")[1]), seen)
            return
    seen.complete = True


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        recorder: Recorder = self.server.recorder  # type: ignore[attr-defined]
        with recorder.lock:
            recorder.connections += 1
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline()
                if not line:
                    return
                head += line
            seen = Seen(head)
            with recorder.lock:
                recorder.requests.append(seen)
            if recorder.read_delay:
                time.sleep(recorder.read_delay)
            read_body(self.rfile, head, seen)
            if not seen.complete:
                seen.cut = True
                return
            method = head.split(b" ", 1)[0]
            answer = b"%s %d bytes" % (method, len(seen.body)) if method != b"HEAD" else PAGE
            body = b"" if method == b"HEAD" else answer
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n%s" % (len(answer), body)
            )
            self.wfile.flush()


class RawUpstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def recorder():
    server = RawUpstream(("127.0.0.1", 0), Handler)
    server.recorder = Recorder()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.recorder.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield server.recorder  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway(recorder, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    monkeypatch.setenv("GATEWAY_UPSTREAM_READ_TIMEOUT", "1")
    with ThreadedServer(proxy_app(recorder.url)) as server:
        yield server


def test_posts_keep_their_content_length_and_share_one_connection(gateway, recorder) -> None:
    with httpx.Client() as client:
        for n in range(3):
            form = {"sesskey": "abc", "n": str(n)}
            response = client.post(gateway.url + "/lib/ajax/service.php?sesskey=abc", data=form)
            assert (response.status_code, response.text) == (200, "POST 15 bytes")
    assert [seen.body for seen in recorder.requests] == [b"sesskey=abc&n=%d" % n for n in range(3)]
    assert all(b"content-length: 15\r\n" in seen.head.lower() for seen in recorder.requests)
    assert all(b"transfer-encoding" not in seen.head.lower() for seen in recorder.requests)
    assert recorder.requests[0].head.startswith(b"POST /lib/ajax/service.php?sesskey=abc HTTP/1.1\r\n")
    assert recorder.connections == 1  # kept alive after each answer


def test_a_chunked_upload_crosses_in_chunks(gateway, recorder) -> None:
    pieces = [bytes([n]) * (1000 + n) for n in range(20)]
    response = httpx.put(gateway.url + "/webdav/bestand.bin", content=iter(pieces))
    assert response.status_code == 200
    (seen,) = recorder.requests
    assert seen.head.startswith(b"PUT /webdav/bestand.bin HTTP/1.1\r\n")
    assert b"transfer-encoding: chunked\r\n" in seen.head.lower() and b"content-length" not in seen.head.lower()
    assert seen.complete and seen.body == b"".join(pieces)


def test_head_ends_with_the_headers_and_the_next_request_is_answered_right(gateway, recorder) -> None:
    with httpx.Client() as client:
        head = client.head(gateway.url + "/les.txt")
        after = client.post(gateway.url + "/les.txt", content=b"12345")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(PAGE))
    assert after.text == "POST 5 bytes"  # not read as the body the HEAD's headers announced


@pytest.mark.parametrize("method", ["DELETE", "OPTIONS", "PATCH"])
def test_other_methods_pass_as_they_are(gateway, recorder, method) -> None:
    response = httpx.request(method, gateway.url + "/api/item/7", content=b"{}" if method == "PATCH" else None)
    assert response.text == f"{method} {2 if method == 'PATCH' else 0} bytes"
    assert recorder.requests[0].head.startswith(method.encode() + b" /api/item/7 HTTP/1.1\r\n")


def test_an_upload_longer_than_the_read_timeout_is_answered(gateway, recorder) -> None:
    """The read timeout (1 s here) times the upstream's answer, not the visitor's upload (2.4 s)."""

    def slowly():
        for _ in range(6):
            time.sleep(0.4)
            yield b"x" * 1000

    response = httpx.post(gateway.url + "/upload", content=slowly(), timeout=10)
    assert (response.status_code, response.text) == (200, "POST 6000 bytes")


def test_a_visitor_leaving_mid_upload_never_hands_the_upstream_a_whole_body(gateway, recorder) -> None:
    for framing in (b"content-length: 1000000", b"transfer-encoding: chunked"):
        with socket.create_connection(("127.0.0.1", gateway.port)) as visitor:
            visitor.sendall(b"POST /upload HTTP/1.1\r\nhost: leerplein.nl\r\n%s\r\n\r\n" % framing)
            piece = b"y" * 50_000
            visitor.sendall(piece if b"length" in framing else b"%x\r\n%s\r\n" % (len(piece), piece))
            deadline = time.monotonic() + 5
            while len(recorder.requests) < 1 or not recorder.requests[-1].body:
                assert time.monotonic() < deadline, "the upload never reached the upstream"
                time.sleep(0.02)
        deadline = time.monotonic() + 5
        while not recorder.requests[-1].cut:  # the gateway drops the upstream connection at once
            assert time.monotonic() < deadline, f"the upstream still waits for the rest ({framing.decode()})"
            time.sleep(0.02)
        assert not recorder.requests[-1].complete
    assert httpx.get(gateway.url + "/_consent/healthz").status_code == 200


def test_an_upstream_that_reads_slowly_slows_the_upload_down(gateway, recorder) -> None:
    """Nothing piles up in the gateway: while the upstream does not read, the visitor cannot send much."""
    recorder.read_delay = 3.0
    with socket.create_connection(("127.0.0.1", gateway.port)) as visitor:
        visitor.sendall(b"POST /upload HTTP/1.1\r\nhost: leerplein.nl\r\ncontent-length: 268435456\r\n\r\n")
        visitor.settimeout(0.2)
        sent, piece, started = 0, b"z" * 65536, time.monotonic()
        while time.monotonic() - started < 1.5:
            with contextlib.suppress(TimeoutError):
                sent += visitor.send(piece)
    # Kernel buffers on both hops hold a few MiB; without pacing the gateway would take all it is sent.
    assert sent < 48 * 1024 * 1024, f"{sent / 2**20:.0f} MiB accepted while the upstream was not reading"
