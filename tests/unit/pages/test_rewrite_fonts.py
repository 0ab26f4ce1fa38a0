"""First-party fonts in the rewriter: stylesheet links, preloads, ``@import`` and ``url()`` on font CDNs
point at the gateway, connection hints to them are switched off, everything else is judged as before.

What the output still fetches is read independently (``liveness.fetched_urls``: html5lib, tinycss2, ada).
"""

from __future__ import annotations

import pytest
from support.liveness import fetched_urls, host_of

from gateway.fonts.hosts import FontHosts
from gateway.pages.rewrite import RewritePolicy, Rewriter
from gateway.trackers.catalogue import default_catalogue, font_cdns
from gateway.trackers.thirdparty import ThirdParties

SITE = "www.leerplein.nl"
PAGE = f"https://{SITE}/les/1"
NOTHING = frozenset({"functional"})
FONT_HOSTS = {"fonts.googleapis.com", "fonts.gstatic.com", "fonts.bunny.net", "use.fontawesome.com"}
HOSTS = FontHosts(font_cdns(), "/_consent")


def rewrite(body: str, fonts: bool = True, strict: bool = True, chunk: int | None = None) -> str:
    policy = RewritePolicy(
        ThirdParties(default_catalogue(), strict=strict),
        NOTHING,
        site_host=SITE,
        page_url=PAGE,
        fonts=HOSTS.local_url if fonts else None,
    )
    rewriter, data = Rewriter(policy), body.encode()
    step = chunk or len(data) or 1
    out = [rewriter.feed(data[i : i + step]) for i in range(0, len(data), step)]
    return (b"".join(out) + rewriter.finish()).decode()


def font_fetches(markup: str) -> list[str]:
    return [url for _, url in fetched_urls(markup, PAGE) if host_of(url) in FONT_HOSTS]


def local(markup: str) -> list[str]:
    return [url for _, url in fetched_urls(markup, PAGE) if url.startswith(f"https://{SITE}/_consent/fonts/")]


def test_the_catalogue_names_the_font_cdns() -> None:
    assert HOSTS.stylesheet_hosts == {"fonts.googleapis.com", "fonts.bunny.net", "use.fontawesome.com"}
    assert HOSTS.file_hosts == {"fonts.gstatic.com", "fonts.bunny.net", "use.fontawesome.com"}


@pytest.mark.parametrize(
    "href",
    [
        "https://fonts.googleapis.com/css2?family=Roboto:wght@400;700&amp;display=swap",
        "//fonts.googleapis.com/css?family=Open+Sans|Lato",
        "HTTPS://FONTS.GOOGLEAPIS.COM/css?family=Lato",
        "https:\\\\fonts.googleapis.com\\css?family=Lato",
        "https://fonts.bunny.net/css?family=inter:400",
        "https://use.fontawesome.com/releases/v5.15.4/css/all.css",
    ],
)
def test_stylesheet_links_point_at_the_gateway(href: str) -> None:
    out = rewrite(f'<html><head><link rel="stylesheet" href="{href}"></head></html>')
    assert font_fetches(out) == [] and len(local(out)) == 1
    assert "data-consent" not in out  # nothing waits: the font is the site's own now


def test_the_query_survives_as_the_browser_sends_it() -> None:
    out = rewrite(
        '<link rel=stylesheet href="https://fonts.googleapis.com/css2?family=Roboto:wght@400;700&amp;display=swap">'
    )
    assert 'href="/_consent/fonts/fonts.googleapis.com/css2?family=Roboto:wght@400;700&amp;display=swap"' in out


@pytest.mark.parametrize("rel", ["preconnect", "dns-prefetch", "preconnect dns-prefetch", "DNS-Prefetch"])
def test_connection_hints_to_font_cdns_are_switched_off(rel: str) -> None:
    out = rewrite(
        f'<link rel="{rel}" href="https://fonts.gstatic.com" crossorigin>'
        f'<link rel="{rel}" href="//fonts.googleapis.com">'
    )
    assert fetched_urls(out, PAGE) == []
    assert out.count("data-first-party-rel") == 2 and "data-consent" not in out  # never revived by the banner


