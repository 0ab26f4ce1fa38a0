"""Tracker scripts served first-party: fetched from the vendor, cached, served from the gateway.

Loading gtag.js or matomo.js from the site's own origin means the browser
never connects to the vendor, so the vendor never sees the visitor's
address. The fetching and keeping is ``gateway.http.vendor``'s: one fetch
per URL at a time, kept for the TTL, the stale copy served while the vendor
fails.
"""

from __future__ import annotations

from gateway.collect.delivery import Delivery
from gateway.http.vendor import CachedCopy, VendorCache, VendorUnavailable
from gateway.metrics.registry import Registry

MAX_SCRIPT = 4 * 1024 * 1024
DEFAULT_TYPE = "application/javascript; charset=utf-8"
HEADERS = {"User-Agent": "consent-gateway"}

CachedScript = CachedCopy
ScriptUnavailable = VendorUnavailable


def as_script(url: str, body: bytes, content_type: str) -> tuple[bytes, str]:
    """A script is served as one, whatever type the vendor named."""
    if "javascript" not in content_type and "ecmascript" not in content_type:
        content_type = DEFAULT_TYPE
    return body, content_type


class ScriptCache:
    """Scripts by upstream URL, refreshed after ``ttl`` seconds, stale on error."""

    def __init__(self, delivery: Delivery, metrics: Registry, ttl: float, timeout: float) -> None:
        fetches = metrics.counter(
            "gateway_collect_script_fetches_total", "Tracker scripts fetched from the vendor, by outcome.", ["outcome"]
        )
        self.cache = VendorCache(
            delivery.session,
            lambda outcome: fetches.inc(outcome=outcome),
            ttl=ttl,
            timeout=timeout,
            prepare=as_script,
            max_size=MAX_SCRIPT,
            max_entries=256,  # one per measurement id and Matomo file: the configured ids bound it
        )

    async def get(self, url: str) -> CachedScript:
        return await self.cache.get(url, headers=HEADERS)
