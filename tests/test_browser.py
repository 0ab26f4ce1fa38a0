"""The banner and the preferences form in a real browser: Debian's Chromium through Playwright.

Every test runs against ``consent-gateway demo`` on a loopback port. Chromium
resolves every host name to 127.0.0.1, and each context aborts any request
that is not for the demo server, so nothing leaves the machine.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import Server, rows

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--host-resolver-rules=MAP * 127.0.0.1",
]
LESSON = "/cursus/excel-voor-beginners"
SCREENSHOT_COPY = Path("/tmp/banner-first-visit.png")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # CI installs Chromium; a missing one is a broken setup, not a reason to skip.
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(browser, demo_server: Server) -> Iterator[object]:
    """Open fresh contexts that only ever reach the demo server; close them after the test."""
    contexts = []
    own = urlsplit(demo_server.url).netloc

    def keep_local(route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            route.abort()

    def open_context(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        context.route("**/*", keep_local)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


def consent_cookie(context) -> dict | None:
    for cookie in context.cookies():
        if cookie["name"] == "consent":
            return cookie
    return None


def payload(cookie: dict) -> dict:
    """The JSON part of ``<base64url json>.<ts>.<sig>``."""
    encoded = cookie["value"].strip('"').split(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def banner(page):
    return page.get_by_role("dialog", name="Cookies op deze leeromgeving")


def test_first_visit_shows_an_accessible_banner_where_reject_is_as_easy_as_accept(new_context, demo_server) -> None:
    context = new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(demo_server.url + "/")

    dialog = banner(page)
    dialog.wait_for(state="visible")
    assert dialog.get_attribute("id") == "cg-banner"
    assert dialog.get_by_role("heading", name="Cookies op deze leeromgeving").is_visible()
    assert dialog.get_by_role("link", name="Lees onze privacyverklaring").is_visible()

    accept = dialog.get_by_role("button", name="Alles accepteren", exact=True)
    reject = dialog.get_by_role("button", name="Alles weigeren", exact=True)
    settings = dialog.get_by_role("link", name="Instellingen", exact=True)
    for control in (accept, reject, settings):
        assert control.is_visible()
    assert accept.get_attribute("data-action") == "accept_all"
    assert reject.get_attribute("data-action") == "reject_all"
    assert "cg-button" in settings.get_attribute("class")
    assert settings.get_attribute("href") == "/_consent/preferences?lang=nl&next=%2F"

    # Reject is exactly as visible and as big as accept.
    accept_box, reject_box, settings_box = accept.bounding_box(), reject.bounding_box(), settings.bounding_box()
    assert abs(accept_box["width"] - reject_box["width"]) <= 2, (accept_box, reject_box)
    assert abs(accept_box["height"] - reject_box["height"]) <= 2, (accept_box, reject_box)
    assert abs(accept_box["height"] - settings_box["height"]) <= 2, (accept_box, settings_box)
    assert abs(accept_box["width"] - settings_box["width"]) <= 2, (accept_box, settings_box)
    look = "e => { const s = getComputedStyle(e); return [s.color, s.backgroundColor, s.font, s.opacity] }"
    assert accept.evaluate(look) == reject.evaluate(look)

    # Keyboard users start inside the banner, on its first button.
    assert page.evaluate("document.getElementById('cg-banner').contains(document.activeElement)")
    assert page.evaluate("document.activeElement.dataset.action") == "accept_all"

    # Nothing decided, nothing stored.
    assert consent_cookie(context) is None
    assert page.locator("#cg-reopen").count() == 0
    assert rows(demo_server.db_path) == []


def test_reject_all_is_stored_remembered_and_recorded(new_context, demo_server) -> None:
    context = new_context()
    page = context.new_page()
    page.goto(demo_server.url + "/")

    with page.expect_navigation():  # the banner reloads the page once the choice is recorded
        banner(page).get_by_role("button", name="Alles weigeren").click()
    page.locator("#cg-reopen").wait_for(state="visible")

    cookie = consent_cookie(context)
    assert cookie is not None and not cookie["httpOnly"]
    decided = payload(cookie)
    assert decided["c"] == ["functional"]
    assert decided["m"] == "reject_all"
    assert page.evaluate("window.consentGateway.get().method") == "reject_all"

    assert page.locator("#cg-banner").count() == 0
    reopen = page.locator("#cg-reopen")
    assert reopen.inner_text() == "Cookie-instellingen"
    assert reopen.get_attribute("href") == "/_consent/preferences?lang=nl&next=%2F"

    [row] = rows(demo_server.db_path)
    assert row["method"] == "reject_all"
    assert row["granted"] == "functional"
    assert row["consent_id"] == decided["i"]

    page.goto(demo_server.url + LESSON)
    page.locator("#cg-reopen").wait_for(state="visible")
    assert page.locator("#cg-banner").count() == 0
    assert len(rows(demo_server.db_path)) == 1


def test_accept_all_with_the_keyboard_only(new_context, demo_server) -> None:
    context = new_context()
    page = context.new_page()
    page.goto(demo_server.url + "/")
    banner(page).wait_for(state="visible")

    # Tab forward to "Alles weigeren" and back: focus moves between the banner's buttons.
    assert page.evaluate("document.activeElement.dataset.action") == "accept_all"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.action") == "reject_all"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.dataset.action") == "accept_all"

    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.locator("#cg-reopen").wait_for(state="visible")

    decided = payload(consent_cookie(context))
    assert decided["m"] == "accept_all"
    assert set(decided["c"]) == {"functional", "analytics", "marketing"}
    [row] = rows(demo_server.db_path)
    assert row["method"] == "accept_all"
    assert set(row["granted"].split(",")) == {"functional", "analytics", "marketing"}
    assert page.locator("#cg-banner").count() == 0


def test_without_javascript_the_footer_link_leads_to_a_working_form(new_context, demo_server) -> None:
    # A Dutch browser: the footer link carries no ?lang=, so the form follows Accept-Language.
    context = new_context(java_script_enabled=False, locale="nl-NL")
    page = context.new_page()
    page.goto(demo_server.url + LESSON)
    assert page.locator("#cg-banner").count() == 0  # no script, no banner: the footer link is the way in

    page.locator("footer").get_by_role("link", name="Cookie-instellingen").click()
    page.wait_for_url(demo_server.url + "/_consent/preferences?lang=nl")
    assert page.get_by_role("heading", name="Cookie-instellingen").is_visible()
    necessary = page.get_by_role("checkbox", name="Noodzakelijk")
    assert necessary.is_checked() and necessary.is_disabled()
    statistics = page.get_by_role("checkbox", name="Statistieken", exact=True)
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


def test_without_javascript_the_form_returns_to_the_page_in_next(new_context, demo_server) -> None:
    context = new_context(java_script_enabled=False, locale="nl-NL")
    page = context.new_page()
    page.goto(f"{demo_server.url}/_consent/preferences?next={LESSON}")

    page.get_by_role("checkbox", name="Statistieken", exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Keuze opslaan").click()
    assert page.url == demo_server.url + LESSON

    assert sorted(payload(consent_cookie(context))["c"]) == ["analytics", "functional"]
    [row] = rows(demo_server.db_path)
    assert row["method"] == "custom"
    assert row["granted"] == "functional,analytics"

    # The form reopens with the stored choice ticked.
    page.goto(f"{demo_server.url}/_consent/preferences?next={LESSON}")
    assert page.get_by_role("checkbox", name="Statistieken", exact=True).is_checked()
    assert not page.get_by_role("checkbox", name="Marketing", exact=True).is_checked()


def test_preferences_page_in_english(new_context, demo_server) -> None:
    page = new_context().new_page()
    page.goto(f"{demo_server.url}/_consent/preferences?lang=en")

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Cookie settings").is_visible()
    for label in ("Accept all", "Reject all", "Save my choice"):
        assert page.get_by_role("button", name=label, exact=True).is_visible()
    assert page.get_by_role("checkbox", name="Statistics", exact=True).is_visible()
    assert page.get_by_role("button", name="Alles weigeren").count() == 0


def test_banner_screenshots_and_fit_on_a_narrow_phone(new_context, demo_server, tmp_path) -> None:
    wide = new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce").new_page()
    wide.goto(demo_server.url + "/")
    banner(wide).wait_for(state="visible")
    wide_shot = tmp_path / "banner-1280.png"
    wide.screenshot(path=str(wide_shot), animations="disabled")
    shutil.copyfile(wide_shot, SCREENSHOT_COPY)
    assert wide_shot.stat().st_size > 0

    narrow = new_context(viewport={"width": 320, "height": 640}, reduced_motion="reduce").new_page()
    narrow.goto(demo_server.url + "/")
    dialog = banner(narrow)
    dialog.wait_for(state="visible")
    narrow_shot = tmp_path / "banner-320.png"
    narrow.screenshot(path=str(narrow_shot), animations="disabled")
    assert narrow_shot.stat().st_size > 0

    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 320, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= 640, box
    for name in ("Alles accepteren", "Alles weigeren", "Instellingen"):
        control = dialog.get_by_role("button" if name != "Instellingen" else "link", name=name, exact=True)
        control_box = control.bounding_box()
        assert control_box["x"] >= 0 and control_box["x"] + control_box["width"] <= 320, (name, control_box)
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 320


def third_party_hosts(context, own: str) -> list[str]:
    """Record every request the page makes to a host other than the demo server."""
    seen: list[str] = []
    context.on("request", lambda request: seen.append(urlsplit(request.url).hostname) if urlsplit(request.url).netloc != own else None)
    return seen


GOOGLE = {"www.googletagmanager.com"}
MARKETING = {"connect.facebook.net", "snap.licdn.com", "www.youtube.com", "stats.partnernetwerk-demo.nl"}


def test_no_tracker_request_before_a_choice_or_after_reject(new_context, demo_server) -> None:
    context = new_context()
    seen = third_party_hosts(context, urlsplit(demo_server.url).netloc)
    page = context.new_page()
    page.goto(demo_server.url + LESSON)
    page.wait_for_load_state("networkidle")
    assert seen == []
    assert page.evaluate("window.dataLayer && window.dataLayer[0][0]") == "consent"  # Consent Mode default came first
    assert page.locator("iframe[data-consent-src]").count() == 1  # the video waits behind a placeholder
    with page.expect_navigation():
        banner(page).get_by_role("button", name="Alles weigeren", exact=True).click()
    page.wait_for_load_state("networkidle")
    page.reload()
    page.wait_for_load_state("networkidle")
    assert seen == []
    assert not [c for c in context.cookies() if c["name"].startswith(("_ga", "_fbp", "_hj"))]


def test_analytics_only_loads_google_and_nothing_else(new_context, demo_server) -> None:
    context = new_context()
    seen = third_party_hosts(context, urlsplit(demo_server.url).netloc)
    page = context.new_page()
    page.goto(demo_server.url + LESSON)
    page.evaluate(
        "fetch('/_consent', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({action: 'custom', categories: ['analytics']})})"
    )
    page.reload()
    page.wait_for_load_state("networkidle")
    assert set(seen) & GOOGLE
    assert not set(seen) & MARKETING


def test_accept_all_loads_every_tracker(new_context, demo_server) -> None:
    context = new_context()
    seen = third_party_hosts(context, urlsplit(demo_server.url).netloc)
    page = context.new_page()
    page.goto(demo_server.url + LESSON)
    with page.expect_navigation():
        banner(page).get_by_role("button", name="Alles accepteren", exact=True).click()
    page.wait_for_load_state("networkidle")
    assert GOOGLE | {"connect.facebook.net", "www.youtube.com", "stats.partnernetwerk-demo.nl"} <= set(seen)