def test_preloads_point_at_the_gateway() -> None:
    out = rewrite(
        '<link rel="preload" as="font" type="font/woff2" crossorigin'
        ' href="https://fonts.gstatic.com/s/roboto/v30/a.woff2">'
        '<link rel="preload" as="style" href="https://fonts.googleapis.com/css2?family=Roboto">'
    )
    assert font_fetches(out) == []
    assert local(out) == [
        f"https://{SITE}/_consent/fonts/fonts.gstatic.com/s/roboto/v30/a.woff2",
        f"https://{SITE}/_consent/fonts/fonts.googleapis.com/css2?family=Roboto",
    ]


@pytest.mark.parametrize(
    "css",
    [
        '@import url("https://fonts.googleapis.com/css2?family=Roboto");',
        "@import url(https://fonts.googleapis.com/css2?family=Roboto);",
        "@import 'https://fonts.googleapis.com/css2?family=Roboto';",
        '@IMPORT "//fonts.googleapis.com/css2?family=Roboto" screen;',
        "@font-face{font-family:R;src:url(https://fonts.gstatic.com/s/roboto/v30/a.woff2) format('woff2')}",
    ],
)
def test_style_blocks_import_fonts_from_the_gateway(css: str) -> None:
    for chunk in (None, 7):
        out = rewrite(
            f"<html><head><style>{css} body{{font-family:R}}</style></head><body>x</body></html>", chunk=chunk
        )
        assert font_fetches(out) == [] and len(local(out)) == 1
        assert "data-consent" not in out and "body{font-family:R}" in out


def test_a_block_with_fonts_and_a_held_url_keeps_both_decisions() -> None:
    out = rewrite(
        "<style>@import url(https://fonts.bunny.net/css?family=inter:400);"
        "body{background:url(https://tracker.example.com/p.gif)}</style>"
    )
    assert font_fetches(out) == [] and len(local(out)) == 1
    assert "tracker.example.com" not in " ".join(url for _, url in fetched_urls(out, PAGE))
    # The original waits for consent with its fonts already first-party.
    held = out.split("data-consent-style", 1)[1]
    assert "/_consent/fonts/fonts.bunny.net/css?family=inter:400" in held and "tracker.example.com" in held


def test_style_attributes_load_fonts_from_the_gateway() -> None:
    out = rewrite("<div style=\"background:url('https://fonts.gstatic.com/s/icons/v1/i.woff2')\">x</div>")
    assert font_fetches(out) == [] and len(local(out)) == 1 and "data-consent" not in out


def test_a_long_style_block_is_rewritten_piece_by_piece() -> None:
    filler = "".join(f".c{i}{{color:red}}" for i in range(9000))  # over STYLE_SCAN_LIMIT: streamed
    css = filler + "@font-face{font-family:R;src:url(https://fonts.gstatic.com/s/r.woff2)}" + filler
    out = rewrite(f"<style>{css}</style>", chunk=4096)
    assert font_fetches(out) == [] and len(local(out)) == 1


def test_other_third_parties_are_judged_as_before() -> None:
    out = rewrite(
        '<link rel="stylesheet" href="https://cdn.example-partner.com/a.css">'
        '<link rel="preconnect" href="https://cdn.example-partner.com">'
        '<link rel="stylesheet" href="https://fonts.googleapis.com.evil.example/css">'
    )
    assert fetched_urls(out, PAGE) == [] and out.count('data-consent="other"') == 3


def test_with_fonts_off_font_cdns_wait_like_any_other_third_party() -> None:
    markup = (
        '<link rel="preconnect" href="https://fonts.gstatic.com">'
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Roboto">'
        "<style>@import url(https://fonts.googleapis.com/css2?family=Lato);</style>"
    )
    strict = rewrite(markup, fonts=False)
    assert fetched_urls(strict, PAGE) == [] and "/_consent/fonts/" not in strict
    assert len(font_fetches(rewrite(markup, fonts=False, strict=False))) == 3  # blocking = "catalogue": as today
    assert font_fetches(rewrite(markup, strict=False)) == []  # first-party under either blocking mode
