"""The banner and the preferences form in a real browser: Debian's Chromium through Playwright.

Every test runs against ``consent-gateway demo`` (or a small page behind
``ConsentMiddleware``) on a loopback port. Chromium resolves every other host
name to one local HTTPS stub (``tests/stubs.py``) that stands in for all
tracker hosts and records each handshake and request, so a test can count
exactly what a tracker would have received. Nothing leaves the machine.

The accessibility checks need axe-core from npm: run ``npm ci`` at the
repository root first (package.json pins it).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support import REPOSITORY
from support.browser import LOOPBACK, axe_violations, banner, contacted, requested, settings_layer, settle
from support.helpers import SECRET, Server, ThreadedServer, axe_script, rows, start_demo
from support.records import seed_discovery
from support.stubs import StaticSite

from gateway import ConsentMiddleware, Settings

pytestmark = pytest.mark.browser

ROOT = REPOSITORY
LESSON = "/cursus/excel-voor-beginners"
LAYER1_SHOT = Path("/tmp/banner-layer1.png")
LAYER2_SHOT = Path("/tmp/banner-layer2.png")

GOOGLE = {"www.googletagmanager.com"}
HOTJAR = {"static.hotjar.com"}
META = {"connect.facebook.net", "www.facebook.com"}
LINKEDIN = {"snap.licdn.com", "px.ads.linkedin.com"}
YOUTUBE = {"www.youtube.com"}
BEACON = {"stats.partnernetwerk-demo.nl"}
ANALYTICS = GOOGLE | HOTJAR
MARKETING = META | LINKEDIN | YOUTUBE | BEACON
TRACKER_COOKIE = re.compile(r"^(_ga|_gid|_gat|_gcl|_fbp|_fbc|_hj|li_|_li|lidc|bcookie|stub_)")


# ---- fixtures (stub, browser and new_context: tests/e2e/conftest.py) ----------------------


@pytest.fixture(scope="module")
def shared_demo(tmp_path_factory) -> Iterator[Server]:
    """One demo server for the tests that read no consent records (saves a start-up per test)."""
    server = start_demo(tmp_path_factory.mktemp("shared") / "consent.db")
    seed_discovery(server.db_path)  # the settings layer lists the services the site uses
    yield server
    server.kill()


# ---- helpers -------------------------------------------------------------------------------


def tracker_cookies(context) -> list[tuple[str, str]]:
    """Cookies a tracker set: known tracker names on any origin, and anything on a non-loopback host."""
    return sorted(
        (c["name"], c["domain"])
        for c in context.cookies()
        if TRACKER_COOKIE.match(c["name"]) or c["domain"].lstrip(".") not in LOOPBACK
    )


def consent_cookie(context, domain: str = "127.0.0.1") -> dict | None:
    for cookie in context.cookies():
        if cookie["name"] == "consent" and cookie["domain"] == domain:
            return cookie
    return None


def payload(cookie: dict) -> dict:
    """The JSON part of ``<base64url json>.<ts>.<sig>``."""
    encoded = cookie["value"].strip('"').split(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def watch(page) -> list[str]:
    """Collect uncaught errors of the page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def mark_page(page) -> list[str]:
    """Put a marker in the window and count main-frame navigations: both show whether the page reloaded."""
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    page.evaluate("window.__marker = 'still here'")
    return navigations


def assert_not_reloaded(page, navigations: list[str]) -> None:
    assert navigations == [], navigations
    assert page.evaluate("window.__marker") == "still here"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def google_consent_updates(page) -> list[dict]:
    """The Consent Mode commands in dataLayer (``arguments`` objects), as plain lists."""
    return page.evaluate(
        "(window.dataLayer || []).filter(e => e && typeof e === 'object' && !Array.isArray(e) && e.length === 3"
        " && e[0] === 'consent').map(e => ({kind: e[1], state: e[2]}))"
    )


def open_settings_from_banner(page):
    banner(page).get_by_role("button", name="Instellingen", exact=True).click()
    layer = settings_layer(page)
    layer.wait_for(state="visible")
    return layer


# ---- 1. before a choice ---------------------------------------------------------------------


def test_first_visit_shows_the_banner_and_nothing_reaches_a_tracker(new_context, demo_server, stub) -> None:
    context = new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = watch(page)
    page.goto(demo_server.url + LESSON)

    dialog = banner(page)
    dialog.wait_for(state="visible")
    assert dialog.get_attribute("id") == "cg-banner"
    assert dialog.get_by_role("heading", name="Cookies op deze leeromgeving").is_visible()
    assert dialog.get_by_role("link", name="Lees onze privacyverklaring").get_attribute("href") == "/privacy"

    accept = dialog.get_by_role("button", name="Alles accepteren", exact=True)
    reject = dialog.get_by_role("button", name="Alles weigeren", exact=True)
    settings = dialog.get_by_role("button", name="Instellingen", exact=True)
    # Reject is exactly as visible, as big and as styled as accept (EDPB taskforce: no misleading design).
    boxes = [control.bounding_box() for control in (accept, reject, settings)]
    for box in boxes[1:]:
        assert abs(box["width"] - boxes[0]["width"]) <= 2 and abs(box["height"] - boxes[0]["height"]) <= 2, boxes
    look = (
        "e => { const s = getComputedStyle(e); return [s.color, s.backgroundColor, s.font, s.opacity, s.borderColor] }"
    )
    assert accept.evaluate(look) == reject.evaluate(look) == settings.evaluate(look)
    # Keyboard users start inside the banner, on its heading: no button is chosen for them.
    assert page.evaluate("document.activeElement.id") == "cg-title"

    settle(page, stub)
    assert contacted(stub) == set(), stub.hits
    assert tracker_cookies(context) == []
    # Consent Mode's default came before anything else, and every tracker waits inert.
    assert google_consent_updates(page)[0] == {
        "kind": "default",
        "state": {
            "ad_storage": "denied",
            "ad_user_data": "denied",
            "ad_personalization": "denied",
            "analytics_storage": "denied",
            "wait_for_update": 500,
        },
    }
    assert page.evaluate("window.__stub") is None  # no stub script ran
    assert page.locator("iframe[data-consent-src]").count() == 1  # the video waits behind a placeholder
    assert page.evaluate("window.consentGateway.get()") is None
    assert consent_cookie(context) is None
    assert rows(demo_server.db_path) == []
    assert errors == []


