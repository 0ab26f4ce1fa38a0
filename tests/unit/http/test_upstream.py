"""The lean upstream client, against real sockets on 127.0.0.1 that answer exactly what each test needs."""

import asyncio

import pytest

from gateway.http.upstream import HIGH_WATER, UpstreamClosed, UpstreamPool


class Upstream:
    """A TCP server on a free port; ``answer(request_number, head)`` says what to do.

    The answer is bytes to write, or a list of steps: bytes to write, a float to sleep that many
    seconds, ``None`` to close the connection. ``None`` alone closes it without a word.
    """

    def __init__(self, answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> "Upstream":
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                reply = self.answer(len(self.requests), head)
                steps = reply if isinstance(reply, list) else [reply]
                if None in steps:
                    steps = steps[: steps.index(None)]
                for step in steps:
                    if isinstance(step, float):
                        await asyncio.sleep(step)
                    else:
                        writer.write(step)
                        await writer.drain()
                if reply is None or (isinstance(reply, list) and None in reply):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def fetch(pool: UpstreamPool, path: str = "/") -> tuple[int, list, bytes]:
    response = await pool.get(b"GET %s HTTP/1.1\r\nhost: upstream\r\n\r\n" % path.encode())
    try:
        chunks = []
        while (chunk := await response.next_chunk()) is not None:
            chunks.append(chunk)
        return response.status, response.raw_headers, b"".join(chunks)
    finally:
        pool.release(response)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))


def test_connections_are_kept_and_reused() -> None:
    async def scenario():
        async with Upstream(lambda n, head: ok(b"page %d" % n)) as upstream:
            pool = UpstreamPool(upstream.url, 5, 5)
            bodies = [(await fetch(pool, f"/les-{n}"))[2] for n in range(1, 6)]
            pool.close()
            return bodies, upstream.connections, upstream.requests

    bodies, connections, requests = run(scenario())
    assert bodies == [b"page %d" % n for n in range(1, 6)]
    assert connections == 1
    assert requests[2].startswith(b"GET /les-3 HTTP/1.1\r\nhost: upstream\r\n")


def test_a_kept_connection_the_upstream_closed_is_replaced_without_an_error() -> None:
    async def scenario():
        # Request 2 arrives on the kept connection just as the upstream drops it: sent again on a fresh one.
        async with Upstream(lambda n, head: None if n == 2 else ok(b"page %d" % n)) as upstream:
            pool = UpstreamPool(upstream.url, 5, 5)
            first, second = await fetch(pool), await fetch(pool)
            retried = upstream.connections
        # This upstream closes after every answer, without saying so: closed idle connections are skipped.
        async with Upstream(lambda n, head: [ok(b"page %d" % n), None]) as upstream:
            pool = UpstreamPool(upstream.url, 5, 5)
            third = await fetch(pool)
            await asyncio.sleep(0.05)
            fourth = await fetch(pool)
            pool.close()
            return first[2], second[2], retried, third[2], fourth[2], upstream.connections

    first, second, retried, third, fourth, connections = run(scenario())
    assert (first, second, retried) == (b"page 1", b"page 3", 2)
    assert (third, fourth, connections) == (b"page 1", b"page 2", 2)


def test_chunked_bodies_and_interim_responses() -> None:
    reply = (
        b"HTTP/1.1 103 Early Hints\r\nlink: </s.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/html\r\n\r\n"
        b"5\r\n<html\r\n6\r\n><head\r\n2\r\n/>\r\n0\r\n\r\n"
    )

    async def scenario():
        async with Upstream(lambda n, head: reply) as upstream:
            pool = UpstreamPool(upstream.url, 5, 5)
            result = await fetch(pool)
            again = await fetch(pool)
            pool.close()
            return result, again, upstream.connections

    (status, headers, body), again, connections = run(scenario())
    assert status == 200 and body == b"<html><head/>"
    assert (b"content-type", b"text/html") in headers and not any(name == b"link" for name, _ in headers)
    assert again[2] == body and connections == 1


def test_chunks_that_came_in_together_are_one_piece() -> None:
    """What one read brought (many chunks of a chunked body) is handed on as one piece; what comes
    later is a piece of its own."""
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (b"<p>les %d</p>" % n for n in range(40)))
    reply = [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks, 0.2, b"6\r\n<br/>!\r\n0\r\n\r\n"]

    async def scenario():
        async with Upstream(lambda n, head: reply) as upstream:
            pool = UpstreamPool(upstream.url, 5, 5)
            response = await pool.get(b"GET / HTTP/1.1\r\nhost: upstream\r\n\r\n")
            pieces = []
            while (piece := await response.next_chunk()) is not None:
                pieces.append(piece)
            pool.release(response)
            pool.close()
            return pieces

    pieces = run(scenario())
    assert pieces == [b"".join(b"<p>les %d</p>" % n for n in range(40)), b"<br/>!"]


