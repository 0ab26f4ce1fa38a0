"""Default-deny: every way a page loads things from another site stays inert until consent.

The verdicts are checked with an independent reading of the output
(``liveness.fetched_urls``: html5lib, tinycss2 and ada), never with the
rewriter's own tokenizer.
"""

from __future__ import annotations

import html

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.liveness import fetched_urls, host_of

from gateway.pages.rewrite import RewritePolicy, Rewriter
from gateway.trackers.catalogue import default_catalogue
from gateway.trackers.thirdparty import ThirdParties

SITE = "www.leerplein.nl"
PAGE = f"http://{SITE}/les/1"  # http, so that "https:host" is another site, as browsers read it
NOTHING = frozenset({"functional"})
ALL = frozenset({"functional", "analytics", "marketing", "other"})
STRICT = ThirdParties(default_catalogue(), strict=True, allowed_hosts=("fonts.leerplein-cdn.nl",))
CATALOGUE_ONLY = ThirdParties(default_catalogue(), strict=False)


def rewrite(body: str, granted=NOTHING, rules=STRICT, chunks: list[int] | None = None) -> str:
    policy = RewritePolicy(
        rules,
        granted,
        site_host=SITE,
        page_url=PAGE,
        placeholder=lambda s, language=None: f"held: {getattr(s, 'name', s)}",
    )
    rewriter = Rewriter(policy)
    data, out, start = body.encode(), [], 0
    for size in chunks or []:
        out.append(rewriter.feed(data[start : start + size]))
        start += size
    out += [rewriter.feed(data[start:]), rewriter.finish()]
    return b"".join(out).decode()


def third_party(markup: str) -> list[tuple[str, str]]:
    """What the page still fetches from hosts other than the site and the allowed ones."""
    return [
        (where, url)
        for where, url in fetched_urls(markup, PAGE)
        if not host_of(url).endswith("leerplein.nl")
        and host_of(url) not in ("fonts.leerplein-cdn.nl", "code.jquery.com")
    ]


# URL forms a browser fetches from another host, as found in real pages and an attack run.
HOST = "widgets.example-partner.com"
URL_FORMS = [
    f"https://{HOST}/w.js",
    f"//{HOST}/w.js",
    f"HTTPS://{HOST.upper()}/w.js",
    f"https:\\\\{HOST}\\w.js",
    f"/\\{HOST}/w.js",
    f"\\\\{HOST}/w.js",
    f"https:{HOST}/w.js",
    f" \t https://{HOST}./w.js ",
    f"ht\ntps://{HOST}/w.js",
    "https://widgets%2Eexample-partner%2Ecom/w.js",
    "https://widgets\uff0eexample-partner\u3002com/w.js",
    f"https://user:pw@{HOST}:443/w.js",
    "https://www.google-analytics.com/analytics.js",
    "//connect.facebook.net/en_US/fbevents.js",
]
ELEMENTS = [
    "<script src='{u}'></script>",
    "<script data-category='analytics' src='{u}'></script>",
    "<script data-name='x' data-consent='marketing' src='{u}'></script>",
    "<img src='{u}' alt=''>",
    "<img src='/a.png' srcset='/a.png 1x, {u} 2x' alt=''>",
    "<picture><source srcset='{u} 1x'><img src='/a.png' alt=''></picture>",
    "<iframe src='{u}'></iframe>",
    "<iframe srcdoc='{d}'></iframe>",
    "<frameset><frame src='{u}'></frameset>",
    "<object data='{u}'></object>",
    "<embed src='{u}'>",
    "<video src='{u}' poster='{u}'></video>",
    "<video><source src='{u}'><track src='{u}'></video>",
    "<audio src='{u}'></audio>",
    "<input type='image' src='{u}'>",
    "<link rel='stylesheet' href='{u}'>",
    "<link rel='preconnect' href='{u}'>",
    "<link rel='preload' as='image' href='/x.png' imagesrcset='{u} 1x'>",
    "<link rel='icon' href='{u}'>",
    "<svg><image href='{u}'/></svg>",
    "<svg><use xlink:href='{u}#icon'/></svg>",
    "<svg><script href='{u}'></script></svg>",
    "<meta http-equiv='refresh' content='5; url={u}'>",
    "<div style='background:url({u}) no-repeat'>x</div>",
    "<p style=\"background-image:url('{u}')\">x</p>",
    "<style>body{{background:url({u})}}</style>",
    "<style>@import '{u}'; p{{color:red}}</style>",
    "<style>@import url({u});</style>",
    "<svg><style>p{{background:url({u})}}</style></svg>",
]


