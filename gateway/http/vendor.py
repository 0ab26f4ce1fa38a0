"""Files of a vendor served by the gateway: fetched from the vendor, cached, served from the site's origin.

A file is fetched once per key at a time (concurrent requests wait for the
same fetch), kept for the TTL, and when a refresh fails the stale copy is
served until the vendor answers again. The cache is bounded by entries and
by bytes (least recently used out first), each file by a size limit, and
the number of fetches under way at once is bounded too. What a file may be
is the caller's to say (``prepare``): it sees every body before it is kept,
and refuses one by raising ``VendorUnavailable``.

The request to the vendor carries nothing of the visitor: no cookies (the
session keeps none), no address, only the headers the caller fixes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.http.lazy import lazy_module

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_module("aiohttp")


logger = logging.getLogger("gateway.http.vendor")

RETRY_AFTER_FAILURE = 30.0  # seconds a stale copy is served before the vendor is asked again


@dataclass(frozen=True)
class CachedCopy:
    body: bytes
    content_type: str
    fetched_at: float
    fresh_until: float


class VendorUnavailable(Exception):
    """The vendor did not deliver the file (or delivered one that is refused) and no copy is cached."""


# (url, body, content type as sent) -> (body, content type) to keep; raises VendorUnavailable to refuse.
Prepare = Callable[[str, bytes, str], tuple[bytes, str]]


class LazySession:
    """One pooled client session, made on first use inside the running loop; keeps no cookies."""

    def __init__(self, limit: int = 100, timeout: float = 5.0) -> None:
        self.limit = limit
        self.seconds = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._loop = loop  # a session of a loop that is gone (a test client's) cannot be reused
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=self.seconds),
                skip_auto_headers=("User-Agent",),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),  # a vendor's cookies must never reach the next request
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class VendorCache:
    """Vendor files by key (the URL, unless the caller says otherwise), refreshed after ``ttl`` seconds,
    stale on error, bounded by ``max_entries`` and ``max_bytes``; ``count(outcome)`` counts fetches."""

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        count: Callable[[str], None],
        *,
        ttl: float,
        timeout: float,
        prepare: Prepare,
        max_size: int,
        max_entries: int = 1024,
        max_bytes: int = 64 * 1024 * 1024,
        max_fetching: int = 64,
    ) -> None:
        self.session = session
        self.count = count
        self.ttl = ttl
        self.seconds = timeout
        self.prepare = prepare
        self.max_size = max_size
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_fetching = max_fetching
        self.entries: OrderedDict[str, CachedCopy] = OrderedDict()
        self.size = 0  # bytes of every body in ``entries``
        self.in_flight: dict[str, asyncio.Future[CachedCopy]] = {}

    async def get(
        self,
        url: str,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        prepare: Prepare | None = None,
    ) -> CachedCopy:
        """The copy of ``url`` (kept under ``key``), fetched with ``headers`` when there is no fresh one
        and checked by ``prepare`` (the cache's own unless given)."""
        key = url if key is None else key
        cached = self.entries.get(key)
        if cached is not None and time.monotonic() < cached.fresh_until:
            self.entries.move_to_end(key)
            return cached
        pending = self.in_flight.get(key)
        if pending is None:
            if len(self.in_flight) >= self.max_fetching and cached is None:
                raise VendorUnavailable(f"{url}: too many fetches under way")
            pending = self.in_flight[key] = asyncio.ensure_future(
                self._refresh(url, key, cached, headers or {}, prepare or self.prepare)
            )
            pending.add_done_callback(lambda _: self.in_flight.pop(key, None))
        # Shielded: a visitor who goes away does not cancel the fetch the others wait for.
        return await asyncio.shield(pending)

    async def _refresh(
        self, url: str, key: str, stale: CachedCopy | None, headers: Mapping[str, str], prepare: Prepare
    ) -> CachedCopy:
        try:
            body, content_type = prepare(url, *await self._fetch(url, headers))
        except Exception as error:  # any failure: the stale copy, if there is one
            logger.warning("fetching %s failed: %s", url, error)
            self.count("failed")
            if stale is None:
                raise VendorUnavailable(url) from None
            retry_at = time.monotonic() + min(self.ttl, RETRY_AFTER_FAILURE)
            return self._keep(key, CachedCopy(stale.body, stale.content_type, stale.fetched_at, retry_at))
        self.count("fetched")
        now = time.monotonic()
        return self._keep(key, CachedCopy(body, content_type, now, now + self.ttl))

    def _keep(self, key: str, copy: CachedCopy) -> CachedCopy:
        old = self.entries.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        if len(copy.body) > self.max_bytes:
            return copy  # served this once, never kept: it would push out everything else
        self.entries[key] = copy
        self.size += len(copy.body)
        while len(self.entries) > self.max_entries or self.size > self.max_bytes:
            _, evicted = self.entries.popitem(last=False)
            self.size -= len(evicted.body)
        return copy

    async def _fetch(self, url: str, headers: Mapping[str, str]) -> tuple[bytes, str]:
        sent = {"Accept-Encoding": "identity", **headers}
        async with self.session().get(
            url, headers=sent, timeout=aiohttp.ClientTimeout(total=self.seconds), allow_redirects=False
        ) as response:
            if response.status != 200:
                raise VendorUnavailable(f"{url} answered {response.status}")
            body = bytearray()
            async for chunk in response.content.iter_any():  # read(n) would stop at the first chunk
                body += chunk
                if len(body) > self.max_size:
                    raise VendorUnavailable(f"{url} is larger than {self.max_size} bytes")
            return bytes(body), response.headers.get("content-type", "")