def test_a_body_ended_by_closing_the_connection() -> None:
    async def scenario():
        async with Upstream(
            lambda n, head: [b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end", None]
        ) as upstream:
            pool = UpstreamPool(upstream.url, 5, 5)
            result = await fetch(pool)
            assert not pool.idle  # nothing kept: the connection is gone
            pool.close()
            return result

    status, _, body = run(scenario())
    assert status == 200 and body == b"until the end"


def test_a_truncated_body_is_an_error_not_a_short_page() -> None:
    async def scenario():
        async with Upstream(lambda n, head: b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this") as up:
            pool = UpstreamPool(up.url, 5, 5)
            response = await pool.get(b"GET / HTTP/1.1\r\nhost: upstream\r\n\r\n")
            first = await response.next_chunk()
            for writer in up.writers:
                writer.close()
            with pytest.raises(UpstreamClosed):
                await response.next_chunk()
            pool.release(response)
            pool.close()
            return first

    assert run(scenario()) == b"only this"


def test_garbage_and_refused_connections_are_connection_errors() -> None:
    async def scenario():
        async with Upstream(lambda n, head: b"SSH-2.0-OpenSSH_9.2\r\n\r\n") as upstream:
            pool = UpstreamPool(upstream.url, 5, 5)
            with pytest.raises(ConnectionError):
                await fetch(pool)
            url = upstream.url
        with pytest.raises(ConnectionError):
            await fetch(UpstreamPool(url, 5, 5))  # nothing listens there any more

    run(scenario())


def test_silence_is_a_timeout() -> None:
    async def scenario():
        async with Upstream(lambda n, head: [3.0, ok(b"late")]) as upstream:
            pool = UpstreamPool(upstream.url, 5, 0.3)
            with pytest.raises(TimeoutError):
                await fetch(pool)
            pool.close()

    run(scenario())


def test_large_bodies_are_paced_by_the_reader_and_arrive_whole() -> None:
    body = bytes(range(256)) * (4 * HIGH_WATER // 256)

    async def scenario():
        async with Upstream(lambda n, head: ok(body)) as upstream:
            pool = UpstreamPool(upstream.url, 5, 5)
            response = await pool.get(b"GET / HTTP/1.1\r\nhost: upstream\r\n\r\n")
            chunks, most_buffered = [], 0
            while (chunk := await response.next_chunk()) is not None:
                chunks.append(chunk)
                most_buffered = max(most_buffered, response.buffered)
                await asyncio.sleep(0.005)  # a slow visitor
            pool.release(response)
            kept = len(pool.idle)
            pool.close()
            return b"".join(chunks), most_buffered, kept

    received, most_buffered, kept = run(scenario())
    assert received == body
    assert most_buffered <= HIGH_WATER + 256 * 1024  # reading paused: the page is not held whole in memory
    assert kept == 1


def test_a_request_body_is_sent_with_the_head_and_the_connection_is_kept() -> None:
    received: list[tuple[bytes, bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                received.append((head, await reader.readexactly(length)))
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def scenario():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        pool = UpstreamPool(url, 5, 5)
        statuses = []
        for n in range(3):
            body = b"en=page_view\nen=scroll&n=%d" % n
            head = b"POST /g/collect?v=2 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
            response = await pool.request(head, body, resend=False)
            statuses.append((response.status, await response.read()))
            pool.release(response)
        kept = len(pool.idle)
        pool.close()
        server.close()
        await server.wait_closed()
        return statuses, kept

    statuses, kept = run(scenario())
    assert statuses == [(204, b"")] * 3 and kept == 1
    assert [body for _, body in received] == [b"en=page_view\nen=scroll&n=%d" % n for n in range(3)]
    assert received[2][0].startswith(b"POST /g/collect?v=2 HTTP/1.1\r\n")


def test_a_request_not_safe_to_repeat_is_not_sent_again_on_a_fresh_connection() -> None:
    async def scenario():
        # Request 2 arrives on the kept connection and the upstream drops it: the caller hears of it.
        async with Upstream(lambda n, head: None if n == 2 else ok(b"page %d" % n)) as upstream:
            pool = UpstreamPool(upstream.url, 5, 5)
            await fetch(pool)
            with pytest.raises(UpstreamClosed):
                await pool.request(b"GET / HTTP/1.1\r\nhost: upstream\r\n\r\n", resend=False)
            pool.close()
            return upstream.connections, len(upstream.requests)

    assert run(scenario()) == (1, 2)