# ---- 2. reject all --------------------------------------------------------------------------


def test_reject_all_is_recorded_without_reload_and_nothing_loads_after_a_reload(new_context, demo_server, stub) -> None:
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(demo_server.url + "/")
    banner(page).wait_for(state="visible")
    navigations = mark_page(page)

    banner(page).get_by_role("button", name="Alles weigeren", exact=True).click()
    page.locator("#cg-banner").wait_for(state="detached")
    assert_not_reloaded(page, navigations)  # nothing to undo: consent did not shrink

    cookie = consent_cookie(context)
    assert cookie is not None and not cookie["httpOnly"]
    decided = payload(cookie)
    assert decided["c"] == ["functional"] and decided["m"] == "reject_all"
    assert page.evaluate("window.consentGateway.get().categories") == ["functional"]
    [row] = rows(demo_server.db_path)
    assert row["method"] == "reject_all" and row["granted"] == "functional" and row["consent_id"] == decided["i"]
    # The demo footer has its own opener ([data-consent-open]), so no floating button.
    assert page.locator(".cg-reopen").count() == 0

    page.reload()
    page.goto(demo_server.url + LESSON)
    settle(page, stub)
    assert page.locator("#cg-banner").count() == 0
    assert contacted(stub) == set(), stub.hits
    assert tracker_cookies(context) == []
    assert len(rows(demo_server.db_path)) == 1
    # Every load with a stored choice tells Google again.
    updates = [u for u in google_consent_updates(page) if u["kind"] == "update"]
    assert updates and updates[0]["state"]["analytics_storage"] == "denied"
    # The footer link opens the settings layer in place, with the stored choice shown.
    page.locator("footer").get_by_role("link", name="Cookie-instellingen").click()
    layer = settings_layer(page)
    layer.wait_for(state="visible")
    assert not layer.get_by_role("switch", name="Statistieken").is_checked()
    assert errors == []


# ---- 3. analytics only, through the settings layer ---------------------------------------------


def test_analytics_only_via_the_settings_layer_loads_google_without_reload(new_context, demo_server, stub) -> None:
    seed_discovery(demo_server.db_path)  # the services the demo's pages use, as a scan finds them
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(demo_server.url + LESSON)
    banner(page).wait_for(state="visible")
    page.evaluate(
        "window.__events = []; document.addEventListener('consent:change', e => __events.push(['dom', e.detail]));"
        "consentGateway.on('change', d => __events.push(['on', d]))"
    )
    navigations = mark_page(page)

    layer = open_settings_from_banner(page)
    assert layer.get_attribute("aria-modal") == "true"
    necessary = layer.get_by_role("switch", name="Noodzakelijk")
    statistics = layer.get_by_role("switch", name="Statistieken")
    marketing = layer.get_by_role("switch", name="Marketing")
    assert necessary.is_checked() and necessary.is_disabled()
    assert not statistics.is_checked() and not marketing.is_checked()  # nothing pre-ticked
    # The services behind each category come from /_consent/services: the ones the site uses.
    layer.get_by_text("Google Analytics (Google)").first.wait_for(state="attached")
    assert layer.locator("ul[data-category='marketing'] li", has_text="Meta Pixel").count() == 1
    assert layer.get_by_text("TikTok").count() == 0  # in the catalogue, not on this site

    statistics.check()
    layer.get_by_role("button", name="Keuze opslaan").click()
    settings_layer(page).wait_for(state="detached")

    assert stub.wait_for(lambda s: requested(s) >= ANALYTICS), stub.hits
    settle(page, stub)
    assert_not_reloaded(page, navigations)
    seen = requested(stub)
    assert seen >= ANALYTICS
    assert seen <= ANALYTICS, seen  # Google and Hotjar (analytics); no Meta, LinkedIn or YouTube
    assert not contacted(stub) & MARKETING
    names = {name for name, _ in tracker_cookies(context)}
    assert "_ga" in names and "_fbp" not in names and "li_fat_id" not in names

    decided = payload(consent_cookie(context))
    assert decided["m"] == "custom" and sorted(decided["c"]) == ["analytics", "functional"]
    [row] = rows(demo_server.db_path)
    assert row["method"] == "custom" and row["granted"] == "functional,analytics"

    # The page and Google were told.
    update = [u for u in google_consent_updates(page) if u["kind"] == "update"][-1]["state"]
    assert update == {
        "analytics_storage": "granted",
        "ad_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
    }
    assert page.evaluate("dataLayer.filter(e => e.event === 'consent_update').map(e => e.consent_categories)") == [
        ["functional", "analytics"]
    ]
    events = page.evaluate("__events")
    assert [kind for kind, _ in events] == ["dom", "on"]
    assert all(
        detail["categories"] == ["functional", "analytics"] and detail["id"] == decided["i"] for _, detail in events
    )

    # The next page arrives with Google live and marketing still inert.
    stub.clear()
    page.goto(demo_server.url + "/")
    settle(page, stub)
    assert requested(stub) >= GOOGLE and not contacted(stub) & MARKETING
    assert errors == []


