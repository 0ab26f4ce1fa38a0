"""``GET <prefix>/fonts/<host>/<path>``: a catalogued font CDN's stylesheet or font file, from the gateway.

4xx for anything that is not a plain URL on a catalogued font host (see
``gateway.fonts.hosts``), 502 when the vendor cannot deliver and no copy is
kept. Stylesheets vary with the browser family and are kept a day by the
browser; font files do not change under their URL and are kept a month.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from gateway.fonts.cache import CSS_TYPE, FontCache
from gateway.fonts.hosts import FontHosts, FontRequestError
from gateway.http.vendor import VendorUnavailable

STYLESHEET_CACHE = b"public, max-age=86400"
FILE_CACHE = b"public, max-age=2592000"


class FontEndpoint:
    """The font route as a pure ASGI app (GET and HEAD; the router refuses other methods)."""

    def __init__(self, hosts: FontHosts, cache: FontCache) -> None:
        self.hosts = hosts
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The path as the browser sent it: a decoded one would hide %2F and %2E%2E.
        raw = scope.get("raw_path") or quote(scope["path"]).encode()
        path = raw.decode("latin-1").partition("?")[0]
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            if not path.startswith(self.hosts.base):
                raise FontRequestError(400, "bad_path", "expected a plain path on the font host")
            host, url = self.hosts.upstream(path[len(self.hosts.base) :], query)
            vendor_url = f"https://{path[len(self.hosts.base) :]}" + (f"?{query}" if query else "")
            copy = await self.cache.get(host, url, vendor_url, Headers(scope=scope).get("user-agent", ""))
        except FontRequestError as error:
            await send_error(send, error.status, error.code, error.message)
            return
        except VendorUnavailable:
            await send_error(send, 502, "font_unavailable", "the font CDN did not deliver and no copy is kept")
            return
        stylesheet = copy.content_type == CSS_TYPE
        headers = [
            (b"content-type", copy.content_type.encode("latin-1")),
            (b"content-length", str(len(copy.body)).encode()),
            (b"cache-control", STYLESHEET_CACHE if stylesheet else FILE_CACHE),
            (b"x-content-type-options", b"nosniff"),
        ]
        if stylesheet:
            headers.append((b"vary", b"User-Agent"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else copy.body})


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
