"""Which services a site uses: the operator's, the moved ones and the discovered ones, read from the
real store (SQLite and PostgreSQL) at most once per cache period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.helpers import SECRET

from gateway.api.inuse import CONSENT_COOKIE_SERVICE, ServicesInUse, cookie_retention, requested_site
from gateway.app import load_catalogue
from gateway.settings import DEFAULT_CATEGORIES, Category, Settings
from gateway.store import ConsentStore
from gateway.store.discovery import ScanRun, Sighting, site_name

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SITE = "www.cursus.nl"
OWN_SERVICE = {
    "id": "cursus-stats",
    "name": "Cursus Stats",
    "vendor": "Cursus B.V.",
    "category": "analytics",
    "privacy_url": "https://www.cursus.nl/privacy",
    "purpose": "Eigen statistieken",
    "retention": {"nl": "13 maanden", "en": "13 months"},
    "hosts": ["stats.cursus.nl"],
    "cookies": ["cs_id"],
}
VIDEO = Category("video", {"en": "Videos"}, {"en": "Embedded videos"}, services=("vimeo",))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """The real store, counting how often the discovery table is read."""

    def __init__(self, store: ConsentStore) -> None:
        self.store = store
        self.reads = 0

    async def discovered(self, site: str | None = None):
        self.reads += 1
        return await self.store.discovered(site)

    async def last_scan(self, site: str | None = None):
        return await self.store.last_scan(site)


def in_use(store, **settings_values) -> tuple[ServicesInUse, Clock]:
    settings = Settings(secret_key=SECRET, **settings_values)
    clock = Clock()
    return ServicesInUse(settings, load_catalogue(settings), store, ttl=5.0, clock=clock), clock


async def test_configured_moved_and_discovered_services_with_their_cookies(store: ConsentStore) -> None:
    found = {
        Sighting(SITE, "script", "www.googletagmanager.com", "google-analytics"): 4,
        Sighting(SITE, "cookie", "_ga_Q1W2E3", "google-analytics"): 2,
        Sighting(SITE, "script", "cdn.onbekend.example", None): 1,
        Sighting(SITE, "cookie", "onbekend", None): 1,
        Sighting(SITE, "script", "gone.example", "a-service-the-catalogue-dropped"): 1,
        Sighting("elders.nl", "iframe", "www.youtube.com", "youtube"): 1,
    }
    await store.add_sightings(found, T0, "page")
    await store.add_sightings(
        {Sighting(SITE, "iframe", "www.youtube.com", "youtube"): 1}, T0 + timedelta(days=2), "scan"
    )
    await store.record_scan(ScanRun(SITE, T0 + timedelta(days=3), 12, "chromium"))
    categories = (*DEFAULT_CATEGORIES[1:], VIDEO)
    services, _ = in_use(store, services=(OWN_SERVICE,), categories=categories)
    used = await services.of(SITE)
    ids = [u.service.id for u in used.services]
    assert ids == [CONSENT_COOKIE_SERVICE, "cursus-stats", "google-analytics", "vimeo", "youtube"]
    by_id = {u.service.id: u for u in used.services}
    assert by_id["cursus-stats"].configured and by_id["vimeo"].configured and not by_id["youtube"].configured
    ga = by_id["google-analytics"]
    assert ga.cookies[:2] == ("_ga", "_ga_*") and ga.cookies[-1] == "_ga_Q1W2E3"  # catalogue first, then found
    assert by_id["vimeo"].service.category == "video" and [u.service.id for u in used.in_category("video")] == ["vimeo"]
    assert by_id[CONSENT_COOKIE_SERVICE].cookies == ("consent",)
    assert used.known and used.last_scan.pages == 12 and used.last_scan.mode == "chromium"
    assert used.last_change == T0 + timedelta(days=2)  # YouTube was new then
    json = ga.as_json("en")
    assert json["retention"] == "up to 2 years" and json["cookie_retention"]["_ga_Q1W2E3"] == "2 years"
    assert json["source"] == "discovered" and by_id["cursus-stats"].as_json("nl")["retention"] == "13 maanden"


async def test_a_site_nothing_is_known_of_says_so(store: ConsentStore) -> None:
    services, _ = in_use(store)
    used = await services.of("nieuw.example.nl")
    assert not used.known and used.last_scan is None and used.last_change is None
    assert [u.service.id for u in used.services] == [CONSENT_COOKIE_SERVICE]  # only the gateway's own cookie


async def test_the_store_is_read_at_most_once_per_period(store: ConsentStore) -> None:
    counting = CountingStore(store)
    services, clock = in_use(counting)
    assert not (await services.of(SITE)).known
    await store.add_sightings({Sighting(SITE, "iframe", "www.youtube.com", "youtube"): 1}, T0, "page")
    for _ in range(50):
        assert not (await services.of(SITE)).known  # cached: the new row waits for the next period
    assert counting.reads == 1
    clock.now += 5.0
    assert (await services.of(SITE)).known and counting.reads == 2
    await services.of("andere.nl")  # each site has its own entry
    assert counting.reads == 3


async def test_a_failing_store_leaves_the_configured_services() -> None:
    class Failing:
        async def discovered(self, site=None):
            raise ConnectionError("down")

        async def last_scan(self, site=None):
            raise ConnectionError("down")

    services, _ = in_use(Failing(), categories=(*DEFAULT_CATEGORIES[1:], VIDEO))
    used = await services.of(SITE)
    assert [u.service.id for u in used.services] == [CONSENT_COOKIE_SERVICE, "vimeo"] and used.known


def test_one_place_gives_a_cookies_retention() -> None:
    settings = Settings(secret_key=SECRET)
    ga = load_catalogue(settings).service("google-analytics")
    assert cookie_retention(ga, "_ga", "nl") == "2 jaar" and cookie_retention(ga, "_gid", "en") == "1 day"


@pytest.mark.parametrize(
    ("host", "site"),
    [("WWW.Cursus.NL:8443", "www.cursus.nl"), ("www.cursus.nl.", "www.cursus.nl"), ("[::1]:8080", "[::1]"), ("", "")],
)
def test_a_site_is_its_host_name(host: str, site: str) -> None:
    assert site_name(host) == site


def test_the_requested_site_is_the_allowed_origin_else_the_host() -> None:
    settings = Settings(secret_key=SECRET, allowed_origins=("https://www.cursus.nl",))

    def scope(*headers: tuple[bytes, bytes]) -> dict:
        return {"type": "http", "headers": [(b"host", b"Gateway.Cursus.nl:443"), *headers], "client": None}

    assert requested_site(scope(), settings) == "gateway.cursus.nl"
    assert requested_site(scope((b"origin", b"https://www.cursus.nl")), settings) == "www.cursus.nl"
    assert requested_site(scope((b"origin", b"https://evil.example")), settings) == "gateway.cursus.nl"


def test_a_cookie_gets_its_own_lifetime_from_the_catalogue() -> None:
    from gateway.api.inuse import cookie_retention
    from gateway.trackers.catalogue import Catalogue

    analytics = Catalogue.load(()).service("google-analytics")
    assert cookie_retention(analytics, "_ga", "en") == "2 years"
    assert cookie_retention(analytics, "_ga", "nl") == "2 jaar"
    assert cookie_retention(analytics, "_ga_ABC123", "en") == cookie_retention(analytics, "_ga_*", "en")
    assert cookie_retention(analytics, "onbekend", "en") == analytics.text("en")[1]