# ---- 4. accept all: everything, in document order ----------------------------------------------


def test_accept_all_loads_every_tracker_in_order_without_reload(new_context, demo_server, stub) -> None:
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(demo_server.url + LESSON)
    banner(page).wait_for(state="visible")
    navigations = mark_page(page)

    banner(page).get_by_role("button", name="Alles accepteren", exact=True).click()
    expected = GOOGLE | HOTJAR | {"connect.facebook.net", "snap.licdn.com"} | YOUTUBE | BEACON
    assert stub.wait_for(lambda s: expected <= requested(s)), stub.hits
    settle(page, stub)
    assert_not_reloaded(page, navigations)

    # The page's scripts ran again: GTM's loader, gtag.js and the later snippets (Meta, Hotjar, LinkedIn).
    ran = [entry.split("?")[0] for entry in page.evaluate("window.__stub")]
    later_hosts = ("connect.facebook.net", "static.hotjar.com", "snap.licdn.com")
    later = [i for i, entry in enumerate(ran) if entry.startswith(later_hosts)]
    # gtag.js is loaded async, as the page writes it: like the browser, revival does not hold the later
    # snippets up for it; each of them still inserted its own script.
    assert "www.googletagmanager.com/gtag/js" in ran and len(later) == 3, ran
    # The embed and the pixel are back too; the placeholder's srcdoc is gone.
    frame = page.locator("iframe.video")
    assert frame.get_attribute("src") == "https://www.youtube.com/embed/dQw4w9WgXcQ"
    assert frame.get_attribute("srcdoc") is None and frame.get_attribute("data-consent-src") is None
    names = {name for name, _ in tracker_cookies(context)}
    assert {"_ga", "_fbp", "_hjSessionUser_1000001", "li_fat_id"} <= names

    [row] = rows(demo_server.db_path)
    assert row["method"] == "accept_all" and set(row["granted"].split(",")) == {
        "functional",
        "analytics",
        "marketing",
        "other",
    }
    assert errors == []


SEQUENCE_PAGE = """<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Volgorde</title>
<script src="https://www.googletagmanager.com/gtag/js?id=G-ORDER&delay_ms=400"></script>
<script type="text/plain" data-consent="analytics">window.__stub.push('inline needs gtag');</script>
<script src="https://static.hotjar.com/c/hotjar-2.js?sv=6&delay_ms=150"></script>
<script src="https://connect.facebook.net/en_US/fbevents.js"></script>
<script type="text/plain" data-consent="marketing">window.__stub.push('inline needs all three');</script>
</head><body><h1>Les</h1><p>Tekst.</p></body></html>"""


@pytest.fixture
def sequence_site(db_path) -> Iterator[ThreadedServer]:
    """A page with dependent external tags, behind ConsentMiddleware in this process."""

    async def page(request):
        return HTMLResponse(SEQUENCE_PAGE)

    app = ConsentMiddleware(
        Starlette(routes=[Route("/", page)]),
        settings=Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}"),
    )
    with ThreadedServer(app) as server:
        yield server


def test_revived_external_scripts_load_one_after_another(new_context, sequence_site, stub) -> None:
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(sequence_site.url + "/")
    banner(page).wait_for(state="visible")
    assert page.locator("script[type='text/plain'][data-consent]").count() == 5  # the server held all five
    navigations = mark_page(page)

    page.evaluate("consentGateway.acceptAll()")
    assert stub.wait_for(lambda s: len(s.hits) >= 3), stub.hits
    page.wait_for_function("window.__stub && window.__stub.length === 5")
    assert page.evaluate("window.__stub") == [
        "www.googletagmanager.com/gtag/js",
        "inline needs gtag",
        "static.hotjar.com/c/hotjar-2.js",
        "connect.facebook.net/en_US/fbevents.js",
        "inline needs all three",
    ]
    gtag, hotjar, meta = stub.hits
    assert (gtag.host, hotjar.host, meta.host) == (
        "www.googletagmanager.com",
        "static.hotjar.com",
        "connect.facebook.net",
    )
    # Each request starts only after the previous script arrived, although the first was slowest.
    assert hotjar.at >= gtag.done and meta.at >= hotjar.done, stub.hits
    assert_not_reloaded(page, navigations)
    # No opener on this page: the floating button offers the settings again.
    reopen = page.get_by_role("button", name="Cookie-instellingen")
    assert reopen.is_visible() and "cg-reopen" in reopen.get_attribute("class")
    assert errors == []


