"""The statistics page's figures, added up from what the real store (SQLite and PostgreSQL) gives back:
top values, shares, the chart's days and rolled-up months, the filter, the CSV."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from gateway.admin.chart import PLOT_HEIGHT, Series, count_bars, nice_top
from gateway.admin.language import Texts
from gateway.admin.period import Period, PeriodError
from gateway.admin.statistics import (
    COLUMNS,
    MAX_STATISTICS_DAYS,
    TOP,
    charts,
    consent_shares,
    csv_chunks,
    csv_filename,
    overview,
    read_filter,
    top_values,
)
from gateway.store import ConsentStore
from gateway.store.statistics import OTHER, Tally

pytestmark = pytest.mark.anyio
SITE, OTHER_SITE = "www.cursus.nl", "www.oefenplein.nl"
D1 = date(2026, 3, 2)
D2 = D1 + timedelta(days=1)
SVG = "{http://www.w3.org/2000/svg}"


def tallies(day: date, dimension: str, counts: dict[str, tuple[int, int]], site: str = SITE) -> dict:
    return {Tally(day, site, dimension, value): pair for value, pair in counts.items()}


async def test_top_values_rank_pages_by_views_and_browsers_by_visitors(store: ConsentStore) -> None:
    pages = {f"/les-{n}": (100 - n, n) for n in range(TOP + 2)} | {OTHER: (7, 1)}
    await store.add_statistics(tallies(D1, "path", pages))
    await store.add_statistics(tallies(D2, "path", {"/les-11": (200, 0)}))
    browsers = {"Firefox": (10, 6), "Chrome": (30, 3), "Safari": (1, 1)}
    await store.add_statistics(tallies(D1, "browser", browsers))
    figures = await store.statistics(D1, D2, SITE)

    top_pages = top_values(figures, "path")
    assert len(top_pages) == TOP
    assert [c.value for c in top_pages[:3]] == ["/les-11", "/les-0", "/les-1"]  # summed over both days
    assert (top_pages[0].views, top_pages[0].visitors) == (200 + 89, 11)
    assert "/les-10" not in {c.value for c in top_pages}  # the eleventh and twelfth are left out

    top_browsers = top_values(figures, "browser")
    assert [(c.value, c.visitors, round(c.share)) for c in top_browsers] == [
        ("Firefox", 6, 60),
        ("Chrome", 3, 30),
        ("Safari", 1, 10),
    ]
    assert top_values(figures, "referrer") == ()


async def test_consent_shares_keep_the_four_states_in_order_with_percentages(store: ConsentStore) -> None:
    await store.add_statistics(tallies(D1, "consent", {"all": (20, 6), "none": (9, 3), "rejected": (4, 1)}))
    await store.add_statistics(tallies(D2, "consent", {"rejected": (8, 2), "later-state": (1, 0)}))
    shares = consent_shares(await store.statistics(D1, D2, SITE))
    assert [(c.value, c.visitors, c.views) for c in shares] == [
        ("none", 3, 9),
        ("rejected", 3, 12),
        ("partial", 0, 0),
        ("all", 6, 20),
        ("later-state", 0, 1),  # a state this page does not know yet is still shown, last
    ]
    assert [round(c.share) for c in shares] == [25, 25, 0, 50, 0]
    assert all(c.share == 0 for c in consent_shares([]))  # no visitors: no division by zero


async def test_the_chart_has_every_day_of_a_range_without_rolled_up_months(store: ConsentStore) -> None:
    later = D1 + timedelta(days=3)
    await store.add_statistics({Tally(D1, SITE, "total", ""): (5, 2), Tally(later, SITE, "total", ""): (7, 1)})
    period = Period(D1 - timedelta(days=1), D1 + timedelta(days=4))
    shown = overview(await store.statistics(period.first, period.last, SITE), period, [SITE], SITE)
    assert [(s.key, s.views, s.visitors) for s in shown.days] == [
        ("2026-03-01", 0, 0),
        ("2026-03-02", 5, 2),
        ("2026-03-03", 0, 0),
        ("2026-03-04", 0, 0),
        ("2026-03-05", 7, 1),
        ("2026-03-06", 0, 0),
    ]
    assert shown.months == () and (shown.views, shown.visitors) == (12, 3)


async def test_rolled_up_months_become_month_bars_and_the_days_start_after_them(store: ConsentStore) -> None:
    old = {date(2025, 1, 5): (3, 2), date(2025, 1, 20): (4, 1), date(2025, 2, 3): (6, 6), date(2025, 2, 20): (2, 2)}
    await store.add_statistics({Tally(day, SITE, "total", ""): counts for day, counts in old.items()})
    await store.roll_up_statistics(date(2025, 2, 10))
    period = Period(date(2025, 1, 10), date(2025, 2, 22))
    shown = overview(await store.statistics(period.first, period.last, SITE), period, [SITE], SITE)
    assert [(s.key, s.span, s.views, s.visitors) for s in shown.months] == [
        ("2025-01", "month", 7, 3),  # the whole month, 5 January too, though the range starts on the 10th
        ("2025-02", "month", 6, 6),
    ]
    assert [s.key for s in shown.days] == ["2025-02-20", "2025-02-21", "2025-02-22"]
    assert (shown.views, shown.visitors) == (15, 11)

    only_months = Period(date(2025, 1, 1), date(2025, 1, 31))
    shown = overview(await store.statistics(only_months.first, only_months.last, SITE), only_months, [SITE], SITE)
    assert shown.days == () and [s.key for s in shown.months] == ["2025-01"]
    day_chart, month_chart = charts(shown, Texts("nl"))
    assert day_chart is None and "Paginaweergaven en bezoekers per samengevoegde maand" in month_chart


async def test_bots_are_counted_apart_and_sites_add_up_or_stay_apart(store: ConsentStore) -> None:
    await store.add_statistics(
        {
            Tally(D1, SITE, "total", ""): (10, 4),
            Tally(D1, OTHER_SITE, "total", ""): (3, 3),
            Tally(D1, SITE, "bot", "Googlebot"): (40, 0),
            Tally(D1, SITE, "bot", "Bingbot"): (2, 0),
        }
    )
    period = Period(D1, D1)
    every = overview(await store.statistics(D1, D1), period, await store.statistics_sites(), None)
    assert (every.views, every.visitors, every.bot_views) == (13, 7, 42)  # crawlers are no page views of visitors
    assert [(c.value, c.views) for c in every.bots] == [("Googlebot", 40), ("Bingbot", 2)]
    assert every.sites == (SITE, OTHER_SITE) and not every.empty
    one = overview(await store.statistics(D1, D1, OTHER_SITE), period, every.sites, OTHER_SITE)
    assert (one.views, one.visitors, one.bot_views) == (3, 3, 0)
    assert overview([], period, [], None).empty


def test_the_filter_reads_dates_and_a_site_and_says_what_is_wrong() -> None:
    today = date(2026, 12, 5)
    period, site = read_filter({}, today)
    assert (period.first, period.last, site) == (date(2026, 11, 6), today, None)
    period, site = read_filter({"from": "2024-01-01", "to": "2026-12-31", "site": " WWW.Cursus.NL "}, today)
    assert (period.last - period.first).days + 1 <= MAX_STATISTICS_DAYS and site == SITE
    assert read_filter({"revision": "x"}, today)[0].revision is None  # the consent filter's revision is not read
    wrong = {
        "period.date": [{"from": "gisteren"}, {"to": "2026-02-30"}, {"to": "0001-01-05"}, {"from": "99999-01-01"}],
        "period.order": [{"from": "2026-03-02", "to": "2026-03-01"}],
        "period.span": [{"from": "2020-01-01", "to": "2026-01-01"}],
        "error.site": [{"site": "x" * 254}],
    }
    for key, queries in wrong.items():
        for query in queries:
            with pytest.raises(PeriodError) as raised:
                read_filter(query, today)
            assert raised.value.key == key, query
    with pytest.raises(PeriodError, match=str(MAX_STATISTICS_DAYS)):
        read_filter({"from": "2020-01-01", "to": "2026-01-01"}, today)


async def test_the_csv_holds_the_stored_rows_safe_for_spreadsheets(store: ConsentStore) -> None:
    await store.add_statistics(
        {
            Tally(D1, SITE, "total", ""): (4, 2),
            Tally(D1, SITE, "path", '=HYPERLINK("http://evil.example")'): (1, 1),
            Tally(D1, SITE, "referrer", "@evil.example"): (2, 0),
            Tally(D1, SITE, "path", "/breuken, les 1"): (3, 1),
        }
    )
    figures = await store.statistics(D1, D1, SITE)
    text = b"".join(csv_chunks(figures)).decode("utf-8")
    table = list(csv.reader(io.StringIO(text)))
    assert tuple(table[0]) == COLUMNS == ("day", "span", "site", "dimension", "value", "views", "visitors")
    rows = {(row[3], row[4]): row for row in table[1:]}
    assert rows[("total", "")] == ["2026-03-02", "day", SITE, "total", "", "4", "2"]
    assert ("path", '\'=HYPERLINK("http://evil.example")') in rows  # shown as text, never run
    assert ("referrer", "'@evil.example") in rows and ("path", "/breuken, les 1") in rows
    assert len(table) == 5 and text.endswith("\r\n")
    assert csv_filename(Period(D1, D2), SITE) == "statistics-www.cursus.nl-2026-03-02-to-2026-03-03.csv"
    assert csv_filename(Period(D1, D1), None) == "statistics-all-sites-2026-03-02-to-2026-03-02.csv"
    assert csv_filename(Period(D1, D1), 'a"b\r\nc') == "statistics-a-b-c-2026-03-02-to-2026-03-02.csv"


def test_count_bars_stand_side_by_side_on_a_rounded_scale() -> None:
    keys = ["2026-03-01", "2026-03-02", "2026-03-03"]
    series = [Series("Views", "#0072B2", [30, 0, 60]), Series("Visitors <new>", "#E69F00", [10, 0, 20])]
    svg = ET.fromstring(str(count_bars(keys, keys, series, "Views & visitors")))
    assert svg.get("role") == "img" and svg.get("aria-label") == "Views & visitors"
    bars = {
        rect.find(f"{SVG}title").text: rect for rect in svg.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None
    }
    assert set(bars) == {
        "2026-03-01 Views: 30",
        "2026-03-01 Visitors <new>: 10",
        "2026-03-03 Views: 60",
        "2026-03-03 Visitors <new>: 20",
    }
    top = nice_top(60)
    assert top == 80
    assert abs(float(bars["2026-03-03 Views: 60"].get("height")) - PLOT_HEIGHT * 60 / top) < 0.01
    views, visitors = bars["2026-03-03 Views: 60"], bars["2026-03-03 Visitors <new>: 20"]
    assert float(visitors.get("x")) >= float(views.get("x")) + float(views.get("width")) - 0.01  # side by side
    assert [t.text for t in svg.iter(f"{SVG}text")][:5] == ["0", "20", "40", "60", "80"]
    assert [nice_top(n) for n in (0, 3, 5, 41, 399, 401, 12_345)] == [4, 4, 8, 80, 400, 800, 20_000]
