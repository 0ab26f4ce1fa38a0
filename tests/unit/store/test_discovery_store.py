"""The discovery table, run against SQLite and the real PostgreSQL: counting, bounds, scans."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.store import ConsentStore
from gateway.store.discovery import SITE_LIMIT, ScanRun, Sighting

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
YOUTUBE = Sighting("www.cursus.nl", "iframe", "www.youtube.com", "youtube")
UNKNOWN = Sighting("www.cursus.nl", "script", "cdn.onbekend.example", None)
GA_COOKIE = Sighting("www.cursus.nl", "cookie", "_ga", "google-analytics")


async def test_pages_add_up_and_times_move(store: ConsentStore) -> None:
    await store.add_sightings({YOUTUBE: 2, UNKNOWN: 1}, T0, "page")
    await store.add_sightings({YOUTUBE: 3, GA_COOKIE: 1}, T0 + timedelta(hours=1), "set-cookie")
    rows = {(row.kind, row.name): row for row in await store.discovered("www.cursus.nl")}
    assert set(rows) == {("iframe", "www.youtube.com"), ("script", "cdn.onbekend.example"), ("cookie", "_ga")}
    youtube = rows["iframe", "www.youtube.com"]
    assert (youtube.pages, youtube.first_seen, youtube.last_seen) == (5, T0, T0 + timedelta(hours=1))
    assert youtube.source == "page" and youtube.service == "youtube"
    assert rows["script", "cdn.onbekend.example"].service is None
    assert rows["cookie", "_ga"].source == "set-cookie"
    assert await store.discovered("elders.nl") == []


async def test_an_earlier_batch_does_not_move_last_seen_back(store: ConsentStore) -> None:
    await store.add_sightings({YOUTUBE: 1}, T0 + timedelta(hours=2), "page")
    await store.add_sightings({YOUTUBE: 1}, T0, "page")  # a worker that flushed late
    (row,) = await store.discovered("www.cursus.nl")
    assert row.last_seen == T0 + timedelta(hours=2) and row.pages == 2


async def test_a_site_is_bounded_but_known_rows_keep_counting(store: ConsentStore) -> None:
    flood = {Sighting("www.cursus.nl", "cookie", f"c{n}", None): 1 for n in range(SITE_LIMIT + 50)}
    await store.add_sightings({YOUTUBE: 1}, T0, "page")
    await store.add_sightings(flood, T0, "banner")
    await store.add_sightings({YOUTUBE: 1, Sighting("andere.nl", "script", "x.example", None): 1}, T0, "page")
    rows = await store.discovered("www.cursus.nl")
    assert len(rows) == SITE_LIMIT
    assert next(row for row in rows if row.name == "www.youtube.com").pages == 2
    assert len(await store.discovered("andere.nl")) == 1  # another site has its own room


async def test_unfit_sightings_are_not_stored(store: ConsentStore) -> None:
    await store.add_sightings(
        {
            Sighting("www.cursus.nl", "rocket", "x.example", None): 1,
            Sighting("www.cursus.nl", "cookie", "x" * 300, None): 1,
            Sighting("www.cursus.nl", "cookie", "", None): 1,
        },
        T0,
        "banner",
    )
    assert await store.discovered() == []


async def test_concurrent_batches_lose_no_page(store: ConsentStore) -> None:
    await asyncio.gather(*(store.add_sightings({YOUTUBE: 1, UNKNOWN: 2}, T0, "page") for _ in range(20)))
    rows = {row.name: row.pages for row in await store.discovered()}
    assert rows == {"www.youtube.com": 20, "cdn.onbekend.example": 40}


async def test_last_scan(store: ConsentStore) -> None:
    assert await store.last_scan() is None
    await store.record_scan(ScanRun("www.cursus.nl", T0, 12, "chromium"))
    await store.record_scan(ScanRun("andere.nl", T0 + timedelta(days=1), 3, "static"))
    assert await store.last_scan("www.cursus.nl") == ScanRun("www.cursus.nl", T0, 12, "chromium")
    assert (await store.last_scan()).site == "andere.nl"
    assert await store.last_scan("nergens.nl") is None