# ---- 5. withdrawal ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["api", "settings layer"])
def test_withdrawal_clears_tracker_cookies_and_stops_every_request(new_context, demo_server, stub, how) -> None:
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(demo_server.url + LESSON)
    banner(page).get_by_role("button", name="Alles accepteren", exact=True).click()
    assert stub.wait_for(lambda s: "connect.facebook.net" in requested(s) and "static.hotjar.com" in requested(s))
    settle(page, stub)
    # Trackers left cookies behind (the stubs set _ga, _fbp, _hj..., li_fat_id); add a few more of the usual kind.
    context.add_cookies(
        [
            {"name": name, "value": "x", "domain": "127.0.0.1", "path": "/"}
            for name in ("_ga_DEMO123456", "_gid", "_fbp", "_fbc", "_hjid", "_gcl_au")
        ]
    )
    assert len(tracker_cookies(context)) >= 8
    stub.clear()

    with page.expect_navigation():  # consent shrank: what already ran cannot be unloaded, so the page reloads
        if how == "api":
            page.evaluate("consentGateway.withdraw()")
        else:
            page.locator("footer").get_by_role("link", name="Cookie-instellingen").click()
            settings_layer(page).get_by_role("button", name="Alles weigeren", exact=True).click()
    settle(page, stub)

    assert tracker_cookies(context) == []
    assert contacted(stub) == set(), stub.hits
    assert page.evaluate("window.__stub") is None
    methods = [row["method"] for row in rows(demo_server.db_path)]
    if how == "api":
        assert methods == ["accept_all", "withdraw"]
        assert consent_cookie(context) is None
        banner(page).wait_for(state="visible")  # asked again
    else:
        assert methods == ["accept_all", "reject_all"]
        assert payload(consent_cookie(context))["c"] == ["functional"]
        assert page.locator("#cg-banner").count() == 0
    # Another page after that: still nothing.
    page.goto(demo_server.url + "/")
    settle(page, stub)
    assert contacted(stub) == set() and tracker_cookies(context) == []
    assert errors == []


# ---- 6. the runtime guard ------------------------------------------------------------------------

INJECT = """async (again) => {
  const out = {};
  const s = document.createElement('script');
  s.src = 'https://connect.facebook.net/en_US/fbevents.js' + again;
  document.head.appendChild(s);
  out.script = s.type;
  const t = document.createElement('script');
  t.setAttribute('src', 'https://static.hotjar.com/c/hotjar-3.js');
  document.head.appendChild(t);
  out.fetch = await fetch('https://www.google-analytics.com/g/collect?v=2&tid=G-X', {method: 'POST', mode: 'no-cors'})
    .then(() => 'sent', e => 'held: ' + e.message);
  out.beacon = navigator.sendBeacon('https://www.google-analytics.com/g/collect?v=2&beacon=1', 'x');
  const img = new Image();
  img.src = 'https://www.facebook.com/tr?id=1&ev=PageView' + again;
  out.xhr = await new Promise(done => {
    const x = new XMLHttpRequest();
    x.open('GET', 'https://region1.analytics.google.com/g/collect?v=2&xhr=1');
    x.onload = () => done('sent'); x.onerror = () => done('held');
    x.send();
  });
  out.request = await fetch(new Request('https://region1.google-analytics.com/g/collect?v=2&request=1'))
    .then(() => 'sent', e => 'held: ' + e.message);
  return out;
}"""


def test_runtime_guard_holds_requests_added_by_page_code_until_granted(new_context, shared_demo, stub) -> None:
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(shared_demo.url + "/")
    banner(page).wait_for(state="visible")
    settle(page, stub)

    held = page.evaluate(INJECT, "")
    settle(page, stub, quiet=0.6)
    assert contacted(stub) == set(), stub.hits
    assert held["script"] == "text/plain" and held["beacon"] is False
    assert held["fetch"].startswith("held") and held["request"].startswith("held") and held["xhr"] == "held"
    assert page.locator("script[data-consent-src='https://connect.facebook.net/en_US/fbevents.js']").count() == 1
    assert tracker_cookies(context) == []

    page.evaluate("consentGateway.acceptAll()")
    # What page code added and the guard held comes back with the grant (the detached beacon too).
    revived = {"connect.facebook.net", "static.hotjar.com", "www.facebook.com"}
    assert stub.wait_for(lambda s: revived <= requested(s)), stub.hits
    stub.clear()
    allowed = page.evaluate(INJECT, "?again=1")  # a new URL: nothing cached, nothing coalesced
    assert allowed["fetch"] == allowed["request"] == allowed["xhr"] == "sent" and allowed["beacon"] is True
    expected = {
        "connect.facebook.net",
        "static.hotjar.com",
        "www.google-analytics.com",
        "www.facebook.com",
        "region1.analytics.google.com",
        "region1.google-analytics.com",
    }
    assert stub.wait_for(lambda s: expected <= requested(s)), (
        expected - requested(stub),
        [(h.host, h.path) for h in stub.hits],
    )
    assert errors == []


