"""The admin's "Statistics" page and its CSV through the whole gateway, signed in, in Dutch and English."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.helpers import site
from support.records import ADMIN, admin_settings, audit, signed_in

from gateway import ConsentMiddleware
from gateway.store import open_store
from gateway.store.statistics import Tally

ORIGIN = "http://leerplein.test"
PAGE = f"{ADMIN}/statistics"
SITE, OTHER_SITE = "www.cursus.nl", "www.oefenplein.nl"
TODAY = datetime.now(UTC).date()
HOSTILE = '/<script>alert("x")</script>'


def add(db_path: Path, counts: dict[Tally, tuple[int, int]]) -> None:
    async def write() -> None:
        store = open_store(f"sqlite:///{db_path}")
        await store.open()
        try:
            await store.add_statistics(counts)
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as thread:  # its own event loop, beside the test client's
        thread.submit(asyncio.run, write()).result()


def week(db_path: Path) -> None:
    """A week of one site's figures, a crawler, and a day of a second site."""
    counts: dict[Tally, tuple[int, int]] = {}
    for offset in range(7):
        day = TODAY - timedelta(days=offset)
        counts |= {
            Tally(day, SITE, "total", ""): (20 + offset, 8),
            Tally(day, SITE, "path", "/breuken"): (12, 6),
            Tally(day, SITE, "path", HOSTILE): (1, 1),
            Tally(day, SITE, "group", "Breuken (cursus)"): (12, 6),
            Tally(day, SITE, "referrer", "www.wikiwijs.nl"): (3, 2),
            Tally(day, SITE, "browser", "Firefox"): (10, 6),
            Tally(day, SITE, "browser", "Chrome"): (10, 2),
            Tally(day, SITE, "device", "mobile"): (5, 2),
            Tally(day, SITE, "consent", "none"): (5, 2),
            Tally(day, SITE, "consent", "rejected"): (10, 4),
            Tally(day, SITE, "consent", "all"): (5, 2),
            Tally(day, SITE, "bot", "Googlebot"): (30, 0),
        }
    counts[Tally(TODAY, OTHER_SITE, "total", "")] = (2, 1)
    add(db_path, counts)


def text_of(page: str) -> str:
    """The page's words, tags and runs of white space gone (as a reader sees them)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


WORDS = {
    "en": (
        "Statistics of all sites",
        "Page views: 163 · visitors: 57",
        "Top pages",
        "210 pages requested by crawlers, not counted as visitors.",
        "Rejected all 28 50 %",
    ),
    "nl": (
        "Statistieken van alle sites",
        "Paginaweergaven: 163 · bezoekers: 57",
        "Meest bekeken pagina's",
        "210 pagina's opgevraagd door crawlers, niet als bezoekers geteld.",
        "Alles geweigerd 28 50 %",
    ),
}


@pytest.mark.parametrize("language", WORDS)
def test_the_page_shows_the_figures_in_both_languages(db_path: Path, language: str) -> None:
    week(db_path)
    with signed_in(admin_settings(db_path)) as client:
        response = client.get(PAGE, params={"lang": language})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    page = response.text
    assert f'<html lang="{language}"' in page
    shown = text_of(page)
    for words in WORDS[language]:
        assert words in shown, words
    assert f'href="{PAGE}"' in page  # in the admin's navigation
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 1  # days only: nothing rolled up
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page  # a requested path is text
    assert "www.wikiwijs.nl" in page and "Googlebot" in page and "Firefox" in page
    assert f"<option>{OTHER_SITE}</option>" in page  # two sites: a selector, all sites by default
    first = (TODAY - timedelta(days=29)).isoformat()
    assert f'{PAGE}.csv?from={first}&amp;to={TODAY.isoformat()}"' in page


def test_one_site_at_a_time(db_path: Path) -> None:
    week(db_path)
    with signed_in(admin_settings(db_path)) as client:
        shown = text_of(client.get(PAGE, params={"site": OTHER_SITE}).text)
    assert "Statistics of www.oefenplein.nl" in shown and "Page views: 2 · visitors: 1" in shown
    assert "0 pages requested by crawlers" in shown


def test_empty_states_say_so(db_path: Path) -> None:
    with signed_in(admin_settings(db_path)) as client:
        assert "No figures yet." in client.get(PAGE).text
        assert "<select" not in client.get(PAGE).text
        week(db_path)
        assert "No figures in this period." in client.get(PAGE, params={"from": "2020-01-01", "to": "2020-01-31"}).text
        assert "Counting is off" not in client.get(PAGE).text


def test_the_page_says_when_counting_is_off(db_path: Path) -> None:
    settings = admin_settings(db_path, default_language="nl", statistics=False)
    with signed_in(settings) as client:
        page = client.get(PAGE).text
    assert "Tellen staat uit (<code>statistics = false</code>" in page and "Nog geen cijfers." in page


@pytest.mark.parametrize(
    ("query", "english", "dutch"),
    [
        ({"from": "gisteren"}, "from: 'gisteren' is not a date like 2025-03-31.", "is geen datum zoals 2025-03-31."),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "From: must not be after To.", "mag niet na Tot en met liggen"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "at most 1100 days", "hoogstens 1100 dagen"),
        ({"to": "0001-01-01"}, "is not a date like", "is geen datum"),
        ({"site": "x" * 300}, "A site is a host name like www.example.nl.", "Een site is een hostnaam"),
    ],
)
def test_a_bad_filter_is_a_clear_400_not_a_500(db_path: Path, query: dict, english: str, dutch: str) -> None:
    with signed_in(admin_settings(db_path)) as client:
        for path in (PAGE, f"{PAGE}.csv"):
            for language, words in (("en", english), ("nl", dutch)):
                response = client.get(path, params={**query, "lang": language})
                assert response.status_code == 400, (path, query)
                assert words in response.text.replace("&#39;", "'"), (path, language)


def test_the_csv_downloads_the_filtered_rows_and_is_audited(db_path: Path) -> None:
    week(db_path)
    with signed_in(admin_settings(db_path)) as client:
        first = TODAY - timedelta(days=1)
        response = client.get(f"{PAGE}.csv", params={"from": first.isoformat(), "site": SITE})
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="statistics-{SITE}-{first.isoformat()}-to-{TODAY.isoformat()}.csv"'
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0] == ["day", "span", "site", "dimension", "value", "views", "visitors"]
    assert {row[0] for row in table[1:]} == {first.isoformat(), TODAY.isoformat()}
    assert {row[2] for row in table[1:]} == {SITE} and len(table) == 1 + 2 * 12
    assert [TODAY.isoformat(), "day", SITE, "total", "", "20", "8"] in table
    [entry] = [e for e in audit(db_path) if e["action"] == "export"]
    assert entry["detail"] == f"statistics of {SITE}, {first} to {TODAY}: 24 rows"


def test_signed_out_visitors_are_sent_to_sign_in(db_path: Path) -> None:
    settings = admin_settings(db_path)
    with TestClient(ConsentMiddleware(site(), settings=settings), base_url=ORIGIN) as client:
        for path in (PAGE, f"{PAGE}.csv"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith(f"{ADMIN}/login?next=")
    assert audit(db_path) == []
