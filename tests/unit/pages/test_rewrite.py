"""The streaming rewriter: exact bytes, any chunking, trackers inert without consent."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import CORPUS

from gateway.pages.rewrite import COMPLETE_CONSTRUCTS, START_TAG, RewritePolicy, Rewriter
from gateway.trackers.catalogue import default_catalogue
from gateway.trackers.thirdparty import ThirdParties

SNIPPETS = sorted(CORPUS.glob("*.html"))
ALL = frozenset({"functional", "analytics", "marketing", "other"})
STRICT = ThirdParties(default_catalogue(), strict=True)
CATALOGUE_ONLY = ThirdParties(default_catalogue(), strict=False)
NOTHING = frozenset({"functional"})
INJECTION = b"<script src=/_consent/banner.js></script>"


def rewrite(
    body: bytes,
    granted=NOTHING,
    chunks: list[int] | None = None,
    injection: bytes = b"",
    site_host="www.leerplein.nl",
    rules: ThirdParties = STRICT,
) -> bytes:
    policy = RewritePolicy(
        rules,
        granted,
        site_host=site_host,
        head_injection=injection,
        placeholder=lambda s, language=None: f"blocked {getattr(s, 'name', s)}",
    )
    rewriter = Rewriter(policy)
    out, start = [], 0
    for size in chunks or []:
        out.append(rewriter.feed(body[start : start + size]))
        start += size
    out.append(rewriter.feed(body[start:]))
    out.append(rewriter.finish())
    return b"".join(out)


class LiveResources(HTMLParser):
    """What a browser would fetch or run, read by an independent parser."""

    JS = {"", "text/javascript", "application/javascript", "module"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.live: list[str] = []
        self.in_live_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.in_live_script = (attributes.get("type") or "").lower() in self.JS
            if self.in_live_script and attributes.get("src"):
                self.live.append(f"script src={attributes['src']}")
        elif tag in ("img", "iframe") and attributes.get("src"):
            self.live.append(f"{tag} src={attributes['src']}")
        elif tag == "link" and attributes.get("rel"):
            self.live.append(f"link rel={attributes['rel']} href={attributes.get('href')}")

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_live_script = False

    def handle_data(self, data):
        if self.in_live_script and data.strip():
            self.live.append(f"inline script {data.strip()[:40]!r}")


def live_resources(body: bytes) -> list[str]:
    parser = LiveResources()
    parser.feed(body.decode("utf-8"))
    parser.close()
    return parser.live


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda p: p.stem)
def test_published_snippets_are_inert_without_consent(snippet: Path) -> None:
    original = snippet.read_bytes()
    assert live_resources(original), "the corpus snippet should load something"
    assert live_resources(rewrite(original)) == []


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda p: p.stem)
def test_published_snippets_are_untouched_with_consent(snippet: Path) -> None:
    original = snippet.read_bytes()
    assert rewrite(original, granted=ALL) == original


@pytest.mark.parametrize(
    "tag",
    [b"<script src=/stats/matomo.js></script>", b"<img src=piwik.php?idsite=1&amp;rec=1>", b"<IMG SRC=s/matomo.php>"],
)
def test_a_self_hosted_matomo_on_the_site_itself_is_held(tag: bytes) -> None:
    """A relative URL stays on the site, yet a catalogued file name there is analytics."""
    out = rewrite(b"<p>x</p>" + tag)
    assert live_resources(out) == [] and b"data-consent" in out
    assert rewrite(b"<img src=/stats/matomo-logo.png>") == b"<img src=/stats/matomo-logo.png>"


def test_blocked_script_keeps_what_it_needs_to_come_back() -> None:
    out = rewrite(b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>').decode()
    assert out == (
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1" type="text/plain" '
        'data-consent="analytics" data-consent-service="'
        + re.search(r'data-consent-service="([^"]+)"', out).group(1)
        + '"></script>'
    )
    typed = rewrite(b"<script type='text/javascript'>fbq('init', '1');</script>").decode()
    assert (
        'type="text/plain"' in typed
        and 'data-consent-type="text/javascript"' in typed
        and 'data-consent="marketing"' in typed
    )


def test_category_granted_means_untouched_other_category_blocked() -> None:
    page = b'<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script><script src="https://connect.facebook.net/en_US/fbevents.js"></script>'
    out = rewrite(page, granted=frozenset({"functional", "analytics"}))
    assert out.startswith(b'<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>')
    assert b'data-consent="marketing"' in out


def test_iframe_gets_a_placeholder_and_keeps_its_source() -> None:
    out = rewrite(b'<iframe width=560 src="https://www.youtube.com/embed/x" allowfullscreen></iframe>').decode()
    assert 'data-consent-src="https://www.youtube.com/embed/x"' in out and " src=" not in out
    assert 'srcdoc="blocked YouTube"' in out and 'data-consent="marketing"' in out


def test_generic_pixels_only_when_third_party_and_tiny() -> None:
    assert b"data-consent-src" in rewrite(b'<img src="https://px.example.org/p.gif" width="1" height="1">')
    for untouched in (
        b'<img src="/local/p.gif" width="1" height="1">',
        b'<img src="https://cdn.leerplein.nl/p.gif" width="1" height="1">',
        b'<img src="https://px.example.org/photo.jpg" width="100" height="1">',
        b'<img src="https://px.example.org/photo.jpg">',
    ):
        assert rewrite(untouched, rules=CATALOGUE_ONLY) == untouched


def test_hand_marked_markup_is_left_for_the_banner() -> None:
    for marked in (
        b'<script type="text/plain" data-category="analytics" src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>',
        b'<script type="text/plain" data-name="googleAnalytics">gtag("config","G-1")</script>',
        b'<iframe data-consent="marketing" data-consent-src="https://www.youtube.com/embed/x"></iframe>',
    ):
        assert rewrite(marked) == marked


def test_markup_that_only_looks_like_a_tracker_is_not_touched() -> None:
    for text in (
        b'<div title="<script src=https://connect.facebook.net/en_US/fbevents.js>">x</div>',
        b"<!-- <script src=https://connect.facebook.net/en_US/fbevents.js></script> -->",
        b"<textarea><img src=https://www.facebook.com/tr?id=1 width=1 height=1></textarea>",
        b'<script type="application/ld+json">{"url": "https://connect.facebook.net/en_US/fbevents.js"}</script>',
        b"<style>a::after{content:'<iframe src=https://www.youtube.com/embed/x>'}</style>",
    ):
        assert rewrite(text) == text


def test_head_injection_goes_first() -> None:
    page = b'<!DOCTYPE html><html lang="nl"><head data-x="a>b"><script src="https://www.googletagmanager.com/gtm.js?id=1"></script>'
    out = rewrite(page, injection=INJECTION)
    assert out.startswith(b'<!DOCTYPE html><html lang="nl"><head data-x="a>b">' + INJECTION + b"<script")
    note = b""
    assert (
        rewrite(b"<!doctype html><title>t</title>", injection=INJECTION)
        == b"<!doctype html>" + note + INJECTION + b"<title>t</title>"
    )


def test_the_banner_finds_a_place_on_messy_pages() -> None:
    note = b""
    cases = {
        b"<div>fragment</div>": note + INJECTION + b"<div>fragment</div>",
        b"Welkom! <html><head><title>t</title>": b"Welkom! <html><head>" + INJECTION + b"<title>t</title>",
        b"<script>var x=1</script><!DOCTYPE html><html><head>": note
        + INJECTION
        + b"<script>var x=1</script><!DOCTYPE html><html><head>",
        b"<!-- a comment --><html lang=nl><body><p>x": b"<!-- a comment --><html lang=nl>"
        + note
        + INJECTION
        + b"<body><p>x",
        b"just text, no markup": b"just text, no markup" + INJECTION,
        b"<!DOCTYPE html>" + b"<!-- long -->" * 10000 + b"<head>": b"<!DOCTYPE html>"
        + b"<!-- long -->" * 10000
        + b"<head>"
        + INJECTION,
    }
    for page, expected in cases.items():
        assert rewrite(page, injection=INJECTION) == expected
        assert rewrite(page, injection=INJECTION, chunks=[1] * 40) == expected


# --- properties -----------------------------------------------------------------

FRAGMENTS = [p.read_bytes() for p in SNIPPETS] + [
    b"<!DOCTYPE html>",
    b"<html lang=nl>",
    b"<HEAD>",
    b"<head>",
    b"</head>",
    b"<body>",
    b"<p>Les 1 &amp; 2</p>",
    b"<div title=\"a>b\" data-x='<script src=x>'>",
    b"</div>",
    b"<br/>",
    b"<img src=/logo.png alt=logo>",
    b"<!-- comment <script> -->",
    b"<!-->",
    b"<!--->",
    b"<!-- never closed",
    b"<![CDATA[ <img src=x> ]]>",
    b"<script>var a = '</scr' + 'ipt>'; if (a < b) {}</script>",
    b"<SCRIPT SRC=//connect.facebook.net/x.js></SCRIPT>",
    b"<style>p{color:red}</style>",
    b"<textarea><b></textarea>",
    b"<title>A < B</title>",
    b"<",
    b"</",
    b"<!",
    b"<?xml?>",
    b"a < b > c",
    b'<div a="unterminated',
    b"<img src='https://www.facebook.com/tr?id=1' width=1 height=1>",
    b"<iframe src=https://www.youtube.com/embed/abc></iframe>",
    b"<link rel=preconnect href=https://static.hotjar.com>",
    "<p>Cursus Nederlands – niveau B1 ✓</p>".encode(),
    b"<plaintext>",
    b"\x00\xff\xfe",
]

documents = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=20)), max_size=14).map(b"".join)
chunkings = st.lists(st.integers(min_value=0, max_value=40), max_size=30)
grants = st.sampled_from([NOTHING, ALL, frozenset({"functional", "analytics"}), frozenset({"functional", "marketing"})])
quick = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(documents, chunkings, grants)
def test_any_chunking_gives_the_whole_body_output(body: bytes, chunks: list[int], granted) -> None:
    assert rewrite(body, granted, chunks, INJECTION) == rewrite(body, granted, None, INJECTION)


@quick
@given(documents, chunkings)
def test_everything_granted_changes_nothing(body: bytes, chunks: list[int]) -> None:
    assert rewrite(body, ALL, chunks) == body


def pieces(body: bytes) -> list[bytes]:
    """Text and start tags, alternating, as the tag grammar splits them.

    Comments, CDATA, end tags and bogus comments are passed over first, as the rewriter and a
    browser do: in ``</<div a="x...`` the ``<div`` is inside a bogus comment, not a tag."""
    parts, text_start, position = [], 0, 0
    while (position := body.find(b"<", position)) != -1:
        construct = next((m for pattern in COMPLETE_CONSTRUCTS if (m := pattern.match(body, position))), None)
        if construct is not None:
            position = construct.end()
        elif (match := START_TAG.match(body, position)) is not None:
            parts += [body[text_start:position], match.group()]
            position = text_start = match.end()
        else:
            position += 1
    return [*parts, body[text_start:]]


@quick
@given(documents, grants)
def test_changes_stay_inside_tags(body: bytes, granted) -> None:
    before, after = pieces(body), pieces(rewrite(body, granted))
    assert len(before) == len(after)
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        if index % 2 == 0 or b"data-consent" not in new:
            assert old == new  # text between tags, and every tag left alone, is byte for byte the same


@quick
@given(documents)
def test_never_raises_on_random_bytes(body: bytes) -> None:
    rewrite(body, NOTHING, [3, 1, 4, 1, 5, 9, 2, 6], INJECTION)