# Less common ways page code can reach a tracker host; all held.
GUARD_GAPS = [
    pytest.param(
        "const b = document.createElement('div');"
        " b.innerHTML = '<img src=\"https://px.ads.linkedin.com/collect/?pid=2&fmt=gif\">';"
        " document.body.appendChild(b);",
        id="innerHTML into a detached element",
    ),
    pytest.param(
        "const i = new Image(); i.srcset = 'https://www.facebook.com/tr?id=2 1x'; document.body.appendChild(i);",
        id="img srcset",
    ),
    pytest.param(
        "const l = document.createElement('link'); l.rel = 'preload'; l.as = 'script';"
        " l.href = 'https://connect.facebook.net/en_US/fbevents.js'; document.head.appendChild(l);",
        id="link rel=preload",
    ),
    pytest.param(
        "const i = document.createElement('img'); const a = document.createAttribute('src');"
        " a.value = 'https://www.facebook.com/tr?id=3'; i.setAttributeNode(a);",
        id="setAttributeNode",
    ),
    pytest.param(
        "const f = document.createElement('iframe'); document.body.appendChild(f);"
        " f.contentWindow.fetch('https://www.google-analytics.com/g/collect?v=2').catch(() => 0);",
        id="fetch of a fresh iframe's window",
    ),
    pytest.param(
        "const b = document.createElement('div'); document.body.appendChild(b);"
        " b.innerHTML = '<iframe src=\"https://www.youtube.com/embed/later\"></iframe>';",
        id="iframe added as HTML",
    ),
]


@pytest.mark.parametrize("code", GUARD_GAPS)
def test_runtime_guard_gaps(new_context, shared_demo, stub, code) -> None:
    page = new_context().new_page()
    page.goto(shared_demo.url + "/")
    banner(page).wait_for(state="visible")
    assert contacted(stub) == set()
    page.evaluate(code)
    stub.wait_for(contacted, timeout=1.5)  # returns as soon as a tracker host is reached
    assert contacted(stub) == set(), stub.hits


# ---- 7. keyboard only ---------------------------------------------------------------------------

ACTIVE = "document.activeElement && (document.activeElement.textContent || document.activeElement.id)"
FIRST_TABBABLE = """() => {
  const d = document.getElementById('cg-settings');
  return [...d.querySelectorAll('input,button,a[href],summary,select,textarea,[tabindex]')]
    .filter(n => !n.disabled && n.tabIndex >= 0 && n.getClientRects().length)[0] === document.activeElement;
}"""


def test_keyboard_only_choice_with_focus_trapped_in_the_settings_layer(new_context, demo_server) -> None:
    seed_discovery(demo_server.db_path)
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(demo_server.url + "/")
    banner(page).wait_for(state="visible")

    assert page.evaluate("document.activeElement.id") == "cg-title"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "Lees onze privacyverklaring"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "Alles accepteren"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "Alles weigeren"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "Instellingen"
    page.keyboard.press("Enter")
    layer = settings_layer(page)
    layer.wait_for(state="visible")
    layer.locator("ul[data-category='analytics'] li").first.wait_for(state="attached")  # services listed

    # Focus starts on the layer's heading; the switches follow, the required one first (on, unchangeable).
    assert page.evaluate("document.activeElement.id") == "cg-settings-title"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "cg-cat-functional"
    while page.evaluate(ACTIVE) != "cg-cat-analytics":
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('cg-settings').contains(document.activeElement)")
    page.keyboard.press("Space")
    assert layer.get_by_role("switch", name="Statistieken").is_checked()

    visited = []
    for _ in range(20):
        page.keyboard.press("Tab")
        visited.append(page.evaluate(ACTIVE))
        assert page.evaluate("document.getElementById('cg-settings').contains(document.activeElement)"), visited
        if visited[-1] == "Keuze opslaan":
            break
    assert visited[-1] == "Keuze opslaan", visited
    assert "cg-cat-marketing" in visited
    # Trapped: Tab from the last control goes to the first, Shift+Tab back to the last.
    page.keyboard.press("Tab")
    assert page.evaluate(FIRST_TABBABLE), page.evaluate(ACTIVE)
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(ACTIVE) == "Keuze opslaan"

    page.keyboard.press("Enter")
    settings_layer(page).wait_for(state="detached")
    decided = payload(consent_cookie(context))
    assert decided["m"] == "custom" and sorted(decided["c"]) == ["analytics", "functional"]
    [row] = rows(demo_server.db_path)
    assert row["method"] == "custom" and row["granted"] == "functional,analytics"
    assert errors == []


def test_escape_closes_the_settings_layer_without_recording_anything(new_context, demo_server, stub) -> None:
    stub.clear()  # a page of an earlier test in this module may still be finishing a revived request
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(demo_server.url + "/")
    banner(page).wait_for(state="visible")
    for _ in range(4):  # from the heading: privacy statement, accept, reject, settings
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    layer = settings_layer(page)
    layer.wait_for(state="visible")
    while page.evaluate(ACTIVE) != "cg-cat-analytics":
        page.keyboard.press("Tab")
    page.keyboard.press("Space")  # tick Statistieken, then change one's mind
    page.keyboard.press("Escape")
    layer.wait_for(state="detached")

    # Back to the first layer, focus inside it; nothing decided, nothing stored, nothing loaded.
    banner(page).wait_for(state="visible")
    assert page.evaluate("document.getElementById('cg-banner').contains(document.activeElement)")
    settle(page, stub)
    assert consent_cookie(context) is None
    assert rows(demo_server.db_path) == []
    assert contacted(stub) == set()
    assert page.evaluate("window.consentGateway.get()") is None
    assert errors == []


