"""A lean HTTP/1.1 client for the proxy's GETs and the analytics forwarder's small requests.

Measured here, a bare proxy forwarding a 20 KB page spent about 145 us of
CPU per request with aiohttp and about 55 us with this client: most of a
general-purpose client's work (cookie jars, redirects, auto headers,
tracing, URL re-quoting, multidict copies) is not needed when the target is
one fixed upstream and the request is passed on as it came. Responses are
parsed by httptools (the parser uvicorn uses). A request may carry a small
body sent in one piece with its Content-Length (the analytics forwarder's
POSTs) or a body streamed as it arrives (``stream``: a visitor's upload,
written by a task of its own so the answer can flow back meanwhile, paced
by the upstream's reading); WebSockets stay with aiohttp.

One pool of keep-alive connections per upstream. A kept connection the
upstream closed while idle is noticed on the next request (no response
byte arrived) and the request is sent once more on a fresh connection,
which is safe for a GET; a caller whose request is not safe to repeat asks
for no second try (``resend=False``) and retries on its own terms.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

# Response bytes held per connection before reading from the upstream pauses (the visitor is slower).
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
MAX_IDLE = 64  # idle keep-alive connections kept
READ_BUFFER = 256 * 1024  # bytes read from a connection at a time
# Chunks that came in together are handed on as one piece up to this size: larger joins would
# cost more in copying and in memory a worker keeps than the turns they save.
JOINED = 256 * 1024


class UpstreamClosed(ConnectionError):
    """The upstream closed the connection or answered something that is not HTTP/1.1."""


class RequestBodyCut(Exception):
    """The visitor's request body stopped before its end (the visitor went away): the upstream
    connection is aborted, so the upstream never takes a truncated upload for a whole one."""


class UpstreamCutOff(Exception):
    """The upstream failed after its response had begun: reset, stalled past the read timeout, or garbled.

    Raised by the proxy through the layers above it, carrying the error page (an ASGI app) to send
    when the visitor has not had a response start yet; when they have, the connection is closed
    as any proxy closes it, so the cut-off response never looks complete."""

    def __init__(self, kind: str, page: object) -> None:
        super().__init__(f"upstream {kind} mid-response")
        self.kind = kind
        self.page = page  # ASGIApp


class ReadWatch:
    """Read timeouts for every wait of one pool, checked by one timer instead of a timer per wait.

    A timer per wait cost about 2 us to start and cancel, twice per proxied
    page. Here a wait notes its deadline; while anything waits, a check runs
    every ``tick`` seconds (an eighth of the timeout, at most one second) and
    fails the waits past their deadline. A timeout so fires up to one tick late.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.tick = min(max(timeout / 8, 0.01), 1.0)
        self.waiting: set[Response] = set()
        self.timer: asyncio.TimerHandle | None = None

    def watch(self, response: Response, loop: asyncio.AbstractEventLoop) -> None:
        response.deadline = loop.time() + self.timeout
        self.waiting.add(response)
        if self.timer is None:
            self.timer = loop.call_later(self.tick, self.check, loop)

    def check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for response in [r for r in self.waiting if r.deadline <= now]:
            self.waiting.discard(response)
            waiter = response.waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(TimeoutError("upstream read timed out"))
        self.timer = loop.call_later(self.tick, self.check, loop) if self.waiting else None


