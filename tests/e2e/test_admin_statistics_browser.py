"""The admin's "Statistics" page in Debian's Chromium: the charts drawn, the filter and site selector used
through the real form, the page fitting the window, and axe-core, in Dutch and English.

Screenshots are saved in the test's temporary directory (``admin-statistics-*.png``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest
from support.helpers import ThreadedServer, axe_script, chromium, site
from support.records import ADMIN, PASSWORD, admin_settings

from gateway import ConsentMiddleware
from gateway.store import open_store
from gateway.store.statistics import Tally

pytestmark = pytest.mark.browser

SITE, OTHER_SITE = "www.cursus.nl", "www.oefenplein.nl"
FIRST, LAST = date(2025, 1, 1), date(2025, 4, 30)
ROLLED_BEFORE = date(2025, 3, 1)  # January and February become month rows
PAGES = ("/breuken/les-1", "/breuken/les-2", "/procenten", "/cursus/wiskunde-b-havo-4/hoofdstuk-3/paragraaf-2/les-12")
RANGE = f"from={FIRST.isoformat()}&to={LAST.isoformat()}"


def figures() -> dict[Tally, tuple[int, int]]:
    """Four months of a learning site, quieter at weekends, and one day of a second site."""
    chooser = random.Random(19)
    counts: dict[Tally, tuple[int, int]] = {}
    for offset in range((LAST - FIRST).days + 1):
        day = FIRST + timedelta(days=offset)
        visitors = chooser.randint(5, 12) if day.weekday() >= 5 else chooser.randint(30, 60)
        views = visitors * 3
        counts[Tally(day, SITE, "total", "")] = (views, visitors)
        for n, path in enumerate(PAGES):
            counts[Tally(day, SITE, "path", path)] = (views // (n + 2), visitors // (n + 2))
        counts[Tally(day, SITE, "group", "Breuken")] = (views // 2, visitors // 2)
        counts[Tally(day, SITE, "referrer", "www.wikiwijs.nl")] = (visitors // 3, visitors // 3)
        for value, part in (("Firefox", 2), ("Chrome", 3), ("Safari", 6)):
            counts[Tally(day, SITE, "browser", value)] = (views // part, visitors // part)
        for value, part in (("desktop", 2), ("mobile", 3)):
            counts[Tally(day, SITE, "device", value)] = (views // part, visitors // part)
        counts[Tally(day, SITE, "language", "nl")] = (views, visitors)
        for value, part in (("none", 4), ("rejected", 3), ("partial", 6), ("all", 4)):
            counts[Tally(day, SITE, "consent", value)] = (views // part, visitors // part)
        counts[Tally(day, SITE, "bot", "Googlebot")] = (chooser.randint(10, 40), 0)
    counts[Tally(LAST, OTHER_SITE, "total", "")] = (9, 4)
    return counts


def fill(db_path: Path) -> None:
    async def write() -> None:
        store = open_store(f"sqlite:///{db_path}")
        await store.open()
        try:
            await store.add_statistics(figures())
            await store.roll_up_statistics(ROLLED_BEFORE)
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, write()).result()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium("MAP * ~NOTFOUND, EXCLUDE 127.0.0.1") as browser:  # nothing but the gateway is reachable
        yield browser


@pytest.fixture
def gateway(db_path: Path) -> Iterator[ThreadedServer]:
    fill(db_path)
    with ThreadedServer(ConsentMiddleware(site(), settings=admin_settings(db_path))) as server:
        yield server


def open_page(browser, gateway: ThreadedServer, target: str, **options):
    """A new context signed in to the admin at ``target``."""
    context = browser.new_context(**{"viewport": {"width": 1100, "height": 900}, **options})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(gateway.url + target)
    page.fill("input[name=user]", "fg")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return context, page


def test_the_charts_draw_days_and_rolled_up_months_and_the_filter_works(browser, gateway, tmp_path: Path) -> None:
    context, page = open_page(browser, gateway, f"{ADMIN}/statistics?{RANGE}")
    assert page.inner_text("h1") == "Statistics of all sites, 2025-01-01 to 2025-04-30"
    charts = page.locator("svg.chart")
    assert charts.count() == 2  # the months first, then the days
    for index in range(2):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 200
    bars = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart')].map(svg =>
               [...svg.querySelectorAll('rect > title')].map(t => ({
                 title: t.textContent, height: t.parentElement.getBBox().height})))"""
    )
    months, days = bars
    assert [bar["title"].split(" ")[0] for bar in months] == ["2025-01", "2025-01", "2025-02", "2025-02"]
    assert len(days) == 2 * ((LAST - ROLLED_BEFORE).days + 1)  # views and visitors per day, the sites added up
    assert all(bar["height"] > 0 for bar in months + days)
    assert max(bar["height"] for bar in months) > 150  # the tallest bar nearly fills the plot
    assert "pages requested by crawlers, not counted as visitors" in page.inner_text("main")
    assert page.locator("text=Accepted some").count() == 1
    page.screenshot(path=str(tmp_path / "admin-statistics.png"), full_page=True)

    # The header's navigation leads here; the form filters by site and range.
    page.click("header nav >> text=Statistics")
    assert page.url.endswith(f"{ADMIN}/statistics")
    page.goto(f"{gateway.url}{ADMIN}/statistics?{RANGE}")
    page.select_option("select[name=site]", OTHER_SITE)
    page.fill("input[name=from]", "2025-04-30")
    page.click("main form button")
    assert page.inner_text("h1") == "Statistics of www.oefenplein.nl, 2025-04-30 to 2025-04-30"
    assert "Page views: 9 · visitors: 4" in page.inner_text("main")
    with page.expect_download() as download:
        page.click("text=Download these figures as CSV")
    saved = download.value.path()
    assert download.value.suggested_filename == f"statistics-{OTHER_SITE}-2025-04-30-to-2025-04-30.csv"
    assert Path(saved).read_text().splitlines() == [
        "day,span,site,dimension,value,views,visitors",
        f"2025-04-30,day,{OTHER_SITE},total,,9,4",
    ]
    context.close()


WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
LOCALES = {"nl": ("nl-NL", "Statistieken van alle sites"), "en": ("en-GB", "Statistics of all sites")}


@pytest.mark.parametrize("language", LOCALES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_fits_the_window_and_passes_axe_core(browser, gateway, tmp_path: Path, language, width) -> None:
    axe = axe_script()
    locale, heading = LOCALES[language]
    viewport = dict(zip(("width", "height"), WIDTHS[width], strict=True))
    # axe-core is added as a script of its own, which the admin's CSP would refuse.
    context, page = open_page(
        browser, gateway, f"{ADMIN}/statistics?{RANGE}", viewport=viewport, locale=locale, bypass_csp=True
    )
    assert page.get_attribute("html", "lang") == language
    assert page.inner_text("h1").startswith(heading)
    page.click("summary")  # the chart's table open too, so axe-core judges it
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(tmp_path / f"admin-statistics-{language}-{width}.png"), full_page=True)
    page.add_script_tag(path=str(axe))
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document);
          return {passes: r.passes.length, violations: r.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))};
        }"""
    )
    assert result["passes"] >= 10, result
    assert result["violations"] == []
    context.close()