# ---- 8. without JavaScript ------------------------------------------------------------------------


def test_without_javascript_the_footer_link_leads_to_a_working_form(new_context, demo_server, stub) -> None:
    # A Dutch browser: the footer link carries ?lang=nl, and the form goes home afterwards.
    context = new_context(java_script_enabled=False, locale="nl-NL")
    page = context.new_page()
    page.goto(demo_server.url + LESSON)
    assert page.locator("#cg-banner").count() == 0  # no script, no banner: the footer link is the way in
    settle(page, stub)
    assert contacted(stub) == set(), stub.hits  # the <noscript> pixels and iframes wait too

    page.locator("footer").get_by_role("link", name="Cookie-instellingen").click()
    page.wait_for_url(demo_server.url + "/_consent/preferences?lang=nl")
    assert page.get_by_role("heading", name="Cookie-instellingen").is_visible()
    necessary = page.get_by_role("switch", name="Noodzakelijk")
    assert necessary.is_checked() and necessary.is_disabled()
    statistics = page.get_by_role("switch", name="Statistieken", exact=True)
    assert not statistics.is_checked()
    statistics.check()

    with page.expect_navigation():
        page.get_by_role("button", name="Keuze opslaan").click()
    assert page.url == demo_server.url + "/"  # the footer link carries no next, so the form goes home

    decided = payload(consent_cookie(context))
    assert decided["m"] == "custom"
    assert sorted(decided["c"]) == ["analytics", "functional"]  # the cookie lists them sorted
    [row] = rows(demo_server.db_path)
    assert row["method"] == "custom"
    assert row["granted"] == "functional,analytics"
    # Without scripts only <noscript> tags load: GTM's iframe now (Statistieken), never Meta's or LinkedIn's pixel.
    settle(page, stub)
    assert requested(stub) == GOOGLE, stub.hits
    assert [h.path for h in stub.hits] == ["/ns.html?id=GTM-DEMO123"]


def test_without_javascript_the_form_returns_to_the_page_in_next(new_context, demo_server) -> None:
    context = new_context(java_script_enabled=False, locale="nl-NL")
    page = context.new_page()
    page.goto(f"{demo_server.url}/_consent/preferences?next={LESSON}")

    page.get_by_role("switch", name="Statistieken", exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Keuze opslaan").click()
    assert page.url == demo_server.url + LESSON

    assert sorted(payload(consent_cookie(context))["c"]) == ["analytics", "functional"]
    [row] = rows(demo_server.db_path)
    assert row["method"] == "custom"
    assert row["granted"] == "functional,analytics"

    # The form reopens with the stored choice ticked.
    page.goto(f"{demo_server.url}/_consent/preferences?next={LESSON}")
    assert page.get_by_role("switch", name="Statistieken", exact=True).is_checked()
    assert not page.get_by_role("switch", name="Marketing", exact=True).is_checked()


def test_preferences_page_in_english(new_context, shared_demo) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"{shared_demo.url}/_consent/preferences?lang=en")

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Cookie settings").is_visible()
    for label in ("Accept all", "Reject all", "Save my choice"):
        assert page.get_by_role("button", name=label, exact=True).is_visible()
    assert page.get_by_role("switch", name="Statistics", exact=True).is_visible()
    assert page.get_by_role("button", name="Alles weigeren").count() == 0


# ---- 9. the banner on another origin ----------------------------------------------------------------


def remote_page(banner_url: str, head: str = "", body: str = "") -> str:
    return (
        '<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Andere site</title>'
        f'<script src="{banner_url}"></script>{head}</head>'
        f"<body><main><h1>Een site elders</h1><p>Met de banner van de gateway.</p>{body}</main></body></html>"
    )


# Markup written for other consent managers, which sites keep when they switch (script-tag mode).
MARKED_HEAD = (
    # orestbida/cookieconsent
    '<script type="text/plain" data-category="analytics" src="https://www.googletagmanager.com/gtag/js?id=G-CC"></script>'
    '<script type="text/plain" data-category="marketing">'
    "(window.__stub = window.__stub || []).push('cc inline');</script>"
)
# Klaro: an embed, an inline script, and an external script (whose address Klaro keeps in data-src).
KLARO_BODY = (
    '<iframe data-name="youtube" data-src="https://www.youtube.com/embed/klaro" title="Video"></iframe>'
    '<script type="text/plain" data-type="text/javascript" data-name="hotjar">'
    "(window.__stub = window.__stub || []).push('klaro inline');</script>"
)
KLARO_EXTERNAL = '<script type="text/plain" data-type="text/javascript" data-name="hotjar" data-src="https://static.hotjar.com/c/hotjar-9.js"></script>'

UNMARKED_HEAD = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-RAW"></script>'
UNMARKED_BODY = '<img src="https://www.facebook.com/tr?id=9&ev=PageView" alt="">'


