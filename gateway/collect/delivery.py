"""Forwarding hits to the backends without ever making the browser wait.

A hit is put on a bounded queue and answered at once; a few worker tasks
send from the queue over keep-alive connections, one pool per backend
origin (the lean client of ``gateway.http.upstream``: a general-purpose client
costs about three times the CPU per hit, and GA4 cannot batch the hits of
different visitors). A connection found closed is not sent on again by the
pool, since the backend may have taken the hit; the retry below decides. A 5xx answer or a
connection error is retried with exponential backoff and full jitter, up to
the configured number of retries, then counted as failed. When a backend is
down the queue fills up to its bound and further hits are dropped (and
counted), so memory stays flat. On shutdown the queue is drained until a
deadline; what is left then is counted as dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gateway.http.lazy import lazy_module
from gateway.http.upstream import UpstreamClosed, UpstreamPool
from gateway.http.vendor import LazySession
from gateway.metrics.registry import Registry

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_module("aiohttp")

logger = logging.getLogger("gateway.collect")

BACKOFF_BASE = 0.2  # seconds before the first retry (on average)
BACKOFF_CAP = 10.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One request to a backend, ready to send."""

    backend: str
    method: str
    url: str
    body: bytes | None
    headers: tuple[tuple[str, str], ...]


class Delivery:
    """The bounded queue, its workers and the shared HTTP session."""

    def __init__(
        self,
        metrics: Registry,
        queue_size: int = 10_000,
        concurrency: int = 64,
        retries: int = 3,
        timeout: float = 5.0,
        drain_timeout: float = 5.0,
        backoff_base: float = BACKOFF_BASE,
    ) -> None:
        self.queue_size = queue_size
        self.concurrency = concurrency
        self.retries = retries
        self.seconds = timeout
        self._pools: dict[str, UpstreamPool] = {}  # by origin, e.g. "https://www.example.com:443"
        self._targets: dict[str, tuple[str, str]] = {}  # url up to the query -> (origin, request target)
        self.drain_timeout = drain_timeout
        self.backoff_base = backoff_base
        self.queue: asyncio.Queue[Outgoing] | None = None
        self.workers: list[asyncio.Task] = []
        self._sessions = LazySession(limit=concurrency * 2, timeout=timeout)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pools_loop: asyncio.AbstractEventLoop | None = None
        self.closing = False
        self.forwarded = metrics.counter(
            "gateway_collect_forwarded_total", "Analytics hits accepted by the backend.", ["backend"]
        )
        self.dropped = metrics.counter(
            "gateway_collect_dropped_total", "Analytics hits not forwarded, by reason.", ["backend", "reason"]
        )
        self.failed = metrics.counter(
            "gateway_collect_failed_total", "Analytics hits the backend did not take after every retry.", ["backend"]
        )
        self._forwarded: dict[str, Callable[[], None]] = {}
        self.retried = metrics.counter(
            "gateway_collect_retries_total", "Repeated attempts to deliver an analytics hit.", ["backend"]
        )
        self.queued = metrics.gauge("gateway_collect_queue_length", "Analytics hits waiting to be forwarded.")
        self.queued.set(0)

    @property
    def running(self) -> bool:
        return self.queue is not None

    def session(self) -> aiohttp.ClientSession:
        """The one pooled client session (made on first use, inside the running loop; keeps no cookies)."""
        return self._sessions.get()

    def pool(self, origin: str) -> UpstreamPool:
        """The keep-alive pool for one backend origin (made on first use, inside the running loop)."""
        loop = asyncio.get_running_loop()
        if self._pools_loop is not loop:  # a pool of a loop that is gone (a test client's) cannot be reused
            self._close_pools()
            self._pools_loop = loop
        pool = self._pools.get(origin)
        if pool is None:
            limit = max(self.concurrency, 1)
            pool = UpstreamPool(origin, self.seconds, self.seconds, limit=limit, max_idle=limit)
            self._pools[origin] = pool
        return pool

    async def start(self) -> None:
        self.ensure_started()

    def ensure_started(self) -> None:
        """Start the workers on start-up, or on the first hit when the server sends no lifespan."""
        loop = asyncio.get_running_loop()
        if self.queue is not None and self._loop is loop:
            return
        # First start, or a new event loop (a test client without lifespan): the old loop's tasks are gone.
        self._loop = loop
        self.closing = False
        self.queue = asyncio.Queue(self.queue_size)
        self.workers = [asyncio.create_task(self._work(), name=f"collect-{n}") for n in range(self.concurrency)]

    def submit(self, item: Outgoing) -> bool:
        """Queue ``item`` without waiting; False (and counted) when the queue is full or closing."""
        if self.closing:
            self.dropped.inc(backend=item.backend, reason="shutting_down")
            return False
        self.ensure_started()
        assert self.queue is not None
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped.inc(backend=item.backend, reason="queue_full")
            return False
        self.queued.set(self.queue.qsize())
        return True

    async def stop(self) -> None:
        """Send what is queued until the drain deadline, then stop; the rest is counted as dropped."""
        if self.queue is None:
            await self._close_session()
            return
        queue, self.closing = self.queue, True
        try:
            await asyncio.wait_for(queue.join(), self.drain_timeout)
        except TimeoutError:
            logger.warning("collect: %d hits left undelivered at shutdown", queue.qsize())
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        while not queue.empty():
            self.dropped.inc(backend=queue.get_nowait().backend, reason="shutdown")
        self.queue, self.workers = None, []
        self.queued.set(0)
        await self._close_session()

    def _close_pools(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    async def _close_session(self) -> None:
        self._close_pools()
        await self._sessions.close()

    async def _work(self) -> None:
        assert self.queue is not None
        queue = self.queue
        while True:
            item = await queue.get()
            self.queued.set(queue.qsize())
            try:
                await self.deliver(item)
            except asyncio.CancelledError:
                self.dropped.inc(backend=item.backend, reason="shutdown")
                queue.task_done()
                raise
            except Exception:  # a worker must survive anything one hit does
                logger.exception("collect: delivering to %s failed", item.backend)
                self.failed.inc(backend=item.backend)
            queue.task_done()

    async def deliver(self, item: Outgoing) -> None:
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried.inc(backend=item.backend)
                await asyncio.sleep(self.backoff(attempt))
            status = await self.send(item)
            if status is not None and status < 500:
                if status < 400:
                    self.count_forwarded(item.backend)
                else:  # the backend refused the hit: sending it again changes nothing
                    self.failed.inc(backend=item.backend)
                return
        self.failed.inc(backend=item.backend)

    def count_forwarded(self, backend: str) -> None:
        increment = self._forwarded.get(backend)
        if increment is None:  # checked once per backend: this runs for every hit
            increment = self._forwarded[backend] = self.forwarded.incrementer(backend=backend)
        increment()

    def backoff(self, attempt: int) -> float:
        """Full jitter: anywhere up to base * 2^(attempt-1), so retries of many hits spread out."""
        return random.uniform(0, min(BACKOFF_CAP, self.backoff_base * 2 ** (attempt - 1)) * 2)

    async def send(self, item: Outgoing) -> int | None:
        """The backend's status, or None when it could not be reached."""
        try:
            origin, head = self.request_head(item)
            pool = self.pool(origin)
            response = await pool.request(head, item.body or b"", resend=False)
        except (UpstreamClosed, TimeoutError, OSError, ValueError) as error:
            logger.debug("collect: %s unreachable: %s", item.backend, error)
            return None
        try:
            with contextlib.suppress(UpstreamClosed, TimeoutError, OSError):
                await response.read()
            return response.status
        finally:
            pool.release(response)

    def request_head(self, item: Outgoing) -> tuple[str, bytes]:
        """The backend origin and the request line and headers, as bytes."""
        base, question, query = item.url.partition("?")
        target = self._targets.get(base)
        if target is None:
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"not an http(s) URL: {base[:80]!r}")
            netloc = parts.netloc.rpartition("@")[2]  # never credentials in a Host header
            target = self._targets[base] = (f"{parts.scheme}://{netloc}", parts.path or "/")
        origin, path = target
        lines = [f"{item.method} {path}{question}{query} HTTP/1.1", "Host: " + origin.split("://", 1)[1]]
        lines += [f"{name}: {text}" for name, text in item.headers]
        if item.body is not None:
            lines.append(f"Content-Length: {len(item.body)}")
        head = "\r\n".join(lines)
        breaks = len(lines) - 1
        if head.count("\n") != breaks or head.count("\r") != breaks or " " in query:
            raise ValueError("a header or the URL holds a line break or a space")
        return origin, (head + "\r\n\r\n").encode()