def fill(template: str, url: str) -> str:
    attribute = html.escape(url, quote=True)
    return template.format(u=attribute, d=html.escape(f"<img src='{attribute}'>", quote=True))


def page_with(template: str, url: str) -> str:
    body = "" if "<frameset>" in template else "<body>"  # a frameset replaces the body
    return "<!doctype html><html><head></head>" + body + fill(template, url) + "</html>"


# Pairs whose page loads a third party as it is (in CSS a backslash is an escape and a newline ends the URL).
CASES = [(t, u) for t in ELEMENTS for u in URL_FORMS if third_party(page_with(t, u))]


def test_nearly_every_pair_loads_a_third_party_as_it_is() -> None:
    assert len(CASES) >= len(ELEMENTS) * len(URL_FORMS) - 40


@pytest.mark.parametrize(("template", "url"), CASES)
def test_every_element_and_url_form_is_held(template: str, url: str) -> None:
    assert third_party(rewrite(page_with(template, url))) == []


@pytest.mark.parametrize("template", ELEMENTS)
def test_everything_granted_changes_nothing(template: str) -> None:
    page = fill(template, URL_FORMS[0]) + fill(template, URL_FORMS[12])
    assert rewrite(page, ALL) == page


def test_catalogue_mode_holds_only_catalogued_services() -> None:
    page = f"<script src='https://{HOST}/w.js'></script><script src='https://www.googletagmanager.com/gtag/js?id=G-1'></script>"
    out = rewrite(page, rules=CATALOGUE_ONLY)
    assert [url for _, url in third_party(out)] == [f"https://{HOST}/w.js"]


def test_site_essential_and_allowed_hosts_load() -> None:
    page = (
        "<script src='https://static.leerplein.nl/app.js'></script>"
        "<script src='/js/site.js'></script><img src='images/logo.png'>"
        "<script src='https://code.jquery.com/jquery-3.7.1.min.js'></script>"
        "<script src='https://www.google.com/recaptcha/api.js'></script>"
        "<link rel='stylesheet' href='https://fonts.leerplein-cdn.nl/inter.css'>"
    )
    assert rewrite(page) == page
    held = rewrite("<script src='https://www.google.com/maps/api.js'></script>")
    assert 'type="text/plain"' in held and 'data-consent="other"' in held


def test_unknown_third_parties_wait_for_their_own_category() -> None:
    out = rewrite(f"<img src='https://{HOST}/team.jpg' alt='team'>")
    assert f"data-consent-src='https://{HOST}/team.jpg'" in out and 'data-consent="other"' in out
    assert rewrite(f"<img src='https://{HOST}/team.jpg' alt='team'>", frozenset({"functional", "other"})).startswith(
        "<img src="
    )


def test_images_of_any_size_from_a_tracker_host_wait_for_the_tracker() -> None:
    out = rewrite(
        "<img src='https://www.facebook.com/images/logo-90x90.png' width='90' height='90'>", rules=CATALOGUE_ONLY
    )
    assert 'data-consent="marketing"' in out and 'data-consent-service="facebook-social"' in out


def test_base_href_sends_relative_urls_elsewhere() -> None:
    page = f"<head><base href='https://{HOST}/assets/'></head><body><img src='logo.png'><script src='app.js'></script>"
    out = rewrite(page)
    assert third_party(page) and third_party(out) == []
    assert "<base href=" in out  # the page keeps its base: links still go where they went


def test_a_held_srcdoc_frame_shows_a_placeholder_and_keeps_the_document() -> None:
    inner = f"<p>quiz</p><img src='https://{HOST}/p.gif'>"
    out = rewrite(f'<iframe srcdoc="{html.escape(inner)}"></iframe>')
    assert 'data-consent-srcdoc="' in out and 'srcdoc="held: ' in out
    assert (
        rewrite(f'<iframe srcdoc="{html.escape("<p>quiz</p>")}"></iframe>')
        == f'<iframe srcdoc="{html.escape("<p>quiz</p>")}"></iframe>'
    )


