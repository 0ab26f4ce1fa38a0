"""Statistics test helpers: a small site, three visitors and a crawler browsing it, the figures they make."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway import ConsentMiddleware, Settings
from gateway.consent.state import Consent
from gateway.store import open_store
from gateway.store.statistics import Figure
from support.helpers import PAGE, SECRET

SITE = "www.cursus.nl"
PROXY = "10.0.0.1"  # the TestClient's address, a trusted proxy: visitors are told apart by X-Forwarded-For
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GROUPS = [{"name": "Breuken", "paths": ["/course/fractions/*"]}]


def site_app() -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def missing(request: Request) -> Response:
        return HTMLResponse(PAGE, status_code=404)

    async def data(request: Request) -> Response:
        return JSONResponse({"les": 1})

    async def empty(request: Request) -> Response:
        return Response(status_code=204, media_type="text/html")

    return Starlette(
        routes=[
            Route("/", page, methods=["GET", "HEAD", "POST"]),
            Route("/course/fractions/les-1", page),
            Route("/missing", missing),
            Route("/api", data),
            Route("/empty", empty),
        ]
    )


def make_settings(database_url: str, **overrides) -> Settings:
    values = {
        "secret_key": SECRET,
        "database_url": database_url,
        "trusted_proxies": [f"{PROXY}/32"],
        "statistics_groups": GROUPS,
        "statistics_query_parameters": ["id"],
        **overrides,
    }
    return Settings(**values)


@contextmanager
def gateway(settings: Settings, interval: float | None = None) -> Iterator[tuple[TestClient, ConsentMiddleware]]:
    app = ConsentMiddleware(site_app(), settings=settings)
    if interval is not None and app.components.statistics is not None:
        app.components.statistics.interval = interval
    with TestClient(app, base_url=f"http://{SITE}", client=(PROXY, 40000)) as client:
        yield client, app


def visit(client, path: str, address: str, user_agent: str, language: str = "nl", **headers: str):
    headers = {"x-forwarded-for": address, "user-agent": user_agent, "accept-language": language, **headers}
    return client.get(path, headers=headers)


def consent_cookie(app: ConsentMiddleware, *categories: str) -> str:
    consent = Consent(str(uuid.uuid4()), frozenset(categories), 1, time.time(), "custom")
    return f"consent={app.components.codec.dumps(consent)}"


def read_figures(database_url: str, day: date) -> dict[tuple[str, str], tuple[int, int]]:
    async def read() -> list[Figure]:
        store = open_store(database_url)
        await store.open()
        try:
            return await store.statistics(day, day, SITE)
        finally:
            await store.close()

    return {(f.dimension, f.value): (f.views, f.visitors) for f in asyncio.run(read()) if f.span == "day"}


def today() -> date:
    return datetime.now(UTC).date()


def browse(client, app: ConsentMiddleware) -> None:
    """Three visitors, a crawler, and requests that are no page view."""
    all_granted = consent_cookie(app, "functional", "analytics", "marketing", "other")
    rejected = consent_cookie(app, "functional")
    # A: Firefox, Dutch, no choice yet; came from Google, then a course page with a query
    assert visit(client, "/", "198.51.100.7", FIREFOX, referer="https://www.google.com/search?q=x").status_code == 200
    visit(client, "/course/fractions/les-1?sesskey=s3cr3t&id=3", "198.51.100.7", FIREFOX)
    # B: an iPhone, English, accepted everything
    visit(client, "/course/fractions/les-1", "192.0.2.10", IPHONE, "en-GB,en;q=0.8", cookie=all_granted)
    # C: Firefox over IPv6, German, rejected; a link from the site itself is no referrer
    visit(client, "/", "2001:db8:1:2::1", FIREFOX, "de", cookie=rejected, referer=f"https://{SITE}/over")
    # A again, from another address in the same /24: not new
    visit(client, "/", "198.51.100.200", FIREFOX)
    # a crawler: a view under "bot", never a visitor
    visit(client, "/", "66.249.66.1", GOOGLEBOT)
    # no page views: JSON, a 404 page, no content, HEAD, a page fetched into a frame or by a script
    visit(client, "/api", "203.0.113.9", FIREFOX)
    assert visit(client, "/missing", "203.0.113.9", FIREFOX).status_code == 404
    visit(client, "/empty", "203.0.113.9", FIREFOX)
    client.head("/", headers={"x-forwarded-for": "203.0.113.9", "user-agent": FIREFOX})
    visit(client, "/", "203.0.113.9", FIREFOX, **{"sec-fetch-dest": "iframe"})
    visit(client, "/", "203.0.113.9", FIREFOX, **{"sec-fetch-dest": "empty"})


EXPECTED = {
    ("total", ""): (5, 3),
    ("path", "/"): (3, 2),
    ("path", "/course/fractions/les-1?id=3"): (1, 0),
    ("path", "/course/fractions/les-1"): (1, 1),
    ("group", "Breuken"): (2, 1),
    ("referrer", "www.google.com"): (1, 1),
    ("browser", "Firefox"): (4, 2),
    ("browser", "Mobile Safari"): (1, 1),
    ("device", "desktop"): (4, 2),
    ("device", "mobile"): (1, 1),
    ("language", "nl"): (3, 1),
    ("language", "en"): (1, 1),
    ("language", "de"): (1, 1),
    ("consent", "none"): (3, 1),
    ("consent", "all"): (1, 1),
    ("consent", "rejected"): (1, 1),
    ("bot", "Googlebot"): (1, 0),
}
