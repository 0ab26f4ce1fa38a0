"""The banner as a newcomer meets it, in Debian's Chromium (issue 18).

Focus on the dialog's heading, then back where it was; real switches in both
layers; the "load this once" button; the banner on a phone beside content
wider than the phone (a 560 px embed), at 320, 390, 768 and 1280 px, with
screenshots compared against the references in ``tests/e2e/screenshots/``;
placeholders in the page's language; the theme's custom properties and the
dark variant, each checked with axe-core; and the language and text hash a
withdrawal is recorded with.

The screenshots are compared in the browser (canvas pixels; no imaging
library needed). After a deliberate change to the banner's look, write new
references with ``UPDATE_SCREENSHOTS=1 python -m pytest tests/e2e/test_banner_layout.py``
and look at them before committing.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support.browser import axe_violations
from support.helpers import SECRET, ThreadedServer, axe_script, rows
from support.stubs import TrackerStub

from gateway import ConsentMiddleware, Settings
from gateway.banner.script import Banner
from gateway.trackers.catalogue import default_catalogue

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent / "screenshots"
UPDATE = os.environ.get("UPDATE_SCREENSHOTS") == "1"
TOLERANCE = 0.01  # share of pixels that may differ (anti-aliasing), each by more than a faint shade
ACTUAL = Path("/tmp/consent-gateway-screenshots")

# Width: (height, a phone?). A phone honours <meta name=viewport> and lets wide content widen the layout viewport.
SCREENS = {320: (640, True), 390: (844, True), 768: (1024, False), 1280: (800, False)}

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Les 1</title>{style}</head>
<body style="margin:8px;font:16px/1.4 sans-serif"><main><h1>Les 1</h1><p>Een les met een video.</p>
<iframe width="560" height="315" src="https://www.youtube.com/embed/abc123" title="Video"></iframe>
<p><a href="/{lang}" id="open" data-consent-open>Cookie-instellingen</a></p></main></body></html>"""
THEME = "<style>:root{--cg-accent:#7a1f5c;--cg-accent-hover:#5c1645}</style>"


# stub, browser and new_context: tests/e2e/conftest.py


@pytest.fixture(scope="module")
def resolver_rules(stub: TrackerStub) -> str:
    return f"MAP * 127.0.0.1:{stub.port}, EXCLUDE 127.0.0.1"


