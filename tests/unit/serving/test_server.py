"""The HTTP protocol the gateway serves with: uvicorn's, a response's head sent with the start of its body."""

import asyncio
import socket
import threading

from support.helpers import ThreadedServer

from gateway.serving.protocol import HeadHoldingTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n"


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, parts) -> None:
        self.writes.append(b"".join(parts))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str):
        return f"info:{name}"


def test_head_and_body_go_out_in_one_write() -> None:
    async def scenario() -> list[bytes]:
        transport = RecordingTransport()
        holding = HeadHoldingTransport(transport, asyncio.get_running_loop())
        holding.write(HEAD)
        holding.write(b"body")
        holding.write(b"more")
        await asyncio.sleep(0)
        return transport.writes

    assert asyncio.run(scenario()) == [HEAD + b"body", b"more"]


def test_a_head_alone_is_written_at_the_end_of_the_turn() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        transport = RecordingTransport()
        holding = HeadHoldingTransport(transport, asyncio.get_running_loop())
        holding.write(HEAD)
        before = list(transport.writes)
        await asyncio.sleep(0)
        return before, transport.writes

    before, after = asyncio.run(scenario())
    assert before == [] and after == [HEAD]


def test_closing_writes_a_held_head_first_and_the_rest_is_the_connection() -> None:
    async def scenario() -> RecordingTransport:
        transport = RecordingTransport()
        holding = HeadHoldingTransport(transport, asyncio.get_running_loop())
        holding.write(HEAD)
        assert holding.get_extra_info("peername") == "info:peername"
        holding.close()
        await asyncio.sleep(0)
        return transport

    transport = asyncio.run(scenario())
    assert transport.writes == [HEAD] and transport.closed


def read_response(connection: socket.socket, buffer: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """One response with a Content-Length: head, body and whatever came after it."""
    while b"\r\n\r\n" not in buffer:
        chunk = connection.recv(65536)
        assert chunk, "connection closed before the head"
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = connection.recv(65536)
        assert chunk, "connection closed before the end of the body"
        rest += chunk
    return head, rest[:length], rest[length:]


def test_keep_alive_pipelining_head_and_close_over_a_real_connection() -> None:
    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = scope["path"].encode() * 3
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    with ThreadedServer(app) as server, socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body, rest = read_response(connection)
        assert head.startswith(b"HTTP/1.1 200") and body == b"/a/a/a"
        head, body, rest = read_response(connection, rest)
        assert body == b"/b/b/b" and rest == b""
        connection.sendall(b"HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n")
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += connection.recv(65536)
        assert buffer.startswith(b"HTTP/1.1 200") and buffer.endswith(b"\r\n\r\n")
        connection.sendall(b"GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, body, rest = read_response(connection)
        assert body == b"/d/d/d" and b"connection: close" in head.lower()
        assert rest == b"" and connection.recv(65536) == b""  # closed after the response


def test_a_stream_shows_its_head_before_its_first_chunk() -> None:
    head_seen = threading.Event()

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        while not head_seen.is_set():  # the client must get the head while the body has not started
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"late", "more_body": False})

    with ThreadedServer(app) as server, socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += connection.recv(65536)
        assert buffer.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in buffer
        head_seen.set()
        while not buffer.endswith(b"0\r\n\r\n"):
            buffer += connection.recv(65536)
        assert b"4\r\nlate\r\n" in buffer
