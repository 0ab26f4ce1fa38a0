"""The discovery table: which third parties and cookies each site's pages use, aggregated.

Pages passing the gateway, the banner's cookie report and ``consent-gateway
scan`` all produce ``Sighting`` keys; the store adds up how many pages each
was seen on, with the first and last time. No visitor data is kept: a row
says "www.cursus.nl loads scripts from www.youtube.com", never who saw it.
The table is bounded: once a site has ``SITE_LIMIT`` rows, new names for it
are refused (the rows it has keep counting), so a visitor who invents hosts
or cookie names cannot grow it without end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SITE_LIMIT = 2000  # rows per site
# The kinds of a row: the element that loads a host, or "cookie" for a cookie name.
HOST_KINDS = ("script", "iframe", "image", "stylesheet", "font", "media", "object", "link", "beacon", "connection")
COOKIE = "cookie"
KINDS = (*HOST_KINDS, COOKIE)
# Who saw it: the page rewriter, an upstream Set-Cookie, the banner (document.cookie), a scan.
SOURCES = ("page", "set-cookie", "banner", "scan")
MAX_NAME = 253  # a DNS name's length; longer names are not stored


@dataclass(frozen=True, slots=True)
class Sighting:
    """The key of one discovery row: a third-party host or a cookie name seen on a site."""

    site: str  # the site's host name, lowercase, without port ("www.cursus.nl")
    kind: str  # one of KINDS
    name: str  # the third-party host, or the cookie's name
    service: str | None  # the catalogued service it belongs to; None: unknown


@dataclass(frozen=True, slots=True)
class Discovered:
    """One discovery row: a sighting, on how many pages, first and last seen, and by what."""

    site: str
    kind: str
    name: str
    service: str | None
    pages: int
    first_seen: datetime
    last_seen: datetime
    source: str  # the source that saw it first (one of SOURCES)


@dataclass(frozen=True, slots=True)
class ScanRun:
    """One finished ``consent-gateway scan`` of a site."""

    site: str
    finished_at: datetime
    pages: int  # pages read
    mode: str  # "chromium" (scripts ran) or "static" (HTML only)


def storable(sighting: Sighting) -> bool:
    """Is this sighting fit to store (a known kind, names of sane length)?"""
    return (
        sighting.kind in KINDS
        and 0 < len(sighting.name) <= MAX_NAME
        and 0 < len(sighting.site) <= MAX_NAME
        and (sighting.service is None or len(sighting.service) <= MAX_NAME)
    )


def site_name(host: str) -> str:
    """The site a ``Host`` value names, as the table keys it: lowercase, without port or trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]" if "]" in host else ""
    return host.partition(":")[0].rstrip(".")
