"""Tracker scripts served first-party: fetched from the vendor, cached, served from the gateway.

Loading gtag.js or matomo.js from the site's own origin means the browser
never connects to the vendor, so the vendor never sees the visitor's
address. A script is fetched once per URL at a time (concurrent requests
wait for the same fetch), kept for the TTL, and when a refresh fails the
stale copy is served until the vendor answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import aiohttp

from gateway.collect.delivery import Delivery
from gateway.metrics.registry import Registry

logger = logging.getLogger("gateway.collect")

MAX_SCRIPT = 4 * 1024 * 1024
RETRY_AFTER_FAILURE = 30.0  # seconds a stale copy is served before the vendor is asked again
DEFAULT_TYPE = "application/javascript; charset=utf-8"


@dataclass(frozen=True)
class CachedScript:
    body: bytes
    content_type: str
    fetched_at: float
    fresh_until: float


class ScriptUnavailable(Exception):
    """The vendor did not deliver the script and no copy is cached."""


class ScriptCache:
    """Scripts by upstream URL, refreshed after ``ttl`` seconds, stale on error."""

    def __init__(self, delivery: Delivery, metrics: Registry, ttl: float, timeout: float) -> None:
        self.delivery = delivery
        self.ttl = ttl
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.entries: dict[str, CachedScript] = {}
        self.in_flight: dict[str, asyncio.Future[CachedScript]] = {}
        self.fetches = metrics.counter(
            "gateway_collect_script_fetches_total", "Tracker scripts fetched from the vendor, by outcome.", ["outcome"]
        )

    async def get(self, url: str) -> CachedScript:
        cached = self.entries.get(url)
        if cached is not None and time.monotonic() < cached.fresh_until:
            return cached
        pending = self.in_flight.get(url)
        if pending is None:
            pending = self.in_flight[url] = asyncio.ensure_future(self._refresh(url, cached))
            pending.add_done_callback(lambda _: self.in_flight.pop(url, None))
        # Shielded: a visitor who goes away does not cancel the fetch the others wait for.
        return await asyncio.shield(pending)

    async def _refresh(self, url: str, stale: CachedScript | None) -> CachedScript:
        try:
            body, content_type = await self._fetch(url)
        except Exception as error:  # any failure: the stale copy, if there is one
            logger.warning("collect: fetching %s failed: %s", url, error)
            self.fetches.inc(outcome="failed")
            if stale is None:
                raise ScriptUnavailable(url) from None
            now = time.monotonic()
            retry_at = now + min(self.ttl, RETRY_AFTER_FAILURE)
            kept = CachedScript(stale.body, stale.content_type, stale.fetched_at, retry_at)
            self.entries[url] = kept
            return kept
        self.fetches.inc(outcome="fetched")
        now = time.monotonic()
        entry = self.entries[url] = CachedScript(body, content_type, now, now + self.ttl)
        return entry

    async def _fetch(self, url: str) -> tuple[bytes, str]:
        headers = {"Accept-Encoding": "identity", "User-Agent": "consent-gateway"}
        async with self.delivery.session().get(
            url, headers=headers, timeout=self.timeout, allow_redirects=False
        ) as response:
            if response.status != 200:
                raise ScriptUnavailable(f"{url} answered {response.status}")
            body = await response.content.read(MAX_SCRIPT + 1)
            if len(body) > MAX_SCRIPT:
                raise ScriptUnavailable(f"{url} is larger than {MAX_SCRIPT} bytes")
            content_type = response.headers.get("content-type", DEFAULT_TYPE)
            if "javascript" not in content_type and "ecmascript" not in content_type:
                content_type = DEFAULT_TYPE
            return body, content_type