class Remote:
    def __init__(self, gateway: Server, allowed: StaticSite, other: StaticSite) -> None:
        self.gateway, self.allowed, self.other = gateway, allowed, other
        banner_url = gateway.url + "/_consent/banner.js"
        allowed.pages["/"] = other.pages["/"] = remote_page(banner_url)
        allowed.pages["/marked"] = remote_page(banner_url, MARKED_HEAD, KLARO_BODY)
        allowed.pages["/klaro-external"] = remote_page(banner_url, body=KLARO_EXTERNAL)
        allowed.pages["/unmarked"] = remote_page(banner_url, UNMARKED_HEAD, UNMARKED_BODY)


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> Iterator[Remote]:
    """The gateway with one allowed site (127.0.0.2) and one that is not listed (127.0.0.3)."""
    db_path = tmp_path_factory.mktemp("remote") / "consent.db"
    with StaticSite("127.0.0.2") as allowed, StaticSite("127.0.0.3") as other:
        gateway = start_demo(db_path, {"GATEWAY_ALLOWED_ORIGINS": allowed.origin})
        seed_discovery(db_path, site="127.0.0.2")  # the allowed site's services, listed cross-origin
        try:
            yield Remote(gateway, allowed, other)
        finally:
            gateway.kill()


def test_banner_loaded_from_the_gateway_into_an_allowed_site(new_context, remote: Remote) -> None:
    gateway, db_path = remote.gateway, remote.gateway.db_path
    before = len(rows(db_path))
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(remote.allowed.origin + "/")
    banner(page).wait_for(state="visible")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url == gateway.url + "/_consent") as answer:
        banner(page).get_by_role("button", name="Alles weigeren", exact=True).click()
    assert answer.value.status == 200
    page.locator("#cg-banner").wait_for(state="detached")

    # The cookie is first-party on the site; the gateway's origin got none (credentials are omitted).
    cookie = consent_cookie(context, "127.0.0.2")
    assert cookie is not None and payload(cookie)["m"] == "reject_all"
    assert consent_cookie(context, "127.0.0.1") is None
    row = rows(db_path)[-1]
    assert len(rows(db_path)) == before + 1
    assert row["method"] == "reject_all" and row["consent_id"] == payload(cookie)["i"]
    # Remembered on the next visit; the floating button offers the settings again, in place.
    page.reload()
    page.get_by_role("button", name="Cookie-instellingen").click()
    layer = settings_layer(page)
    layer.wait_for(state="visible")
    layer.locator("ul[data-category='analytics'] li").first.wait_for(state="attached")  # services, cross-origin
    page.keyboard.press("Escape")
    assert page.locator("#cg-banner").count() == 0
    assert page.evaluate("consentGateway.get().categories") == ["functional"]
    assert errors == []

    # A site that is not listed: the browser refuses the cross-origin POST, nothing is stored.
    page = context.new_page()
    page.goto(remote.other.origin + "/")
    banner(page).wait_for(state="visible")
    failed = []
    page.on("requestfailed", lambda r: failed.append((r.method, r.url)))
    banner(page).get_by_role("button", name="Alles weigeren", exact=True).click()
    page.wait_for_timeout(500)
    assert failed and all(url == gateway.url + "/_consent" for _, url in failed), failed
    assert consent_cookie(context, "127.0.0.3") is None
    assert len(rows(db_path)) == before + 1
    assert banner(page).is_visible()  # nothing recorded, so the question stays
    # And without a browser's CORS check the gateway refuses it itself.
    forged = httpx.post(
        gateway.url + "/_consent",
        json={"action": "accept_all"},
        headers={"Origin": remote.other.origin, "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    assert "access-control-allow-origin" not in forged.headers
    assert len(rows(db_path)) == before + 1


def test_script_tag_mode_honours_markup_of_other_consent_managers(new_context, remote: Remote, stub) -> None:
    context = new_context()
    page = context.new_page()
    errors = watch(page)
    page.goto(remote.allowed.origin + "/marked")
    banner(page).wait_for(state="visible")
    settle(page, stub)
    assert contacted(stub) == set(), stub.hits

    page.evaluate("consentGateway.acceptAll()")
    assert stub.wait_for(lambda s: requested(s) >= GOOGLE | YOUTUBE), stub.hits
    page.wait_for_function("['cc inline', 'klaro inline'].every(x => (window.__stub || []).includes(x))")
    assert errors == []


def test_script_tag_mode_revives_klaro_external_scripts(new_context, remote: Remote, stub) -> None:
    page = new_context().new_page()
    page.goto(remote.allowed.origin + "/klaro-external")
    banner(page).wait_for(state="visible")
    page.evaluate("consentGateway.acceptAll()")
    assert stub.wait_for(lambda s: requested(s) >= HOTJAR, timeout=2), stub.hits


@pytest.mark.xfail(
    strict=True, reason="script-tag mode: Chromium fetches parser-inserted tags before any script can hold them"
)
def test_script_tag_mode_cannot_hold_unmarked_tags(new_context, remote: Remote, stub) -> None:
    page = new_context().new_page()
    page.goto(remote.allowed.origin + "/unmarked")
    banner(page).wait_for(state="visible")
    stub.wait_for(contacted, timeout=1.5)
    assert contacted(stub) == set(), stub.hits


# ---- 10. accessibility and layout ---------------------------------------------------------------------


def no_horizontal_overflow(page, selector: str) -> dict:
    return page.evaluate(
        """(selector) => {
          const el = document.querySelector(selector), r = el.getBoundingClientRect();
          const scroller = document.scrollingElement;
          return {left: r.left, right: r.right, width: innerWidth, elScroll: el.scrollWidth, elClient: el.clientWidth,
                  pageScroll: scroller.scrollWidth, pageClient: scroller.clientWidth};
        }""",
        selector,
    )


def assert_fits(page, selector: str) -> None:
    m = no_horizontal_overflow(page, selector)
    assert m["left"] >= 0 and m["right"] <= m["width"], (selector, m)
    assert m["elScroll"] <= m["elClient"], (selector, m)
    assert m["pageScroll"] <= m["pageClient"], (selector, m)


@pytest.mark.parametrize(
    "viewport,scale",
    [({"width": 320, "height": 640}, 1), ({"width": 640, "height": 400}, 2)],  # a phone; 1280x800 at 200 % zoom
    ids=["320px", "200%"],
)
def test_both_layers_fit_without_horizontal_scroll(new_context, shared_demo, viewport, scale) -> None:
    page = new_context(viewport=viewport, device_scale_factor=scale, reduced_motion="reduce").new_page()
    page.goto(shared_demo.url + "/")
    dialog = banner(page)
    dialog.wait_for(state="visible")
    assert_fits(page, "#cg-banner")
    for name in ("Alles accepteren", "Alles weigeren", "Instellingen"):
        box = dialog.get_by_role("button", name=name, exact=True).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (name, box)
    # It fits the screen's height too (and scrolls inside itself when it must).
    assert dialog.bounding_box()["height"] <= viewport["height"]

    open_settings_from_banner(page)
    page.locator("#cg-settings ul[data-category='analytics'] li").first.wait_for(state="attached")
    assert_fits(page, "#cg-settings .cg-panel")
    save = settings_layer(page).get_by_role("button", name="Keuze opslaan")
    save.scroll_into_view_if_needed()
    box = save.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], box


def test_reduced_motion_disables_the_animation_and_focus_is_visible(new_context, shared_demo) -> None:
    # The banner has no entrance animation (its visibility, opacity and transform are locked against
    # page CSS); with reduced motion nothing moves either.
    animation = "getComputedStyle(document.getElementById('cg-banner')).animationName"
    still = new_context(reduced_motion="reduce").new_page()
    still.goto(shared_demo.url + "/")
    banner(still).wait_for(state="visible")
    assert still.evaluate(animation) == "none"

    outline = (
        "(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth] })()"
    )
    still.keyboard.press("Tab")  # from the heading to the privacy statement; focus moved by keyboard
    for name in ("Alles accepteren", "Alles weigeren", "Instellingen"):
        still.keyboard.press("Tab")
        assert still.evaluate(ACTIVE) == name
        assert still.evaluate(outline) == ["solid", "3px"], name
    still.keyboard.press("Enter")
    settings_layer(still).wait_for(state="visible")
    assert still.evaluate("document.activeElement.id") == "cg-settings-title"
    while still.evaluate(ACTIVE) != "cg-cat-analytics":
        still.keyboard.press("Tab")
    assert still.evaluate(outline) == ["solid", "3px"]


# ---- 11. screenshots for people to look at -------------------------------------------------------------


def test_screenshots_of_both_layers(new_context, shared_demo) -> None:
    page = new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce").new_page()
    page.goto(shared_demo.url + LESSON)
    banner(page).wait_for(state="visible")
    page.screenshot(path=str(LAYER1_SHOT), animations="disabled")
    layer = open_settings_from_banner(page)
    layer.locator("ul[data-category='analytics'] li").first.wait_for(state="attached")
    page.screenshot(path=str(LAYER2_SHOT), animations="disabled")
    assert LAYER1_SHOT.stat().st_size > 10_000 and LAYER2_SHOT.stat().st_size > 10_000


def test_settings_layer_closes_with_a_visible_button_without_recording(new_context, demo_server) -> None:
    page = new_context().new_page()
    page.goto(demo_server.url + "/")
    banner(page).get_by_role("button", name="Instellingen", exact=True).click()
    layer = settings_layer(page)
    layer.wait_for(state="visible")
    layer.get_by_role("button", name="Sluiten", exact=True).click()
    banner(page).wait_for(state="visible")
    assert rows(demo_server.db_path) == []


def test_a_choice_that_cannot_be_recorded_is_said_so(new_context, demo_server) -> None:
    context = new_context()
    page = context.new_page()
    page.goto(demo_server.url + "/")
    page.route("**/_consent", lambda route: route.fulfill(status=503, body='{"error": "store_unavailable"}'))
    banner(page).get_by_role("button", name="Alles weigeren", exact=True).click()
    alert = banner(page).get_by_role("alert")
    alert.wait_for(state="visible")
    assert "niet worden opgeslagen" in alert.text_content()
    assert consent_cookie(context) is None


@pytest.mark.parametrize("layer", ["banner", "settings"])
def test_both_layers_pass_axe_core(new_context, shared_demo, layer) -> None:
    axe = axe_script()
    page = new_context().new_page()
    page.goto(shared_demo.url + "/")
    banner(page).wait_for(state="visible")
    selector = "#cg-banner"
    if layer == "settings":
        open_settings_from_banner(page)
        page.locator("#cg-settings ul[data-category='analytics'] li").first.wait_for(state="attached")
        selector = "#cg-settings"
    assert axe_violations(page, axe, selector) == []
