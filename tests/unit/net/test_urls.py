"""URLs resolved as browsers resolve them: the fast path against ada, and both against Chromium."""

from __future__ import annotations

import json
import random
import re

import ada_url
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.helpers import chromium

from gateway.net.urls import Target, normalise_path, page_paths, resolve, site_of
from gateway.trackers.paths import PathPolicy, parse_path_policies

BASES = ["https://www.leerplein.nl/les/1", "http://www.leerplein.nl/", "https://www.leerplein.nl/a/b?q=1#f"]
# Pieces real pages and attackers write URLs from.
PIECES = [
    "/",
    "//",
    "\\",
    "\\\\",
    ":",
    "https:",
    "http:",
    "HTTPS://",
    "javascript:",
    "data:,",
    "?",
    "#",
    ".",
    "..",
    "%2E",
    "%2e",
    "\uff0e",
    "\u3002",
    "\uff61",
    "\t",
    "\n",
    " ",
    "@",
    "user:pw@",
    ":8080",
    "x.example",
    "tracker.example",
    "WWW.Google-Analytics.COM",
    "0x7f.1",
    "127.0.0.1",
    "[::1]",
    "b\u00fccher.example",
    "xn--bcher-kva.example",
    "a.js",
    "img/p.gif",
    "\x00",
    "\u00a0",
    "\u200b",
]
urls = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
REACHABLE = r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]"


def expected(url: str, base: str) -> Target | None:
    """What ada, a WHATWG-conformant parser, makes of the URL (the slow path, always taken)."""
    try:
        parsed = ada_url.URL(url, base)
    except ValueError:
        return None
    host = parsed.hostname.rstrip(".")
    if parsed.protocol not in ("http:", "https:") or not host:
        return None
    return Target(parsed.protocol[:-1], host, parsed.pathname or "/", parsed.search)


@settings(max_examples=3000, deadline=None)
@given(urls, st.sampled_from(BASES))
def test_the_fast_path_agrees_with_the_whatwg_parser(url: str, base: str) -> None:
    assert resolve(url, base) == expected(url, base)


def test_forms_real_pages_and_attackers_use() -> None:
    base = "http://www.leerplein.nl/les/1"
    for url, host in {
        "https:\\\\tracker.example\\p.js": "tracker.example",
        "/\\tracker.example/p.js": "tracker.example",
        "https:tracker.example/p.js": "tracker.example",  # another scheme than the page's: an absolute URL
        "https://tracker%2Eexample/p.js": "tracker.example",
        "https://tracker\uff0eexample\u3002/p.js": "tracker.example",
        " \thttps://TRACKER.example./p.js": "tracker.example",
        "ht\ntps://tracker.example/p.js": "tracker.example",
        "p.js": "www.leerplein.nl",
        "//0x7f.1/p": "127.0.0.1",
    }.items():
        assert resolve(url, base).host == host, url
    assert resolve("https:tracker.example/p.js", "https://www.leerplein.nl/").host == "www.leerplein.nl"
    for inert in ("javascript:alert(1)", "data:image/gif;base64,R0lGOD", "about:blank", "blob:https://x/1", "https://"):
        assert resolve(inert, base) is None


def test_site_is_the_registrable_domain() -> None:
    assert site_of("static.leerplein.nl") == "leerplein.nl"
    assert site_of("www.school.ac.uk") == "school.ac.uk"
    assert site_of("alice.github.io") != site_of("bob.github.io")
    assert site_of("kursy.ucoz.ru") == "kursy.ucoz.ru"
    assert site_of("127.0.0.1") == "127.0.0.1"


@pytest.mark.browser
def test_hosts_agree_with_chromium_on_a_generated_sample() -> None:
    rng = random.Random(13)
    sample = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 7))) for _ in range(4000)]
    with chromium("MAP * ~NOTFOUND") as browser:
        page = browser.new_page()
        page.goto("about:blank")
        # Chromium keeps some hosts the standard rejects ("a b" as "a%20b"): no name server answers
        # for those, so only hosts a request could reach are compared.
        answers = page.evaluate(
            r"""([urls, bases, reachable]) => bases.map(base => urls.map(u => {
                 try { const p = new URL(u, base), host = p.hostname.replace(/\.+$/, "");
                       return /^https?:$/.test(p.protocol) && new RegExp(reachable).test(host) ? host : null; }
                 catch (e) { return null; } }))""",
            [sample, BASES, "^(?:" + REACHABLE + ")$"],
        )
    differences = []
    for base, hosts in zip(BASES, answers, strict=True):
        for url, host in zip(sample, hosts, strict=True):
            ours = resolve(url, base)
            if ours is None and host is not None and not url.isascii():
                continue  # the rewriter holds what it cannot read (rewrite.UNREADABLE) as another site
            if (ours.host if ours and re.fullmatch(REACHABLE, ours.host) else None) != host:
                differences.append((url, base, ours, host))
    assert differences == [], json.dumps([(u, b, str(o), h) for u, b, o, h in differences[:10]], ensure_ascii=False)


def test_paths_are_compared_as_a_server_routes_them() -> None:
    assert normalise_path("/%63ursus//les/./1/../2") == "/cursus/les/2"
    assert normalise_path("/a\\b/%2F") == "/a/b/%2F"  # an encoded slash stays a character of the segment
    assert page_paths("https://site.nl/x/../%43URSUS/les?naam=Piet") == ("/CURSUS/les",)
    assert set(page_paths("//cursus/les")) == {"/les", "/cursus/les"}
    policy = PathPolicy(("/cursus/*",), frozenset({"analytics"}))
    for spelling in ("/cursus/les", "/%63ursus/les", "/x/../cursus/les", "/CURSUS/les", "//cursus/les", "/cursus\\les"):
        assert policy.applies_to(spelling), spelling
    assert not policy.applies_to("/cursussen-overzicht")


def test_case_counts_only_where_the_operator_says_the_site_routes_by_case() -> None:
    (folded,) = parse_path_policies([{"paths": ["/Cursus/*"], "deny": ["analytics"]}], ["analytics"], "functional")
    (exact,) = parse_path_policies(
        [{"paths": ["/Cursus/*"], "deny": ["analytics"]}], ["analytics"], "functional", case_sensitive=True
    )
    for spelling in ("/Cursus/les", "/cursus/les", "/CURSUS/les", "/%43ursus/les", "//Cursus/x/../les"):
        assert folded.applies_to(spelling), spelling
    for spelling in ("/Cursus/les", "/%43ursus/les", "//Cursus/x/../les", "/x/../Cursus\\les"):
        assert exact.applies_to(spelling), spelling  # decoding and dot segments still apply
    assert not exact.applies_to("/cursus/les") and not exact.applies_to("/CURSUS/les")
