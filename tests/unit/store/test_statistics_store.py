"""The statistics table, run against SQLite and the real PostgreSQL: adding up, the value cap, roll-up."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from gateway.store import ConsentStore, open_store
from gateway.store.statistics import MAX_VALUE, OTHER, VALUE_LIMIT, Figure, Tally

pytestmark = pytest.mark.anyio
SITE = "www.cursus.nl"
D1, D2 = date(2026, 3, 3), date(2026, 3, 4)


def figures_by_key(figures: list[Figure]) -> dict[tuple, tuple[int, int]]:
    return {(f.day, f.span, f.site, f.dimension, f.value): (f.views, f.visitors) for f in figures}


async def test_counts_add_up_per_day_site_and_value(store: ConsentStore) -> None:
    await store.add_statistics({Tally(D1, SITE, "total", ""): (3, 2), Tally(D1, SITE, "path", "/breuken"): (2, 1)})
    await store.add_statistics({Tally(D1, SITE, "total", ""): (1, 1), Tally(D2, SITE, "total", ""): (5, 4)})
    await store.add_statistics({Tally(D1, "andere.nl", "browser", "Firefox"): (1, 1)})
    assert figures_by_key(await store.statistics(D1, D2, SITE)) == {
        (D1, "day", SITE, "path", "/breuken"): (2, 1),
        (D1, "day", SITE, "total", ""): (4, 3),
        (D2, "day", SITE, "total", ""): (5, 4),
    }
    assert len(await store.statistics(D1, D1)) == 3  # every site
    assert await store.statistics(date(2026, 3, 5), date(2026, 3, 9)) == []
    assert await store.statistics_sites() == ["andere.nl", SITE]


async def test_values_beyond_the_cap_and_overlong_ones_are_counted_as_other(store: ConsentStore) -> None:
    flood = {Tally(D1, SITE, "path", f"/p{n}"): (1, 0) for n in range(VALUE_LIMIT + 40)}
    await store.add_statistics(flood)
    await store.add_statistics({Tally(D1, SITE, "path", "/p0"): (1, 1), Tally(D1, SITE, "path", "/nieuw"): (2, 0)})
    await store.add_statistics({Tally(D1, SITE, "referrer", "x" * (MAX_VALUE + 1)): (1, 0)})
    paths = {f.value: f.views for f in await store.statistics(D1, D1, SITE) if f.dimension == "path"}
    assert len(paths) == VALUE_LIMIT + 1 and paths["/p0"] == 2  # known values keep counting
    assert paths[OTHER] == 40 + 2  # the flood's last 40 and the new value
    referrers = {f.value: f.views for f in await store.statistics(D1, D1, SITE) if f.dimension == "referrer"}
    assert referrers == {OTHER: 1}
    assert sum(paths.values()) == VALUE_LIMIT + 40 + 3  # nothing is lost, only folded


async def test_unknown_dimensions_empty_counts_and_bad_sites_are_dropped(store: ConsentStore) -> None:
    await store.add_statistics(
        {
            Tally(D1, SITE, "shoe-size", "42"): (1, 1),
            Tally(D1, SITE, "path", "/leeg"): (0, 0),
            Tally(D1, "", "total", ""): (1, 1),
            Tally(D1, "x" * 254, "total", ""): (1, 1),
        }
    )
    assert await store.statistics(D1, D1) == []


async def test_old_days_roll_up_into_months(store: ConsentStore) -> None:
    days = {date(2026, 1, 5): (3, 2), date(2026, 1, 20): (4, 1), date(2026, 2, 1): (1, 1), date(2026, 2, 10): (9, 9)}
    await store.add_statistics({Tally(day, SITE, "total", ""): counts for day, counts in days.items()})
    assert await store.roll_up_statistics(date(2026, 2, 5)) == 3
    assert await store.roll_up_statistics(date(2026, 2, 5)) == 0  # nothing left to roll
    everything = figures_by_key(await store.statistics(date(2026, 1, 1), date(2026, 2, 28)))
    assert everything == {
        (date(2026, 1, 1), "month", SITE, "total", ""): (7, 3),
        (date(2026, 2, 1), "month", SITE, "total", ""): (1, 1),
        (date(2026, 2, 10), "day", SITE, "total", ""): (9, 9),
    }
    # A later roll-up of the rest of February adds to its month row.
    assert await store.roll_up_statistics(date(2026, 3, 1)) == 1
    february = figures_by_key(await store.statistics(date(2026, 2, 15), date(2026, 2, 20)))
    assert february == {(date(2026, 2, 1), "month", SITE, "total", ""): (10, 10)}


async def test_two_stores_on_one_database_add_up_exactly(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(2)]
    for each in stores:
        await each.open()
    try:
        batch = {Tally(D1, SITE, "path", f"/les-{n}"): (n, n % 2) for n in range(1, 51)}
        await asyncio.gather(*(each.add_statistics(batch) for each in stores for _ in range(5)))
        figures = await stores[1].statistics(D1, D1, SITE)
        assert {f.value: (f.views, f.visitors) for f in figures} == {
            tally.value: (10 * views, 10 * visitors) for tally, (views, visitors) in batch.items()
        }
    finally:
        for each in stores:
            await each.close()
