"""Rewritten pages kept per worker, so a page served again is not rewritten again.

A learning site serves the same page bytes to many visitors; what the
rewriter makes of them depends only on those bytes and on what the visitor's
output may carry. The key is therefore a SHA-256 digest of the body exactly
as the site sent it (so a changed page is a new entry, never a stale one),
or, for a response any shared cache could store and serve to anyone, the
site's strong ``ETag`` and the body's length (``shared_validator``; hashing
a 150 KB page costs about 110 us here), together with everything else the output depends on: the content encoding,
the granted categories (after per-path policy), the request host (first- or
third-party images) and the path (the placeholder links back to it). Two
visitors with different grants never share an entry.

The injected ``<head>`` scripts are not stored for good: they carry a CSP
nonce that must be new for every response. An entry holds the output before
and after the injection point, and the injection is put back in per
response; the body as last sent (compressed, or joined with an injection
that carries no nonce) is kept beside it while it fits, so the same body is
not joined or compressed again.

Memory is bounded: entries are evicted least recently used first once their
bytes pass ``capacity``, and a page larger than ``max_page`` is never held.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from gateway.pages.sightings import PageSeen

# Overhead counted per entry beside its bytes (key, tuple, list, dict slot), so many tiny pages stay bounded too.
ENTRY_OVERHEAD = 512


@dataclass(slots=True)
class RewrittenPage:
    """One page as the rewriter made it, without the injected scripts."""

    before: bytes  # output up to where the injection goes (all of it when nothing is injected)
    after: bytes
    injects: bool  # false for a fragment: the rewriter placed no banner
    blocked: tuple[str, ...]  # service ids neutralised, replayed into the policy for metrics
    seen: PageSeen | None = None  # third parties the page loads, counted again for discovery on every hit
    encoded_injection: bytes | None = None  # the injection the encoded body below was made with
    # The body as sent (compressed, or joined with the injection), kept while the injection does not change (no nonce).
    encoded: bytes | None = None

    def body(self, injection: bytes) -> bytes:
        return self.before + injection + self.after if self.injects else self.before

    @property
    def size(self) -> int:
        return len(self.before) + len(self.after) + len(self.encoded or b"") + ENTRY_OVERHEAD


def page_key(
    raw_body: bytes, encoding: str, granted: frozenset[str], host: str, path: str, validator: bytes | None = None
) -> tuple:
    """What a rewritten page depends on; ``validator`` (from ``shared_validator``) stands in for the body's digest."""
    body = (validator, len(raw_body)) if validator else hashlib.sha256(raw_body).digest()
    return (body, encoding, granted, host, path)


@functools.lru_cache(maxsize=1024)
def shared_validator(
    etag: bytes, cache_control: bytes, vary: bytes, sets_cookies: bool, personal_request: bool
) -> bytes | None:
    """The strong ``ETag`` of a response a shared cache may store and hand to anyone; ``None`` otherwise.

    A strong ETag changes whenever the bytes do (RFC 9110, 8.8.3), so it can stand
    in for a digest of the body -- but only where a shared cache would rely on it
    too. A response that is private or uncacheable, varies by cookie or
    credentials, sets cookies, or answers a request carrying credentials or the
    site's own cookies may be personal, whatever its ETag says: those are keyed
    by their digest.
    """
    if not etag or etag.startswith(b"W/") or sets_cookies or personal_request:
        return None
    directives, varies = cache_control.lower(), vary.lower()
    if b"private" in directives or b"no-store" in directives or b"no-cache" in directives:
        return None
    if b"cookie" in varies or b"authorization" in varies or b"*" in varies:
        return None
    return etag


@functools.lru_cache(maxsize=1024)
def reusable(validated: bool, cache_control: bytes, sets_cookies: bool) -> bool:
    """Could a cache serve this response's bytes again? Only then is a page worth keeping.

    ``validated``: the response has an ``ETag`` or ``Last-Modified``. A page that
    has neither, says ``no-store`` or ``private`` or sets a cookie is made for one
    request (a course page with a session key, a CSRF token, the learner's name):
    hashing and storing it would only push reusable pages out of the cache, so it
    is rewritten as it streams and forgotten.
    """
    directives = cache_control.lower()
    return validated and not sets_cookies and b"no-store" not in directives and b"private" not in directives


class PageCache:
    """A least-recently-used map of ``page_key`` to ``RewrittenPage``, bounded in bytes."""

    def __init__(self, capacity: int, max_page: int | None = None) -> None:
        self.capacity = capacity
        # A quarter of the capacity at most, so one page never flushes the rest.
        self.max_page = min(max_page if max_page is not None else 1024 * 1024, capacity // 4)
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._pages: OrderedDict[tuple, RewrittenPage] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.max_page > 0

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: tuple) -> RewrittenPage | None:
        page = self._pages.get(key)
        if page is None:
            self.misses += 1
            return None
        self._pages.move_to_end(key)
        self.hits += 1
        return page

    def put(self, key: tuple, page: RewrittenPage) -> None:
        if page.size > self.max_page + ENTRY_OVERHEAD:
            return
        old = self._pages.pop(key, None)
        if old is not None:
            self.size -= old.size
        self._pages[key] = page
        self.size += page.size
        self._evict()

    def remember_encoded(self, key: tuple, page: RewrittenPage, injection: bytes, encoded: bytes) -> None:
        """Keep the body of ``page`` as sent with ``injection`` (compressed or not), when it still fits."""
        if self._pages.get(key) is not page or page.encoded is not None:
            return
        if page.size + len(encoded) > self.max_page + ENTRY_OVERHEAD:
            return
        page.encoded_injection, page.encoded = injection, encoded
        self.size += len(encoded)
        self._evict()

    def _evict(self) -> None:
        while self.size > self.capacity and self._pages:
            _, page = self._pages.popitem(last=False)
            self.size -= page.size
