"""Font CDN files kept by the gateway: the vendor cache with the rules of fonts.

A stylesheet host may answer with CSS, a file host with a font; nothing else
is kept or served (no scripts, no SVG, no HTML on the site's origin). A
stylesheet is made first-party (``gateway.fonts.stylesheet``) before it is
kept, so a cached copy never names the vendor.

The request to the vendor carries no visitor data: no cookies, no address,
and not the visitor's User-Agent but a fixed one per browser family. Google
Fonts writes its CSS for the User-Agent it sees (WOFF2 with unicode-range
subsets for current browsers, WOFF for Internet Explorer); every browser in
use reads WOFF2, so one family ("woff2") serves nearly everyone and the
cache holds one copy per stylesheet, and Internet Explorer 9-11 get the
"woff" family, the only one whose CSS differs in a way they need. The
visitor's own User-Agent would tell the vendor more than the family and
split the cache by browser version for nothing.
"""

from __future__ import annotations

import functools

from gateway.fonts.hosts import FontHosts
from gateway.fonts.stylesheet import first_party_stylesheet
from gateway.http.vendor import CachedCopy, LazySession, VendorCache, VendorUnavailable
from gateway.metrics.registry import Registry

MAX_FILE = 8 * 1024 * 1024  # the largest CJK fonts are a few MB; stylesheets a few hundred kB
TTL = 24 * 3600.0
MAX_ENTRIES = 2048
MAX_BYTES = 64 * 1024 * 1024

USER_AGENTS = {
    "woff2": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "woff": "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
}
FONT_TYPES = {
    "font/woff2": "font/woff2",
    "font/woff": "font/woff",
    "font/ttf": "font/ttf",
    "font/otf": "font/otf",
    "font/sfnt": "font/sfnt",
    "font/collection": "font/collection",
    "application/font-woff2": "font/woff2",
    "application/font-woff": "font/woff",
    "application/x-font-woff": "font/woff",
    "application/x-font-ttf": "font/ttf",
    "application/x-font-truetype": "font/ttf",
    "application/x-font-opentype": "font/otf",
    "application/font-sfnt": "font/sfnt",
    "application/vnd.ms-fontobject": "application/vnd.ms-fontobject",
}
# Some CDNs label fonts as bytes: then the file's extension names the type.
BY_EXTENSION = {
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
}
GENERIC_TYPES = ("application/octet-stream", "binary/octet-stream")
CSS_TYPE = "text/css; charset=utf-8"


def browser_family(user_agent: str) -> str:
    """``woff`` for Internet Explorer (no WOFF2), ``woff2`` for every other browser."""
    return "woff" if "Trident/" in user_agent or "MSIE " in user_agent else "woff2"


class FontCache:
    """Stylesheets (per browser family) and font files of the catalogued CDNs, bounded, stale on error."""

    def __init__(self, hosts: FontHosts, metrics: Registry, timeout: float = 5.0) -> None:
        self.hosts = hosts
        self.sessions = LazySession(limit=32, timeout=timeout)
        fetches = metrics.counter(
            "gateway_font_fetches_total",
            "Font CDN stylesheets and files fetched from the vendor, by outcome.",
            ["outcome"],
        )
        self.cache = VendorCache(
            self.sessions.get,
            lambda outcome: fetches.inc(outcome=outcome),
            ttl=TTL,
            timeout=timeout,
            prepare=refuse,
            max_size=MAX_FILE,
            max_entries=MAX_ENTRIES,
            max_bytes=MAX_BYTES,
        )

    async def get(self, host: str, url: str, vendor_url: str, user_agent: str) -> CachedCopy:
        """The copy of ``url`` (``vendor_url`` unless a mirror stands in for the host)."""
        family = browser_family(user_agent) if self.hosts.is_stylesheet(host, vendor_url) else "woff2"
        prepare = functools.partial(self.prepare, host, vendor_url)
        key = f"{family} {url}"
        return await self.cache.get(url, key, {"User-Agent": USER_AGENTS[family]}, prepare=prepare)

    def prepare(self, host: str, vendor_url: str, url: str, body: bytes, content_type: str) -> tuple[bytes, str]:
        kind = content_type.partition(";")[0].strip().lower()
        if kind == "text/css" and host in self.hosts.stylesheet_hosts:
            css = body.decode("utf-8", "surrogateescape")
            return first_party_stylesheet(css, vendor_url, self.hosts).encode("utf-8", "surrogateescape"), CSS_TYPE
        if host in self.hosts.file_hosts:
            if kind in FONT_TYPES:
                return body, FONT_TYPES[kind]
            path = vendor_url.partition("?")[0].lower()
            extension = next((e for e in BY_EXTENSION if path.endswith(e)), None)
            if kind in GENERIC_TYPES and extension is not None:
                return body, BY_EXTENSION[extension]
        raise VendorUnavailable(f"{url}: {content_type or 'no type'} is not served from {host}")

    async def close(self) -> None:
        await self.sessions.close()


def refuse(url: str, body: bytes, content_type: str) -> tuple[bytes, str]:
    raise VendorUnavailable(f"{url}: fonts are kept only through FontCache.get")