@pytest.fixture(scope="module")
def context_options() -> dict:
    return {"ignore_https_errors": True, "reduced_motion": "reduce"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    db_path = tmp_path_factory.mktemp("banner") / "consent.db"
    # Without discovery the settings layer lists the same services in every test: screenshots stay comparable.
    return Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", discovery=False)


@pytest.fixture(scope="module")
def site(settings: Settings) -> Iterator[ThreadedServer]:
    """A lesson page with a fixed 560 px YouTube embed, in the language of its path, behind the middleware."""

    async def page(request):
        style = THEME if request.query_params.get("theme") else ""
        return HTMLResponse(PAGE.format(lang=request.path_params["lang"], style=style))

    app = ConsentMiddleware(Starlette(routes=[Route("/{lang}", page)]), settings=settings)
    with ThreadedServer(app) as server:
        yield server


def screen(new_context, width: int, **options):
    height, phone = SCREENS[width]
    return new_context(viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone, **options)


def active(page) -> str:
    return page.evaluate("document.activeElement.id || document.activeElement.textContent")


def inside_screen(box: dict, width: int, height: int) -> bool:
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width and box["y"] + box["height"] <= height


def records_of(page, settings: Settings, consent_id: str | None = None) -> list[dict]:
    consent_id = consent_id or page.evaluate("consentGateway.get().id")
    return [
        row for row in rows(Path(settings.database_url.removeprefix("sqlite:///"))) if row["consent_id"] == consent_id
    ]


# ---- focus --------------------------------------------------------------------------------------------


def test_the_banner_opens_with_focus_on_its_heading_not_on_a_button(new_context, site) -> None:
    page = new_context().new_page()
    page.goto(site.url + "/nl")
    page.locator("#cg-banner").wait_for()
    assert active(page) == "cg-title"
    page.keyboard.press("Enter")  # nothing is chosen for the visitor
    page.keyboard.press("Space")
    assert page.locator("#cg-banner").is_visible() and page.evaluate("consentGateway.get()") is None
    # No button looks chosen: none has the focus ring before the visitor moves.
    rings = page.evaluate(
        "[...document.querySelectorAll('#cg-banner button')].map(b => getComputedStyle(b).outlineStyle)"
    )
    assert rings == ["none", "none", "none"]
    page.keyboard.press("Tab")
    assert active(page) == "Lees onze privacyverklaring"
    page.keyboard.press("Tab")
    assert active(page) == "Alles accepteren"


def test_focus_returns_where_it_was_after_a_choice_in_the_settings_layer(new_context, site, settings) -> None:
    page = new_context().new_page()
    page.goto(site.url + "/nl")
    page.locator("#cg-banner").wait_for()
    page.focus("#open")
    page.keyboard.press("Enter")  # the page's own link to the settings
    layer = page.get_by_role("dialog", name="Cookie-instellingen")
    layer.wait_for()
    assert active(page) == "cg-settings-title"

    statistics = layer.get_by_role("switch", name="Statistieken")
    for _ in range(10):
        page.keyboard.press("Tab")
        if active(page) == "cg-cat-analytics":
            break
    assert active(page) == "cg-cat-analytics" and statistics.get_attribute("aria-checked") == "false"
    page.keyboard.press("Space")
    assert statistics.get_attribute("aria-checked") == "true" and statistics.is_checked()
    for _ in range(20):
        page.keyboard.press("Tab")
        if active(page) == "Keuze opslaan":
            break
    page.keyboard.press("Enter")
    layer.wait_for(state="detached")
    assert active(page) == "open"
    [record] = records_of(page, settings)
    assert record["method"] == "custom" and record["granted"] == "functional,analytics"


def test_focus_returns_to_the_reopen_button_after_a_change(new_context, site) -> None:
    page = new_context().new_page()
    page.goto(site.url + "/nl")
    page.evaluate("document.getElementById('open').remove()")  # a page without a link of its own gets the button
    page.get_by_role("button", name="Alles accepteren").click()
    reopen = page.get_by_role("button", name="Cookie-instellingen")
    reopen.focus()
    page.keyboard.press("Enter")
    layer = page.get_by_role("dialog", name="Cookie-instellingen")
    layer.wait_for()
    assert active(page) == "cg-settings-title"
    page.keyboard.press("Escape")  # closing without a change gives focus back too
    layer.wait_for(state="detached")
    assert page.evaluate("document.activeElement.classList.contains('cg-reopen')")


# ---- switches ------------------------------------------------------------------------------------------

SWITCH_LOOK = """s => { const c = getComputedStyle(s), k = getComputedStyle(s, '::before');
  return {track: c.backgroundColor, knob: k.left, width: s.getBoundingClientRect().width,
          height: s.getBoundingClientRect().height}; }"""


def test_the_settings_layer_has_switches_whose_state_shows(new_context, site) -> None:
    page = new_context().new_page()
    page.goto(site.url + "/en")
    page.get_by_role("button", name="Settings", exact=True).click()
    layer = page.get_by_role("dialog", name="Cookie settings")
    layer.wait_for()
    necessary = layer.get_by_role("switch", name="Necessary (always on)")
    statistics = layer.get_by_role("switch", name="Statistics")
    assert necessary.get_attribute("aria-checked") == "true" and necessary.is_disabled()
    assert statistics.get_attribute("aria-checked") == "false" and not statistics.is_disabled()
    assert layer.get_by_role("checkbox").count() == 0
    off = statistics.evaluate(SWITCH_LOOK)
    statistics.click()
    on = statistics.evaluate(SWITCH_LOOK)
    assert statistics.get_attribute("aria-checked") == "true"
    assert off["track"] != on["track"] and float(on["knob"][:-2]) > float(off["knob"][:-2]) + 8  # colour and place
    assert off["width"] > off["height"]
    layer.get_by_text("Statistics", exact=True).click()  # the name turns it too
    assert statistics.get_attribute("aria-checked") == "false"
    necessary.click(force=True)  # the required one stays on
    assert necessary.get_attribute("aria-checked") == "true"
    assert layer.get_by_text("Marketing", exact=True).count() == 1


def test_the_page_without_javascript_has_switches_and_names_each_category_once(new_context, site) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto(site.url + "/_consent/preferences?lang=nl")
    for name in ("Noodzakelijk (altijd aan)", "Statistieken", "Marketing", "Overige derde partijen"):
        assert page.get_by_text(name, exact=True).count() == 1, name
    statistics = page.get_by_role("switch", name="Statistieken")
    assert page.get_by_role("checkbox").count() == 0
    off = statistics.evaluate(SWITCH_LOOK)
    statistics.click()
    assert statistics.is_checked()
    on = statistics.evaluate(SWITCH_LOOK)
    assert off["track"] != on["track"] and float(on["knob"][:-2]) > float(off["knob"][:-2]) + 8
    assert off["width"] > off["height"]
    assert page.get_by_role("switch", name="Noodzakelijk").is_disabled()


# ---- the held embed ------------------------------------------------------------------------------------

BUTTON_LOOK = """b => { const c = getComputedStyle(b);
  return {border: c.borderTopWidth, radius: c.borderTopLeftRadius, margin: c.marginLeft, padding: c.paddingLeft,
          weight: c.fontWeight}; }"""


def test_load_once_is_a_styled_button_apart_from_its_neighbour(new_context, site, stub) -> None:
    stub.clear()
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(site.url + "/nl")
    frame = page.frame_locator("iframe[data-consent-src]")
    once = frame.get_by_role("button", name="Alleen deze keer laden")
    once.wait_for()
    look = once.evaluate(BUTTON_LOOK)
    assert look == {"border": "2px", "radius": "6px", "margin": "4px", "padding": "16px", "weight": "600"}
    link = frame.get_by_role("link", name="Cookie-instellingen").bounding_box()
    button = once.bounding_box()
    same_line = abs(link["y"] - button["y"]) < 4
    gap = button["x"] - (link["x"] + link["width"]) if same_line else button["y"] - (link["y"] + link["height"])
    assert gap >= 6, (link, button)
    once.click()
    page.wait_for_function(
        "document.querySelector('iframe').getAttribute('src') === 'https://www.youtube.com/embed/abc123'"
    )
    assert stub.wait_for(lambda s: any(hit.host == "www.youtube.com" for hit in s.hits))  # it really loads
    assert page.evaluate("consentGateway.get()") is None  # loaded once, nothing consented


# ---- placeholders follow the page's language ----------------------------------------------------------


@pytest.mark.parametrize(
    "lang,title,message,settings_link,banner_button",
    [
        ("en", "YouTube video", "This content from YouTube is only loaded", "Cookie settings", "Reject all"),
        ("nl", "YouTube-video", "Deze inhoud van YouTube laden we pas", "Cookie-instellingen", "Alles weigeren"),
        ("de", "YouTube video", "Dieser Inhalt von YouTube wird erst", "Cookie-Einstellungen", "Alle ablehnen"),
        ("fr", "YouTube video", "Ce contenu de YouTube ne se charge", "Paramètres des cookies", "Tout refuser"),
    ],
)
def test_the_placeholder_speaks_the_page_language(
    new_context, site, lang, title, message, settings_link, banner_button
) -> None:
    page = new_context(locale="nl-NL").new_page()  # the browser's language does not decide: the page's does
    page.goto(f"{site.url}/{lang}")
    frame = page.frame_locator("iframe[data-consent-src]")
    assert frame.locator("html").get_attribute("lang") == lang
    assert frame.get_by_text(title, exact=True).is_visible()
    assert message in frame.locator("body").text_content()
    assert f"lang={lang}&" in frame.get_by_role("link", name=settings_link).get_attribute("href")
    assert page.get_by_role("button", name=banner_button, exact=True).is_visible()


# ---- width: a phone and a wide embed -------------------------------------------------------------------


def compare(page, reference: Path, actual: bytes) -> dict:
    """Pixel difference of two PNGs, decoded by the browser: sizes, and the share of pixels that differ."""
    encode = lambda data: "data:image/png;base64," + base64.b64encode(data).decode()  # noqa: E731
    return page.evaluate(
        """async ([a, b]) => {
          const load = src => new Promise((ok, fail) => { const i = new Image(); i.onload = () => ok(i);
            i.onerror = fail; i.src = src; });
          const [x, y] = await Promise.all([load(a), load(b)]);
          const pixels = i => { const c = document.createElement('canvas'); c.width = i.width; c.height = i.height;
            const g = c.getContext('2d'); g.drawImage(i, 0, 0); return g.getImageData(0, 0, i.width, i.height).data; };
          if (x.width !== y.width || x.height !== y.height) return {size: [x.width, x.height, y.width, y.height]};
          const p = pixels(x), q = pixels(y);
          let differ = 0;
          for (let k = 0; k < p.length; k += 4) {
            if (Math.abs(p[k] - q[k]) + Math.abs(p[k + 1] - q[k + 1]) + Math.abs(p[k + 2] - q[k + 2]) > 48) differ++;
          }
          return {share: differ / (p.length / 4)};
        }""",
        [encode(reference.read_bytes()), encode(actual)],
    )


def matches_reference(browser, name: str, actual: bytes) -> None:
    reference = SHOTS / name
    if UPDATE or not reference.exists():
        if not UPDATE:
            pytest.fail(f"{reference} is missing: write it with UPDATE_SCREENSHOTS=1")
        SHOTS.mkdir(exist_ok=True)
        reference.write_bytes(actual)
        return
    checker = browser.new_page()
    try:
        result = compare(checker, reference, actual)
    finally:
        checker.close()
    if "size" in result or result["share"] > TOLERANCE:
        ACTUAL.mkdir(exist_ok=True)
        (ACTUAL / name).write_bytes(actual)
        pytest.fail(
            f"{name} differs from its reference ({result}); the new one is in {ACTUAL / name}. "
            "After a deliberate change: UPDATE_SCREENSHOTS=1 python -m pytest tests/e2e/test_banner_layout.py"
        )


@pytest.mark.parametrize("width", list(SCREENS))
def test_the_banner_fits_the_screen_beside_a_wide_embed(browser, new_context, site, width: int) -> None:
    height, _ = SCREENS[width]
    page = screen(new_context, width).new_page()
    page.goto(site.url + "/nl")
    banner = page.locator("#cg-banner")
    banner.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") >= 560 + 8  # the embed really is wider on a phone
    box = banner.bounding_box()
    assert inside_screen(box, width, height), box
    assert box["width"] <= min(640, width - 16) + 0.5, box
    for name in ("Alles accepteren", "Alles weigeren", "Instellingen"):
        assert inside_screen(page.get_by_role("button", name=name, exact=True).bounding_box(), width, height), name
    matches_reference(browser, f"banner-{width}.png", banner.screenshot(animations="disabled"))

    page.get_by_role("button", name="Instellingen", exact=True).click()  # reachable: a real click, not a script
    panel = page.locator("#cg-settings .cg-panel")
    panel.wait_for()
    page.locator("#cg-settings .cg-note").wait_for()  # the services are listed: the layer is complete
    assert inside_screen(panel.bounding_box(), width, height), panel.bounding_box()
    if width in (320, 1280):
        page.mouse.move(0, 0)  # no hover on whatever lies under the pointer
        matches_reference(browser, f"settings-{width}.png", panel.screenshot(animations="disabled"))
    save = page.get_by_role("button", name="Keuze opslaan")
    save.scroll_into_view_if_needed()
    assert inside_screen(save.bounding_box(), width, height)
    save.click()
    page.locator("#cg-settings").wait_for(state="detached")


# ---- theme and dark variant, checked with axe-core -----------------------------------------------------


BACKGROUND = "getComputedStyle(document.querySelector('{}')).backgroundColor"


@pytest.mark.parametrize("scheme,background", [("light", "rgb(255, 255, 255)"), ("dark", "rgb(29, 29, 31)")])
@pytest.mark.parametrize("layer", ["banner", "settings", "preferences page"])
def test_both_schemes_pass_axe_core(new_context, site, scheme: str, background: str, layer: str) -> None:
    page = new_context(color_scheme=scheme).new_page()
    if layer == "preferences page":
        page.goto(site.url + "/_consent/preferences?lang=nl")
        selector = "main"
        expected = {"light": "rgb(255, 255, 255)", "dark": "rgb(29, 29, 31)"}[scheme]
    else:
        page.goto(site.url + "/nl")
        page.locator("#cg-banner").wait_for()
        selector, expected = "#cg-banner", background
        if layer == "settings":
            page.get_by_role("button", name="Instellingen", exact=True).click()
            page.locator("#cg-settings .cg-note").wait_for()
            selector = "#cg-settings .cg-panel"
    assert page.evaluate(BACKGROUND.format(selector)) == expected
    assert axe_violations(page, axe_script(required=True), selector) == []


def test_a_site_themes_the_banner_through_custom_properties(new_context, site) -> None:
    page = new_context().new_page()
    page.goto(site.url + "/nl?theme=1")
    accept = page.get_by_role("button", name="Alles accepteren")
    assert accept.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(122, 31, 92)"
    assert page.evaluate(BACKGROUND.format("#cg-banner")) == "rgb(255, 255, 255)"  # what it did not set stays
    assert axe_violations(page, axe_script(required=True), "#cg-banner") == []


# ---- the record of a withdrawal ------------------------------------------------------------------------


def test_a_withdrawal_on_a_dutch_page_is_recorded_in_dutch(new_context, site, settings) -> None:
    page = new_context(locale="en-US").new_page()  # the browser prefers English; the page is Dutch
    page.goto(site.url + "/nl")
    page.get_by_role("button", name="Alles accepteren").click()
    page.wait_for_function("consentGateway.get() !== null")
    consent_id = page.evaluate("consentGateway.get().id")
    with page.expect_navigation():  # consent shrank: the page starts clean
        page.evaluate("consentGateway.withdraw()")
    page.locator("#cg-banner").wait_for()  # asked again
    given, withdrawn = records_of(page, settings, consent_id)
    dutch = Banner(settings, default_catalogue()).text_hashes["nl"]
    assert (given["method"], withdrawn["method"]) == ("accept_all", "withdraw")
    assert given["language"] == withdrawn["language"] == "nl"
    assert given["banner_hash"] == withdrawn["banner_hash"] == dutch
