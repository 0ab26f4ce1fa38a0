"""Rewritten start tags remembered across pages (gateway.pages.tagmemo): same pages out, fewer decisions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rewrite import FRAGMENTS

from gateway.pages.rewrite import RewritePolicy, Rewriter
from gateway.pages.tagmemo import TagMemo
from gateway.trackers.catalogue import default_catalogue
from gateway.trackers.thirdparty import ThirdParties

STRICT = ThirdParties(default_catalogue(), strict=True)
NOTHING = frozenset({"functional"})
ANALYTICS = frozenset({"functional", "analytics"})
ALL = frozenset({"functional", "analytics", "marketing", "other"})
SITE = "www.leerplein.nl"
PAGE = "https://www.leerplein.nl/les/1"
GA = b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
GA_INLINE = b"<script>window.dataLayer=[];gtag('config','G-1')</script>"
HARMLESS_INLINE = b"<script>document.body.className='js'</script>"
PIXEL = b"<img src=https://www.facebook.com/tr?id=1&ev=PageView width=1 height=1>"
VIDEO = b"<iframe src=https://www.youtube.com/embed/abc></iframe>"
# Tags whose rewriting reads more than the tag: the memo must leave them to the rewriter.
STATEFUL = [
    b"<base href=https://cdn.other.example/>",
    b"<base href=/sub/>",
    b"<img src=relative.png><img src=matomo.js>",
    b'<meta http-equiv=refresh content="0;url=https://www.youtube.com/embed/x">',
    b"<html lang=en>",
    b"<iframe srcdoc='<img src=https://www.facebook.com/tr?id=1 width=1 height=1>'></iframe>",
    b"<style>@import url(https://static.hotjar.com/c.css);</style>",
    b"<svg><style>@import url(https://static.hotjar.com/c.css)</style><script href=https://connect.facebook.net/x.js></script></svg>",
    b'<div style="background:url(https://www.facebook.com/tr?id=1)">',
    b"<link rel=preconnect href=https://static.hotjar.com>",
    b"<script src=https://snap.licdn.com/li.lms-analytics/insight.min.js></script>",
]


def rewrite(body: bytes, granted=NOTHING, memo: TagMemo | None = None, chunks=(), page=PAGE, head=b""):
    policy = RewritePolicy(
        STRICT,
        granted,
        SITE,
        head_injection=head,
        placeholder=lambda held, language=None: f"blocked {getattr(held, 'id', held)} {language}",
        page_url=page,
        sightings=set(),
        memo=memo,
    )
    rewriter, out, start = Rewriter(policy), [], 0
    for size in chunks:
        out.append(rewriter.feed(body[start : start + size]))
        start += size
    out += [rewriter.feed(body[start:]), rewriter.finish()]
    return b"".join(out), policy.blocked, policy.sightings


documents = st.lists(
    st.sampled_from([*FRAGMENTS, *STATEFUL, GA, GA_INLINE, HARMLESS_INLINE, PIXEL, VIDEO]), max_size=12
).map(b"".join)
grants = st.sampled_from([NOTHING, ANALYTICS, ALL])
pages = st.sampled_from(["https://www.leerplein.nl/les/1", "https://www.leerplein.nl/a/b/c", "http://leerplein.nl/"])
chunkings = st.lists(st.integers(min_value=1, max_value=60), max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(documents, grants, pages), min_size=1, max_size=4), documents, grants, pages, chunkings)
def test_a_warm_memo_gives_what_deciding_afresh_gives(earlier, body, granted, page, chunks) -> None:
    """Output, what was neutralised and what discovery noted are the same with a memo warmed by
    other pages (other grants, other paths), by the same page, and with none at all."""
    memo = TagMemo()
    for other, other_granted, other_page in earlier:
        rewrite(other, other_granted, memo, page=other_page)
    for _ in range(2):  # the same tags again: kept the second time, from the memo the third
        rewrite(body, granted, memo, page=page)
    banner = b"<script src=/_consent/banner.js></script>"
    assert rewrite(body, granted, memo, chunks, page, banner) == rewrite(body, granted, None, chunks, page, banner)


def test_repeated_tags_are_decided_twice_and_still_held() -> None:
    memo = TagMemo()
    page = b"<html><head>" + GA + b"</head><body>" + PIXEL + VIDEO + b"</body></html>"
    first = rewrite(page, memo=memo)
    assert len(memo) == 0  # offered once: nothing kept yet
    second = rewrite(page, memo=memo)
    remembered = len(memo)
    third = rewrite(page, memo=memo)
    assert remembered >= 2 and len(memo) == remembered  # the script and the pixel, not the iframe
    assert first == second == third
    assert b'type="text/plain"' in third[0] and b"data-consent-src=https://www.facebook.com/tr" in third[0]
    assert third[1].count("google-analytics") + third[1].count("google-tag-manager") >= 1


def test_tags_new_on_every_page_are_never_kept() -> None:
    """A session key in a link or a script makes a tag of its own on every page: the memo keeps the rest."""
    memo = TagMemo(size=64)
    for n in range(300):
        key = b"%032x" % n
        page = (
            GA + b'<a href="/logout.php?sesskey=' + key + b'">Uit</a><script>M.cfg={"sesskey":"' + key + b'"}</script>'
        )
        out, blocked, _ = rewrite(page, memo=memo)
        assert out.endswith(page[len(GA) :]) and blocked
        assert len(memo) <= 1  # only the tag manager's script, from the second page on
    assert len(memo) == 1


def test_grants_are_part_of_the_key() -> None:
    memo = TagMemo()
    for _ in range(2):  # kept from the second time on
        rewrite(GA + PIXEL, NOTHING, memo)
    assert rewrite(GA + PIXEL, ALL, memo)[0] == GA + PIXEL
    assert b"text/plain" in rewrite(GA + PIXEL, NOTHING, memo)[0]


def test_inline_scripts_are_decided_by_their_body() -> None:
    memo = TagMemo()
    for _ in range(3):
        assert b"text/plain" in rewrite(GA_INLINE, memo=memo)[0]
        assert rewrite(HARMLESS_INLINE, memo=memo)[0] == HARMLESS_INLINE
    assert len(memo) == 2


def test_a_base_elsewhere_changes_what_relative_urls_are() -> None:
    memo = TagMemo()
    tag = b"<img src=pixel.gif width=1 height=1>"
    assert rewrite(tag, memo=memo)[0] == tag  # the site's own pixel
    moved, blocked, _ = rewrite(b"<base href=https://tracker.example/>" + tag, memo=memo)
    assert b"data-consent-src=pixel.gif" in moved and blocked == ["web-beacon"]


def test_the_memo_stays_bounded() -> None:
    memo = TagMemo(size=50)
    for n in range(500):
        rewrite(b"<img src=https://cdn%d.example/a.png>" % n + GA, memo=memo)
        assert len(memo) <= 50


def test_embeds_are_decided_on_each_page() -> None:
    """A held frame's placeholder speaks the page's language; its srcdoc is a document of its own."""
    memo = TagMemo()
    frame_doc = b"<iframe srcdoc='<img src=https://www.facebook.com/tr?id=1 width=1 height=1>'></iframe>"
    banner = b"<script src=/_consent/banner.js></script>"
    for body in (VIDEO, b"<html lang=en>" + VIDEO, frame_doc, b"<p>" + frame_doc):
        assert rewrite(body, memo=memo, head=banner) == rewrite(body, head=banner)


# Where the compiled pass over remembered tags (scanner.remembered_run) must hand over to the rewriter.
HAND_OVER = [
    b"<script data-SRC=x>var a = 1</script>",
    b"<SCRIPT>gtag('config', 'G-1')</SCRIPT >",
    b"<script HREF=x>1</script>",
    b"<script src=/app.js>x</scriptx></script>",
    b"<script src=/app.js></script",
    b"<script>not ended",
    b"<img src=/a.png alt='" + b"a" * 2100 + b"'>",
    b"<script>" + b"x" * 9000 + b"</script>",
    b"<svg><image href=https://www.facebook.com/tr></svg><img src=/b.png>",
    b"<title>x</title><textarea><img src=https://www.facebook.com/tr></textarea>",
    b"<IMG SRC=/c.png><img src=/c.png>",
    # Tags the memo does not hold that pass in C when nothing in them can leave the page's host.
    b'<meta name="csrf-token" content="5f22eb4d"><input type=hidden name=sesskey value=5f22eb4d>',
    b"<img src=a/b.png alt='a:b'><img src=/x.png title=&amp;><input type=image src=/\t/x.example/i.png>",
    b"<img src=stats/MATOMO.js><link rel=stylesheet href=/piwik.php><source srcset='a.png 1x, //x.example/b.png 2x'>",
]
mixed = st.lists(st.sampled_from([*FRAGMENTS, *STATEFUL, *HAND_OVER, GA, GA_INLINE, PIXEL, VIDEO]), max_size=10)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed.map(b"".join), grants, chunkings)
def test_remembered_tags_passed_in_c_give_what_the_expression_gives(body, granted, chunks) -> None:
    """A warm memo with the compiled scanner against the regular expression and no memo at all."""
    import gateway.pages.rewrite as rewrite_module

    if not rewrite_module.SCANNER_COMPILED:
        pytest.skip("the scanner is not compiled here")
    memo = TagMemo()
    banner = b"<script src=/_consent/banner.js></script>"
    for _ in range(2):  # kept the second time
        rewrite(body, granted, memo, page=PAGE, head=banner)
    warm = rewrite(body, granted, memo, chunks, PAGE, banner)
    try:
        rewrite_module.SCANNER_COMPILED = False
        expression = rewrite(body, granted, None, chunks, PAGE, banner)
    finally:
        rewrite_module.SCANNER_COMPILED = True
    assert warm == expression
