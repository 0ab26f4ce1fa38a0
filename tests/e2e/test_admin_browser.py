"""The admin in Debian's Chromium: sign in, read the charts, erase a consent with real form posts,
copy a snippet from the third-party page, and axe-core on that page.

The dashboard screenshot is saved in the test's temporary directory
(``admin-dashboard.png``) so a person can look at it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from support.browser import axe_violations
from support.helpers import ThreadedServer, axe_script, rows, site
from support.records import ADMIN, ALICE, PASSWORD, add_sightings, admin_settings, audit, record_on, seed

from gateway import ConsentMiddleware, Settings

pytestmark = pytest.mark.browser

FIRST_DAY = date(2025, 3, 1)
DAYS = 21
METHODS = ("accept_all", "reject_all", "custom", "gpc", "withdraw")
DESKTOP = {"width": 1100, "height": 900}


def seeded_choices() -> list:
    """Three weeks of choices, fewer at weekends, with accept-all slowly giving way to reject-all."""
    chooser = random.Random(7)
    records = []
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        if offset == 9:
            continue  # a day without choices leaves a gap
        count = 6 if day.weekday() >= 5 else 18
        for n in range(count):
            weights = (50 - offset, 20 + offset, 15, 8, 3)
            method = chooser.choices(METHODS, weights)[0]
            consent_id = f"00000000-0000-4000-8000-{offset:06d}{n:06d}"
            records.append(record_on(consent_id, f"{day.isoformat()} {8 + n % 12:02d}:{n:02d}:00", method))
    records.append(record_on(ALICE, "2025-03-05 10:00:00", "custom"))
    return records


# browser and new_context: tests/e2e/conftest.py


@pytest.fixture(scope="module")
def resolver_rules() -> str:
    return "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"  # nothing but the gateway is reachable (and no tracker stub)


@pytest.fixture(scope="module")
def context_options() -> dict:
    return {}  # plain HTTP on loopback: no certificate to overlook


@pytest.fixture
def gateway(db_path: Path) -> Iterator[ThreadedServer]:
    seed(db_path, seeded_choices())
    with ThreadedServer(ConsentMiddleware(site(), settings=admin_settings(db_path))) as server:
        yield server


@pytest.fixture
def page(new_context, gateway: ThreadedServer):
    return new_context(viewport=DESKTOP).new_page()


def sign_in(page, gateway: ThreadedServer, target: str) -> None:
    page.goto(gateway.url + target)
    assert page.url.startswith(f"{gateway.url}{ADMIN}/login?next=")
    page.fill("input[name=user]", "fg")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def signed_in(new_context, gateway: ThreadedServer, target: str, **options):
    """A page in a context of its own (``options``: viewport, locale, ...), signed in, at ``target``."""
    page = new_context(**{"viewport": DESKTOP, **options}).new_page()
    sign_in(page, gateway, target)
    return page


def test_the_dashboard_charts_render(page, gateway: ThreadedServer, tmp_path: Path) -> None:
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    sign_in(page, gateway, f"{ADMIN}?from={FIRST_DAY.isoformat()}&to={last.isoformat()}")
    assert page.url.endswith(f"{ADMIN}?from=2025-03-01&to=2025-03-21")
    assert "Consent rates, 2025-03-01 to 2025-03-21" in page.inner_text("h1")
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    for index in range(2):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 200

    # One stacked bar per day with choices; its segments fill the plot height (shares add up to 100 %).
    segments = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart')[0].querySelectorAll('rect > title')].map(t => {
               const r = t.parentElement.getBBox();
               return {day: t.textContent.slice(0, 10), x: r.x, height: r.height,
                       fill: getComputedStyle(t.parentElement).fill};
           })"""
    )
    by_day: dict[str, float] = {}
    for segment in segments:
        by_day[segment["day"]] = by_day.get(segment["day"], 0) + segment["height"]
    assert len(by_day) == DAYS - 1 and "2025-03-10" not in by_day
    assert all(abs(height - by_day["2025-03-01"]) < 0.5 for height in by_day.values())
    assert by_day["2025-03-01"] > 150
    assert len({s["fill"] for s in segments}) == len(METHODS)

    # A line per optional category, broken at the empty day.
    lines = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart')[1].querySelectorAll('path')].map(p => ({
               length: p.getTotalLength(), moves: (p.getAttribute('d').match(/M/g) || []).length}))"""
    )
    optional = len(Settings(demo=True).category_names) - 1  # analytics, marketing, other third parties
    assert len(lines) == optional and all(line["length"] > 300 and line["moves"] == 2 for line in lines)

    # The page's own styles apply under its CSP (header colour), and the table lists the 20 days.
    assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(11, 79, 138)"
    assert page.locator("table tbody tr").count() == DAYS - 1
    shot = tmp_path / "admin-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000


def test_erasure_through_real_forms(page, gateway: ThreadedServer, db_path: Path) -> None:
    sign_in(page, gateway, ADMIN)
    page.fill("input[name=id]", ALICE)
    page.click("main form[action$='/consents'] button")
    assert "History of " + ALICE in page.inner_text("main")
    page.click("text=Erase this 1 record")
    page.click("button.danger")  # the confirmation box is required: the browser does not send the form
    assert page.url.endswith(f"{ADMIN}/erase?id={ALICE}")
    assert ALICE in {row["consent_id"] for row in rows(db_path)}
    page.check("input[name=confirm]")
    page.click("button.danger")
    assert "Erased 1 record of consent" in page.inner_text("main")
    assert ALICE not in {row["consent_id"] for row in rows(db_path)}
    page.click("text=Audit log")
    assert page.locator("tbody tr").first.inner_text().split("\t")[1:3] == ["fg", "erase"]
    page.click("text=Sign out")
    assert page.url.endswith(f"{ADMIN}/login")
    assert [e["action"] for e in audit(db_path)] == ["login", "lookup", "erase", "logout"]


@pytest.fixture
def discovered(db_path: Path) -> Iterator[ThreadedServer]:
    """A gateway whose discovery table knows a few third parties of two sites."""
    url = f"sqlite:///{db_path}"
    add_sightings(
        url,
        "www.leerplein.nl",
        [
            ("script", "www.googletagmanager.com", "google-analytics", 12),
            ("iframe", "www.youtube-nocookie.com", "youtube", 3),
            ("script", "cdnjs.cloudflare.com", None, 40),
            ("script", "widgets.onbekend.example", None, 5),
            ("stylesheet", "fonts.onbekend.example", None, 7),
            ("cookie", "_ga", "google-analytics", 12),
            ("cookie", "<b>MoodleSession</b>", None, 40),
        ],
    )
    add_sightings(url, "www.oefenplein.nl", [("script", "static.hotjar.com", "hotjar", 2)])
    with ThreadedServer(ConsentMiddleware(site(), settings=admin_settings(db_path))) as server:
        yield server


def test_the_third_party_page_copies_snippets_and_passes_axe_core(new_context, discovered: ThreadedServer) -> None:
    axe = axe_script()
    # The page's own CSP holds: the copy buttons come from the one script it allows.
    context = new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=discovered.url)
    page = context.new_page()
    refused: list[str] = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    sign_in(page, discovered, ADMIN)
    page.click("header nav >> text=Third parties")
    assert page.url.endswith(f"{ADMIN}/third-parties")
    assert page.inner_text("h1") == "Third parties on www.leerplein.nl"
    first = page.locator("tbody tr").first
    assert first.get_attribute("class") == "unknown"
    assert page.locator("td code", has_text="<b>MoodleSession</b>").count() == 1  # shown as text, not markup
    snippet = page.locator("pre.snippet").first
    page.locator("button.copy").first.click()
    page.locator("[role=status]", has_text="Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == snippet.inner_text()
    assert refused == []

    page.select_option("select[name=site]", "www.oefenplein.nl")
    page.click("main form button")
    assert page.inner_text("h1") == "Third parties on www.oefenplein.nl"
    assert page.locator("tbody tr").count() == 1 and page.locator("pre.snippet").count() == 0
    context.close()

    # axe-core is added as a script of its own, which the admin's CSP would refuse.
    page = signed_in(new_context, discovered, f"{ADMIN}/third-parties", bypass_csp=True)
    page.locator("button.copy").first.wait_for()
    assert axe_violations(page, axe, min_passes=10) == []


# ---- languages and narrow screens ----------------------------------------------------------------

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
LOCALES = {
    "nl": ("nl-NL", "Toestemming opzoeken", "Geschiedenis van"),
    "en": ("en-GB", "Look up a consent", "History of"),
}


def realistic(record, n: int, path: str):
    """A record as the gateway writes them: a full SHA-256 banner hash, a long page path, an IPv6 network."""
    return replace(
        record,
        banner_hash=hashlib.sha256(str(n).encode()).hexdigest(),
        page_path=path,
        ip_prefix="2001:db8:abcd::" if n % 2 else "203.0.113.0",
        browser="Chrome Mobile WebView",
    )


@pytest.fixture
def looked_up(db_path: Path) -> Iterator[ThreadedServer]:
    long_path = "/cursus/wiskunde-b-havo-4/hoofdstuk-3-differentieren/paragraaf-3-2-de-kettingregel/les-12"
    history = [
        realistic(record_on(ALICE, f"2025-03-0{day} 10:00:00", method), day, long_path + f"?onderdeel={day}")
        for day, method in ((2, "accept_all"), (3, "custom"), (4, "reject_all"))
    ]
    seed(db_path, history)
    with ThreadedServer(ConsentMiddleware(site(), settings=admin_settings(db_path, default_language="nl"))) as server:
        yield server


def overflow(page) -> dict:
    """How far the page, and each table, reach past what is visible: 0 when nothing is cut off."""
    return page.evaluate(
        """() => ({
          page: document.documentElement.scrollWidth - window.innerWidth,
          tables: [...document.querySelectorAll('main table')].map(table => {
            const box = table.getBoundingClientRect(), section = table.closest('section').getBoundingClientRect();
            let scroll = 0;
            for (let node = table.parentElement; node; node = node.parentElement) {
              scroll = Math.max(scroll, node.scrollWidth - node.clientWidth);
            }
            const cells = [...table.querySelectorAll('td')].map(td => td.getBoundingClientRect());
            return {past_section: Math.round(box.right - section.right), scroll,
                    cells_past: cells.filter(c => c.right > window.innerWidth + 0.5 || c.left < -0.5).length};
          }),
        })"""
    )


@pytest.mark.parametrize("language", LOCALES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_lookup_fits_the_window_in_both_languages_and_passes_axe_core(
    new_context, looked_up: ThreadedServer, tmp_path: Path, language: str, width: str
) -> None:
    axe = axe_script()
    locale, heading, history = LOCALES[language]
    viewport = dict(zip(("width", "height"), WIDTHS[width], strict=True))
    target = f"{ADMIN}/consents?id={ALICE}"
    # axe-core is added as a script of its own, which the admin's CSP would refuse.
    page = signed_in(new_context, looked_up, target, viewport=viewport, locale=locale, bypass_csp=True)
    assert page.get_attribute("html", "lang") == language
    assert page.inner_text("h1") == heading and history in page.inner_text("h2")
    assert page.locator("table.records tbody tr").count() == 3
    measured = overflow(page)
    assert measured["page"] <= 0, measured
    assert all(t["past_section"] <= 0 and t["scroll"] <= 0 and t["cells_past"] == 0 for t in measured["tables"])
    if width == "phone":  # each record a card, every value headed by its column's name
        first = page.locator("table.records tbody tr").first
        assert first.locator("td").nth(6).evaluate("td => getComputedStyle(td, '::before').content") != "none"
        assert page.locator("table.records thead").evaluate("head => head.getBoundingClientRect().width") <= 1
    page.screenshot(path=str(tmp_path / f"admin-lookup-{language}-{width}.png"), full_page=True)
    assert axe_violations(page, axe, min_passes=10) == []


def test_the_header_link_switches_the_language_for_the_next_pages_too(new_context, looked_up: ThreadedServer) -> None:
    target = f"{ADMIN}/consents?id={ALICE}"
    page = signed_in(new_context, looked_up, target, viewport={"width": 1280, "height": 800}, locale="nl-NL")
    assert "Deze 3 registraties wissen…" in page.inner_text("main")
    page.click("header >> text=English")
    assert page.get_attribute("html", "lang") == "en" and f"id={ALICE}" in page.url  # the same page, in English
    page.click("text=Erase these 3 records…")
    assert "these 3 records of consent" in page.inner_text("main")
    assert page.get_attribute("html", "lang") == "en"  # the cookie carries the choice on
    page.click("header >> text=Nederlands")
    assert page.inner_text("h1") == "Een toestemming wissen"