def test_held_style_block_keeps_the_original_inert_after_a_stand_in() -> None:
    hero = f".hero{{background:url(https://{HOST}/hero.jpg)}}"
    page = f"<style media=screen>h1{{color:red}} {hero} /* </script> */</style><p>x"
    out = rewrite(page)
    assert out.startswith(
        '<style media=screen data-consent-standin="">h1{color:red} .hero{background:none} /* </script> */</style>'
    )
    # Not an inert <style>: Chromium's preload scanner fetches @import from those.
    assert out.endswith(
        '<script media=screen data-consent-style="" type="text/plain" data-consent="other">'
        f"h1{{color:red}} .hero{{background:url(https://{HOST}/hero.jpg)}} /* </\\script> */</script><p>x"
    )


def test_a_long_style_block_is_neutralised_piece_by_piece() -> None:
    rules = "p{color:red}" * 60000 + f".x{{background:url(https://{HOST}/x.png)}}" + "a{color:blue}" * 10
    out = rewrite(f"<style>{rules}</style><img src='/a.png'>", chunks=[4096] * 300)
    assert third_party(out) == [] and out.endswith("a{color:blue}</style><img src='/a.png'>")


def test_comment_closed_by_bang_and_cdata_in_html_hide_nothing() -> None:
    for page in (
        f"<!-- x --!><img src='https://{HOST}/p.gif'> -->",
        f"<![CDATA[ x ]><img src='https://{HOST}/p.gif'> ]]>",
        f"<svg><style><img src='https://{HOST}/p.gif'></style></svg>",
        f"<svg><title><img src='https://{HOST}/p.gif'></title></svg>",
    ):
        assert third_party(page), page
        assert third_party(rewrite(page)) == [], page


# --- generated markup ---------------------------------------------------------------------

FILLERS = ["<p>Les 1 &amp; 2</p>", "<div class='c'>", "</div>", "<!-- c -->", "<br>", "tekst ", "<svg>", "</svg>"]
documents = st.lists(
    st.one_of(
        st.builds(fill, st.sampled_from(ELEMENTS), st.sampled_from(URL_FORMS)),
        st.sampled_from(FILLERS),
    ),
    min_size=1,
    max_size=8,
).map("".join)
chunkings = st.lists(st.integers(min_value=1, max_value=60), max_size=20)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, chunkings)
def test_no_live_third_party_reference_survives(body: str, chunks: list[int]) -> None:
    page = "<!doctype html><html><head><title>t</title></head><body>" + body
    out = rewrite(page, chunks=chunks)
    assert third_party(out) == []
    assert out == rewrite(page)  # any chunking, the same output


def test_bad_input_passes_through_bounded() -> None:
    huge_value = "A" * (1024 * 1024 + 10)
    page = f"<p>x</p><img alt='{huge_value}' src='https://{HOST}/p.gif'><p>after</p>"
    out = rewrite(page, chunks=[65536] * 20)
    assert third_party(out) == [] and out.endswith("<p>after</p>") and huge_value in out
    script = f"<script data-x='{huge_value}' src='https://{HOST}/w.js'></script>"
    assert third_party(rewrite(script)) == []
    nested = "<div>" * 50000 + "<span style='color:red'>x</span>" + "</div>" * 50000
    assert rewrite(nested) == nested
    not_html = '{"data": "<img src=x>", "n": [1, 2, 3]}' * 1000
    assert rewrite(not_html) == not_html
    broken = b"<p>caf\xe9 \xff\xfe <img src='https://widgets.example-partner.com/\xe9.gif'></p>"
    policy = RewritePolicy(STRICT, NOTHING, site_host=SITE, page_url=PAGE)
    rewriter = Rewriter(policy)
    out_bytes = rewriter.feed(broken) + rewriter.finish()
    assert b"data-consent-src=" in out_bytes and b"caf\xe9 \xff\xfe" in out_bytes
