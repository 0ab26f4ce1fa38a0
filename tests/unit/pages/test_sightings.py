"""The page's third parties as the rewriter notes them for discovery (gateway.pages.sightings)."""

from __future__ import annotations

import pytest

from gateway.pages.rewrite import RewritePolicy, Rewriter
from gateway.pages.sightings import element_kind, page_seen
from gateway.trackers.catalogue import default_catalogue
from gateway.trackers.thirdparty import ThirdParties

SITE = "www.leerplein.nl"


def sightings(
    html: str,
    granted: frozenset[str] = frozenset({"functional"}),
    allowed: tuple[str, ...] = (),
    chunk: int | None = None,
) -> set:
    third_parties = ThirdParties(default_catalogue(), strict=True, allowed_hosts=allowed)
    policy = RewritePolicy(third_parties, granted, SITE + ":8443", sightings=set())
    rewriter = Rewriter(policy)
    body = html.encode()
    step = chunk or len(body) or 1
    for start in range(0, len(body), step):
        rewriter.feed(body[start : start + step])
    rewriter.finish()
    assert policy.sightings is not None
    return set(policy.third_parties_seen())


def test_hosts_by_element_kind_with_their_service() -> None:
    page = """<html><head>
    <script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>
    <link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Inter">
    <link rel="preconnect" href="https://fonts.gstatic.com">
    <link rel="preload" as="font" href="https://cdn.fonts.example/inter.woff2">
    <link rel="icon" href="https://icons.example/favicon.ico">
    </head><body>
    <iframe src="https://www.youtube.com/embed/abc"></iframe>
    <img src="https://pixel.example/p.gif" width="1" height="1">
    <img srcset="https://img.example/a.jpg 1x, https://img2.example/b.jpg 2x">
    <video src="https://media.example/v.mp4" poster="https://posters.example/p.jpg"></video>
    <object data="https://flash.example/x.swf"></object>
    <div style="background:url(https://bg.example/b.png)"></div>
    <meta http-equiv="refresh" content="5; url=https://elsewhere.example/">
    </body></html>"""
    assert sightings(page) == {
        ("script", "www.googletagmanager.com", "google-analytics"),
        ("stylesheet", "fonts.googleapis.com", None),
        ("connection", "fonts.gstatic.com", None),
        ("font", "cdn.fonts.example", None),
        ("link", "icons.example", None),
        ("iframe", "www.youtube.com", "youtube"),
        ("beacon", "pixel.example", None),
        ("image", "img.example", None),
        ("image", "img2.example", None),
        ("media", "media.example", None),
        ("image", "posters.example", None),
        ("object", "flash.example", None),
        ("stylesheet", "bg.example", None),
        ("link", "elsewhere.example", None),
    }


def test_own_hosts_and_relative_urls_are_not_third_parties() -> None:
    page = """<script src="/js/app.js"></script><img src="https://www.leerplein.nl/logo.png">
    <img src="https://static.leerplein.nl/a.png"><a href="https://twitter.com/x">no fetch</a>"""
    assert sightings(page) == set()


def test_allowed_granted_and_held_third_parties_all_count() -> None:
    page = '<script src="https://cdn.jsdelivr.net/npm/x.js"></script><script src="https://static.hotjar.com/c/hotjar-1.js"></script>'
    held = sightings(page)
    granted = sightings(page, frozenset({"functional", "analytics", "marketing", "other"}))
    allowed = sightings(page, allowed=("cdn.jsdelivr.net",))
    assert held == granted == allowed
    assert ("script", "static.hotjar.com", "hotjar") in held and ("script", "cdn.jsdelivr.net", None) in held


def test_an_inline_frame_document_counts_for_the_page() -> None:
    page = """<iframe srcdoc="<script src='https://connect.facebook.net/en_US/fbevents.js'></script>"></iframe>"""
    assert ("script", "connect.facebook.net", "meta-pixel") in sightings(page)


def test_any_chunking_gives_the_same_sightings() -> None:
    page = '<p>text</p><img src="https://a.example/x.png"><script src="https://b.example/y.js"></script>' * 3
    assert sightings(page, chunk=7) == sightings(page) == {("image", "a.example", None), ("script", "b.example", None)}


def test_nothing_is_collected_when_discovery_is_off() -> None:
    policy = RewritePolicy(ThirdParties(default_catalogue(), strict=True), frozenset(), SITE)
    Rewriter(policy).feed(b'<script src="https://b.example/y.js"></script>')
    assert policy.sightings is None


@pytest.mark.parametrize(
    ("name", "attribute", "fetch", "rel", "preload_as", "tiny", "kind"),
    [
        (b"link", b"href", "other", "dns-prefetch", "", False, "connection"),
        (b"link", b"href", "other", "modulepreload", "", False, "script"),
        (b"link", b"href", "other", "preload", "style", False, "stylesheet"),
        (b"link", b"href", "other", "manifest", "", False, "link"),
        (b"source", b"src", "other", "", "", False, "media"),
        (b"source", b"srcset", "image", "", "", False, "image"),
        (b"embed", b"src", "frame", "", "", False, "object"),
        (b"img", b"src", "image", "", "", True, "beacon"),
        (b"frame", b"src", "frame", "", "", False, "iframe"),
    ],
)
def test_element_kinds(name, attribute, fetch, rel, preload_as, tiny, kind) -> None:
    assert element_kind(name, attribute, fetch, rel, preload_as, tiny) == kind


def test_a_page_key_is_its_site_and_frozen_sightings() -> None:
    assert page_seen(SITE, None) is None and page_seen(SITE, set()) is None
    key = page_seen(SITE, {("script", "b.example", None)})
    assert key == (SITE, frozenset({("script", "b.example", None)}))


def test_a_font_cdn_served_first_party_is_still_a_third_party_the_site_uses() -> None:
    def fonts(target):
        return f"/_consent/fonts/{target.host}{target.path}" if target and target.host.startswith("fonts.") else None

    third_parties = ThirdParties(default_catalogue(), strict=True)
    policy = RewritePolicy(third_parties, frozenset(), SITE, sightings=set(), fonts=fonts)
    rewriter = Rewriter(policy)
    out = rewriter.feed(
        b'<link rel="preconnect" href="https://fonts.gstatic.com">'
        b'<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Inter">'
    )
    out += rewriter.finish()
    assert b'href="/_consent/fonts/fonts.googleapis.com/css2"' in out
    assert {(kind, host) for kind, host, _ in policy.third_parties_seen()} == {
        ("connection", "fonts.gstatic.com"),
        ("stylesheet", "fonts.googleapis.com"),
    }