class Response(asyncio.BufferedProtocol):
    """One upstream connection and the response being read on it (one request at a time).

    Bytes are read into the pool's buffer and parsed from there, without a
    bytes object of their own (the parser copies out the body pieces). The
    loop calls ``get_buffer`` and ``buffer_updated`` back to back, so the
    connections of one pool can share one buffer.
    """

    deadline = 0.0  # of the current wait (loop time)

    def __init__(self, watch: ReadWatch, buffer: bytearray) -> None:
        self.watch = watch
        self.buffer = buffer
        self.view = memoryview(buffer)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.write_paused = False  # the transport's write buffer is full: the upstream reads slowly
        self.drain_waiter: asyncio.Future | None = None
        # One parser for the connection: after a complete response it reads the next one (as uvicorn's does).
        self.parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.keep_alive = False
        self.complete = False
        self.received = False  # any byte of this response
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.paused = False
        self.error: Exception | None = None
        self.waiter: asyncio.Future | None = None
        self.head_only = False  # the request was a HEAD: no body follows, whatever the headers announce
        self.sending = False  # a request body is still being written (no read timeout meanwhile)
        self.pump: asyncio.Task | None = None  # the task writing it

    # ---- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # Kept: asking for the running loop costs a getpid() system call each time.
        self.loop = asyncio.get_running_loop()

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self.view[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(UpstreamClosed(f"upstream sent no valid HTTP: {error}"))
            self.transport.close()  # type: ignore[union-attr]

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.resume_writing()  # a body being written stops waiting; the writer sees ``closed``
        if self.headers_done and not self.complete and self._ends_with_close():
            self.complete = True  # a body delimited by the end of the connection
            self._wake()
        elif not self.complete:
            self._fail(UpstreamClosed("upstream closed the connection"))

    # ---- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.raw_headers = []  # an interim response (100 Continue, 103 Early Hints): the real one follows
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()  # asked now: the parser forgets once the body is read
        self.headers_done = True
        if self.head_only:
            self.complete = True
            # The parser would wait for the body the headers announce and read the next answer as it.
            self.keep_alive = False
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.complete = True
            self._wake()

    # ---- for the proxy

    async def wait_for_headers(self) -> None:
        while not self.headers_done:
            await self._wait()

    async def read(self) -> bytes:
        """The rest of the body, all of it (for small answers only)."""
        parts = []
        while (chunk := await self.next_chunk()) is not None:
            parts.append(chunk)
        return b"".join(parts)

    async def next_chunk(self) -> bytes | None:
        """The next piece of the body, or ``None`` at its end: what has come in since the last one, up
        to ``JOINED`` bytes (a read brings several chunks of a chunked body; each piece costs a turn
        through the page path)."""
        chunks = self.chunks
        while not chunks:
            if self.complete:
                return None
            await self._wait()
        pieces = [chunks.popleft()]
        size = len(pieces[0])
        while chunks and size + len(chunks[0]) <= JOINED:
            size += len(chunks[0])
            pieces.append(chunks.popleft())
        chunk = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self.buffered -= len(chunk)
        if self.paused and self.buffered < LOW_WATER:
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        return chunk

    @property
    def drained(self) -> bool:
        """The response is complete and every chunk of its body was taken."""
        return self.complete and not self.chunks

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and not self.paused and not self.sending

    async def drain(self) -> None:
        """Wait while the upstream has not read what was written (the transport's buffer is full)."""
        while self.write_paused and not self.closed:
            self.drain_waiter = waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self.drain_waiter = None

    def body_sent(self) -> None:
        """The request body is all written: waits for the answer are timed from now on."""
        self.sending = False
        if self.waiter is not None and not self.waiter.done():
            self.watch.watch(self, self.loop)

    def _ends_with_close(self) -> bool:
        names = {name.lower() for name, _ in self.raw_headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        if self.error is not None:
            raise self.error
        loop = self.loop
        self.waiter = waiter = loop.create_future()
        if not self.sending:  # an upload may take longer than the read timeout: the timing starts after it
            self.watch.watch(self, loop)
        try:
            await waiter
        finally:
            self.watch.waiting.discard(self)
            self.waiter = None
        if self.error is not None:
            raise self.error


class UpstreamPool:
    """Keep-alive connections to one upstream origin, at most ``limit`` in use at a time."""

    def __init__(
        self, upstream: str, connect_timeout: float, read_timeout: float, limit: int = 256, max_idle: int = MAX_IDLE
    ) -> None:
        parts = urlsplit(upstream)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.read_watch = ReadWatch(read_timeout)
        self.buffer = bytearray(READ_BUFFER)  # shared by the pool's connections: see Response
        self.max_idle = max_idle
        self.idle: list[Response] = []
        self.slots = asyncio.Semaphore(limit)

    async def get(self, head: bytes) -> Response:
        """Send a request ``head`` (no body) and return once the response headers are in."""
        return await self.request(head)

    async def request(self, head: bytes, body: bytes = b"", resend: bool = True, head_only: bool = False) -> Response:
        """Send ``head`` and ``body`` (``head`` carries its Content-Length); return once the response headers are in.

        With ``resend=False`` a kept connection that turns out closed raises ``UpstreamClosed`` instead of
        sending the request again: the upstream may have acted on it before closing. ``head_only``: the
        request is a HEAD, so the response ends with its headers.
        """
        message = head + body if body else head
        await self.slots.acquire()
        try:
            while self.idle:
                connection = self.idle.pop()
                if connection.closed:
                    continue
                try:
                    return await self._send(connection, message, head_only)
                except UpstreamClosed:
                    if connection.received or not resend:
                        raise  # the upstream did answer, badly, or a second try is not safe
                    # closed while it sat idle: try the next one
            return await self._send(await self._connect(), message, head_only)
        except BaseException:
            self.slots.release()
            raise

    async def stream(self, head: bytes, body: AsyncIterator[bytes], chunked: bool) -> Response:
        """Send ``head``, then ``body`` piece by piece as it comes (chunk-framed when ``chunked``, else
        ``head`` carries its Content-Length); return once the response headers are in, which may be
        before the body is all sent. Never sent twice: the body is read once.

        The body is written by a task of its own, paced by the upstream's reading (``drain``). When
        ``body`` raises (``RequestBodyCut``: the visitor went away) the connection is aborted and the
        wait for the answer fails with that error.
        """
        await self.slots.acquire()
        try:
            connection = await self._reusable_or_new()
            connection.sending = True
            connection.transport.write(head)  # type: ignore[union-attr]
            connection.pump = asyncio.get_running_loop().create_task(self._pump(connection, body, chunked))
            try:
                await connection.wait_for_headers()
            except BaseException:
                connection.pump.cancel()
                if connection.transport is not None:
                    connection.transport.close()
                raise
            return connection
        except BaseException:
            self.slots.release()
            raise

    def release(self, response: Response) -> None:
        """Done with ``response``: its connection goes back to the pool when it can carry another request."""
        self.slots.release()
        if response.pump is not None and not response.pump.done():
            response.pump.cancel()  # the answer ended before the upload: the connection cannot be kept
        if response.reusable and len(self.idle) < self.max_idle:
            response._reset()
            self.idle.append(response)
        elif response.transport is not None and not response.closed:
            response.transport.close()

    def close(self) -> None:
        for connection in self.idle:
            if connection.transport is not None:
                connection.transport.close()
        self.idle.clear()

    async def _connect(self) -> Response:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: Response(self.read_watch, self.buffer),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except TimeoutError:
            raise TimeoutError("upstream connect timed out") from None
        return connection

    async def _reusable_or_new(self) -> Response:
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed:
                return connection
        return await self._connect()

    @staticmethod
    async def _pump(connection: Response, body: AsyncIterator[bytes], chunked: bool) -> None:
        transport = connection.transport
        assert transport is not None
        try:
            async for piece in body:
                if connection.closed:
                    return
                if piece:
                    transport.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
                    await connection.drain()
            if chunked:
                transport.write(b"0\r\n\r\n")
        except Exception as error:
            connection._fail(error if isinstance(error, RequestBodyCut) else UpstreamClosed(f"request body: {error}"))
            transport.abort()
            return
        connection.body_sent()

    async def _send(self, connection: Response, head: bytes, head_only: bool = False) -> Response:
        connection.head_only = head_only
        connection.transport.write(head)  # type: ignore[union-attr]
        try:
            await connection.wait_for_headers()
        except BaseException:
            if connection.transport is not None:
                connection.transport.close()
            raise
        return connection
