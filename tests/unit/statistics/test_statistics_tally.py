"""The per-worker tally: one update per page, expanded per dimension, bounded whatever comes in."""

from __future__ import annotations

import random
import string
from datetime import date

from gateway.statistics.tally import SITE_LIMIT, StatisticsTally
from gateway.store.statistics import OTHER, VALUE_LIMIT, Tally

DAY = date(2025, 12, 5)
SITE = "www.cursus.nl"


def view(
    path="/", groups=(), referrer="", browser="Firefox", device="desktop", language="nl", consent="none", new=True
):
    return (DAY, SITE, path, groups, referrer, browser, device, language, consent, new)


def test_a_page_is_counted_under_every_dimension() -> None:
    tally = StatisticsTally()
    tally.count_view(view("/les", ("Breuken", "Rekenen"), "www.google.com"))
    tally.count_view(view("/les", ("Breuken", "Rekenen"), new=False))
    tally.count_view(view("/", browser="Chrome", device="mobile", language="en", consent="all"))
    tally.count_bot((DAY, SITE, "Googlebot"))
    assert len(tally.views) == 3
    counts = tally.drain()

    def at(dimension: str, value: str) -> tuple[int, int]:
        return counts[Tally(DAY, SITE, dimension, value)]

    assert at("total", "") == (3, 2)
    assert at("path", "/les") == (2, 1) and at("path", "/") == (1, 1)
    assert at("group", "Breuken") == at("group", "Rekenen") == (2, 1)
    assert at("referrer", "www.google.com") == (1, 1)
    assert at("browser", "Firefox") == (2, 1) and at("browser", "Chrome") == (1, 1)
    assert at("device", "desktop") == (2, 1) and at("device", "mobile") == (1, 1)
    assert at("language", "nl") == (2, 1) and at("language", "en") == (1, 1)
    assert at("consent", "none") == (2, 1) and at("consent", "all") == (1, 1)
    assert at("bot", "Googlebot") == (1, 0)
    assert len(counts) == 15
    assert not tally and tally.drain() == {}


def test_100000_random_paths_stay_bounded_in_memory_and_in_what_is_drained() -> None:
    tally = StatisticsTally()
    rng = random.Random(19)
    largest = 0
    for _ in range(100_000):
        path = "/" + "".join(rng.choices(string.ascii_lowercase, k=12))
        tally.count_view(view(path, referrer=f"{path[1:]}.example"))
        largest = max(largest, len(tally))
    assert largest < 10_000 + 3 * (VALUE_LIMIT + 1) + 10
    counts = tally.drain()
    paths = {t.value: c for t, c in counts.items() if t.dimension == "path"}
    referrers = {t.value: c for t, c in counts.items() if t.dimension == "referrer"}
    assert len(paths) == len(referrers) == VALUE_LIMIT + 1
    assert paths[OTHER] == (100_000 - VALUE_LIMIT, 100_000 - VALUE_LIMIT)
    assert sum(views for views, _ in paths.values()) == 100_000
    assert counts[Tally(DAY, SITE, "total", "")] == (100_000, 100_000)


def test_the_cap_holds_for_the_day_across_flushes_and_starts_again_the_next_day() -> None:
    tally = StatisticsTally()
    for i in range(VALUE_LIMIT):
        tally.count_view(view(f"/p{i}"))
    tally.drain()
    tally.count_view(view("/late"))
    tally.count_view(view("/p1"))
    counts = tally.drain()
    assert Tally(DAY, SITE, "path", OTHER) in counts and Tally(DAY, SITE, "path", "/p1") in counts
    tomorrow = date(2025, 12, 6)
    tally.count_view((tomorrow, *view("/late")[1:]))
    assert Tally(tomorrow, SITE, "path", "/late") in tally.drain()
    assert set(tally.limits.sites) == {tomorrow}


def test_invented_sites_are_capped_too() -> None:
    tally = StatisticsTally()
    for i in range(SITE_LIMIT + 50):
        tally.count_view((DAY, f"s{i}.example", *view()[2:]))
    sites = {t.site for t in tally.drain()}
    assert len(sites) == SITE_LIMIT + 1 and OTHER in sites


def test_too_long_values_count_as_other() -> None:
    tally = StatisticsTally()
    tally.count_view(view(referrer="x" * 400 + ".example"))
    assert Tally(DAY, SITE, "referrer", OTHER) in tally.drain()
