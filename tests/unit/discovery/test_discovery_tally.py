"""The per-worker tally of sightings and the task that flushes it into the store."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from gateway.discovery import tally as tally_module
from gateway.discovery.cookies import KnownCookies
from gateway.discovery.tally import Tally, page_seen, site_name
from gateway.discovery.task import DiscoveryTask
from gateway.store import ConsentStore
from gateway.store.discovery import Sighting
from gateway.trackers.catalogue import default_catalogue

SITE = "www.cursus.nl"
YOUTUBE = ("iframe", "www.youtube.com", "youtube")
UNKNOWN = ("script", "cdn.onbekend.example", None)


def test_pages_are_counted_by_their_frozen_sightings() -> None:
    tally = Tally(default_catalogue())
    page = page_seen(SITE, {YOUTUBE, UNKNOWN})
    other = page_seen(SITE, {YOUTUBE})
    for key in (page, page, other):
        tally.count_page(key)
    assert len(tally.pages) == 2
    drained = tally.drain()
    assert drained == {
        "page": {
            Sighting(SITE, "iframe", "www.youtube.com", "youtube"): 3,
            Sighting(SITE, "script", "cdn.onbekend.example", None): 2,
        }
    }
    assert not tally and tally.drain() == {}


def test_cookies_by_source_get_their_service_when_drained() -> None:
    tally = Tally(default_catalogue())
    tally.count_cookies(SITE, {"_ga", "sessionid"}, "set-cookie")
    tally.count_cookies(SITE, {"_ga"}, "set-cookie")
    tally.count_cookies(SITE, {"_fbp"}, "banner")
    assert tally.drain() == {
        "set-cookie": {
            Sighting(SITE, "cookie", "_ga", "google-analytics"): 2,
            Sighting(SITE, "cookie", "sessionid", None): 1,
        },
        "banner": {Sighting(SITE, "cookie", "_fbp", "meta-pixel"): 1},
    }


def test_the_tally_is_bounded_between_flushes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tally_module, "MAX_PENDING", 3)
    tally = Tally(default_catalogue())
    tally.count_cookies(SITE, {f"c{i}" for i in range(10)}, "banner")
    tally.count_page(page_seen(SITE, {YOUTUBE}))
    tally.count_page(page_seen(SITE, {YOUTUBE}))
    assert len(tally.cookies) == 3 and tally.pages == {(SITE, frozenset({YOUTUBE})): 2}


@pytest.mark.parametrize(
    ("host", "site"),
    [("WWW.Cursus.NL:8443", "www.cursus.nl"), ("www.cursus.nl.", "www.cursus.nl"), ("[::1]:8080", "::1"), ("", "")],
)
def test_site_names(host: str, site: str) -> None:
    assert site_name(host) == site


@pytest.mark.anyio
async def test_the_task_flushes_in_batches_and_on_stop(store: ConsentStore) -> None:
    tally, known = Tally(default_catalogue()), KnownCookies(["consent"])
    task = DiscoveryTask(store, tally, known, interval=0.05)
    task.start()
    tally.count_page(page_seen(SITE, {YOUTUBE}))
    tally.count_cookies(SITE, {"_ga"}, "set-cookie")
    await asyncio.sleep(0.3)
    assert {(r.name, r.pages, r.source) for r in await store.discovered(SITE)} == {
        ("www.youtube.com", 1, "page"),
        ("_ga", 1, "set-cookie"),
    }
    assert known.unknown(SITE, ["_ga", "_fbp"]) == {"_fbp"}  # flushed names are known to this worker
    tally.count_page(page_seen(SITE, {YOUTUBE}))
    await task.stop()  # the rest goes in on shutdown
    rows = {r.name: r.pages for r in await store.discovered(SITE)}
    assert rows["www.youtube.com"] == 2


@pytest.mark.anyio
async def test_known_names_are_read_from_the_store(store: ConsentStore) -> None:
    await store.add_sightings({Sighting(SITE, "cookie", "_hjid", "hotjar"): 1}, datetime.now(UTC), "scan")
    known = KnownCookies()
    await DiscoveryTask(store, Tally(default_catalogue()), known).load_known()
    assert known.unknown(SITE, ["_hjid", "x"]) == {"x"}


class BrokenStore:
    async def add_sightings(self, counts, seen_at, source) -> None:
        raise OSError("disk full")


@pytest.mark.anyio
async def test_a_failing_store_is_logged_and_the_counts_dropped(caplog: pytest.LogCaptureFixture) -> None:
    tally = Tally(default_catalogue())
    tally.count_page(page_seen(SITE, {YOUTUBE}))
    with caplog.at_level(logging.ERROR, "gateway.discovery"):
        await DiscoveryTask(BrokenStore(), tally, KnownCookies()).flush()  # type: ignore[arg-type]
    assert "could not be stored" in caplog.text and not tally
