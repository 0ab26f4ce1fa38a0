"""What a rewritten page tells discovery: the third-party hosts it loads, by element kind and service.

The rewriter judges every URL a page makes the browser fetch; when discovery
is on it also notes, once per page, each third-party host with the kind of
element that loads it (``gateway.store.discovery.HOST_KINDS``) and the
catalogued service it belongs to. The site's own hosts are left out, and
nothing about the visitor is looked at. The set is frozen with the rewritten
page (``gateway.pages.cache.RewrittenPage.seen``), so a page served again
from the page cache is counted with one dictionary update.
"""

from __future__ import annotations

from gateway.discovery.tally import PageSeen, Seen, page_seen
from gateway.net.urls import Target
from gateway.trackers.thirdparty import ThirdParties

__all__ = ["BY_FETCH", "PageSeen", "Seen", "element_kind", "page_seen", "third_party_seen"]

# The rewriter's fetch kinds (which catalogue patterns apply) as discovery kinds, where the element says no more.
BY_FETCH = {"script": "script", "frame": "iframe", "image": "image", "other": "link"}
# Hints that only open a connection; other link relations by what they load.
CONNECTION_RELS = frozenset({"preconnect", "dns-prefetch"})
PRELOADED = {"font": "font", "script": "script", "style": "stylesheet", "image": "image", "audio": "media"}
PRELOADED |= {"video": "media", "track": "media", "document": "iframe", "fetch": "connection"}
MEDIA_ELEMENTS = frozenset({b"video", b"audio", b"track"})
OBJECT_ELEMENTS = frozenset({b"object", b"embed"})


def element_kind(
    name: bytes, attribute: bytes, fetch: str, rel: str = "", preload_as: str = "", tiny: bool = False
) -> str:
    """The discovery kind of what element ``name`` loads through ``attribute``.

    ``fetch`` is the rewriter's kind for it; ``rel`` and ``preload_as`` are a
    ``<link>``'s relations and ``as`` (lower case); ``tiny`` says an image is
    declared 1x1 or 0x0 (a web beacon)."""
    if name == b"link" and attribute == b"href":
        rels = rel.split()
        if "stylesheet" in rels:
            return "stylesheet"
        if CONNECTION_RELS.intersection(rels):
            return "connection"
        if "modulepreload" in rels:
            return "script"
        return PRELOADED.get(preload_as, "link") if preload_as else "link"
    if tiny:
        return "beacon"
    if fetch == "image" or attribute == b"poster":
        return "image"
    if name in MEDIA_ELEMENTS or (name == b"source" and attribute == b"src"):
        return "media"
    if name in OBJECT_ELEMENTS:
        return "object"
    return BY_FETCH.get(fetch, "link")


def third_party_seen(third_parties: ThirdParties, target: Target, fetch: str, kind: str, site_host: str) -> Seen | None:
    """One request the page makes, as discovery notes it; ``None`` for the site's own hosts.

    For requests seen outside the rewriter (a scan in Chromium); the rewriter does the same
    with the judgement it has already made (``Rewriter._sight``)."""
    if not target.host or third_parties.is_same_site(target.host, site_host):
        return None
    hold = third_parties.judge(target, fetch, site_host)
    service = hold.service if hold is not None else None
    if service is None:
        service = third_parties.catalogue.match_host(target.host)
    return (kind, target.host, service.id if service is not None else None)
