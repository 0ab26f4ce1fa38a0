"""Which font CDN URLs the gateway serves, and where on the gateway: ``<prefix>/fonts/<host><path>``.

Only the exact hosts of the catalogue's ``fonts`` section are served, never
another one: the route is a mirror of those CDNs, not a fetcher for whoever
asks. A request names the host as a plain lowercase path segment (no
userinfo, no port, no trailing dot: those do not match any catalogued
host) and a path of plain segments: no empty, dot or dot-dot segments,
not even percent-encoded ones, and no encoded slashes or backslashes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from gateway.net.urls import Target
from gateway.settings import SettingsError
from gateway.trackers.catalogue import FontCDN

MAX_QUERY = 2048
MAX_PATH = 1024
# One path segment as a URL writes it: unreserved and sub-delimiter characters, percent escapes.
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+")
_QUERY = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@/?%|\[\]-]*")  # "|" and brackets: the browser leaves them
FONT_EXTENSIONS = (".woff2", ".woff", ".ttf", ".otf", ".eot")


class FontRequestError(Exception):
    """A request for something the font route does not serve; ``status`` is the 4xx to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FontHosts:
    """The catalogued font CDNs' hosts, the gateway path for each URL on them, and the way back."""

    def __init__(self, cdns: Iterable[FontCDN], prefix: str, mirrors: Iterable[str] = ()) -> None:
        cdns = tuple(cdns)
        self.stylesheet_hosts = frozenset(h for cdn in cdns for h in cdn.stylesheet_hosts)
        self.file_hosts = frozenset(h for cdn in cdns for h in cdn.file_hosts)
        self.hosts = self.stylesheet_hosts | self.file_hosts
        self.base = f"{prefix}/fonts/"
        self.origins = {host: f"https://{host}" for host in self.hosts}
        for mirror in mirrors:
            host, _, origin = mirror.partition("=")
            if host not in self.hosts:
                raise SettingsError(f"font_mirrors: {host!r} is not a font host of the catalogue")
            self.origins[host] = origin.rstrip("/")

    def local_url(self, target: Target | None) -> str | None:
        """Where the gateway serves ``target`` (a URL on a catalogued font host), else None."""
        if target is None or target.host not in self.hosts:
            return None
        return self.base + target.host + target.path + target.query

    def upstream(self, remainder: str, query: str) -> tuple[str, str]:
        """``(host, URL to fetch)`` for a request path after ``<prefix>/fonts/`` (still percent-encoded)
        and its query; raises ``FontRequestError`` for anything but a plain URL on a catalogued host."""
        host, slash, path = remainder.partition("/")
        if host not in self.hosts:
            raise FontRequestError(404, "unknown_host", "the gateway serves only the font CDNs of its catalogue")
        if not slash or not path or len(path) > MAX_PATH or not all(map(plain_segment, path.split("/"))):
            raise FontRequestError(400, "bad_path", "expected a plain path on the font host")
        if len(query) > MAX_QUERY or not _QUERY.fullmatch(query):
            raise FontRequestError(400, "bad_query", "the query is too long or not a plain URL query")
        return host, self.origins[host] + "/" + path + ("?" + query if query else "")

    def is_stylesheet(self, host: str, url: str) -> bool:
        """Could this URL be a stylesheet (so its content depends on the browser), not a font file?"""
        return host in self.stylesheet_hosts and not url.partition("?")[0].lower().endswith(FONT_EXTENSIONS)


def plain_segment(segment: str) -> bool:
    """A path segment that a server cannot read as another folder: no dots alone, no encoded separators."""
    if not _SEGMENT.fullmatch(segment):
        return False
    decoded = unquote(segment)
    return decoded not in (".", "..") and "/" not in decoded and "\\" not in decoded and "\x00" not in decoded
