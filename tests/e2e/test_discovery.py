"""Live discovery fed by real pages (tests/e2e/realworld/pages) through the middleware and through the proxy.

Each page is served by a local site under its own site's host name, so its
own absolute URLs stay first-party as they were. What the table must hold
comes from an independent reading of the page (``support.liveness``:
html5lib, tinycss2, ada): every host the page would fetch from that is not
the site itself, each counted on every page view, page-cache hits included.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient
from support.helpers import SECRET, ThreadedServer
from support.liveness import fetched_urls, host_of

from gateway import ConsentMiddleware, Settings
from gateway.app import build
from gateway.metrics.registry import Registry
from gateway.net.urls import site_of
from gateway.proxy.app import UpstreamProxy
from gateway.store import open_store
from gateway.store.discovery import Discovered

PAGES = Path(__file__).resolve().parent / "realworld" / "pages"
SOURCES = {entry["file"]: entry for entry in json.loads((PAGES.parent / "sources.json").read_text())}
# Site host -> saved page: trackers catalogued and not, embeds, beacons, a page whose Matomo is first-party.
SITES = {
    "www.cotemig.com.br": "formasaurus-cotemig-com-br.html",
    "scrapinghub.com": "htmltext-scrapinghub.html",
    "www.brookdalecc.edu": "formasaurus-brookdalecc-edu.html",
    "www.ucsb.edu": "formasaurus-ucsb-edu.html",
    "www.worldsoccershop.com": "formasaurus-worldsoccershop-com.html",
    "www.lsm.lv": "newspaper4k-latvian-article.html",
}
PATHS = ("/", "/", "/", "/les-2")  # the same page three times (two page-cache hits), then under another path
SERVICES = {  # what the catalogue must say about some of the hosts
    ("www.cotemig.com.br", "googleads.g.doubleclick.net"): "google-ads",
    ("www.cotemig.com.br", "www.facebook.com"): "meta-pixel",
    ("www.cotemig.com.br", "platform.twitter.com"): "x-embed",
    ("www.cotemig.com.br", "ajax.googleapis.com"): None,
    ("scrapinghub.com", "js.hs-scripts.com"): "hubspot",
    ("scrapinghub.com", "www.googletagmanager.com"): "google-tag-manager",
    ("scrapinghub.com", "cdnjs.cloudflare.com"): None,
    ("www.brookdalecc.edu", "www.youtube.com"): "youtube",
}
COOKIE_SITE = "www.cotemig.com.br"  # its pages set two cookies, one catalogued


def expected_hosts(site: str) -> set[str]:
    markup = (PAGES / SITES[site]).read_text(encoding="utf-8", errors="replace")
    hosts = {host_of(url) for _, url in fetched_urls(markup, f"http://{site}/")}
    return {host for host in hosts if host and site_of(host) != site_of(site)}


def site_app() -> Starlette:
    async def page(request: Request) -> Response:
        host = request.headers["host"].split(":")[0]
        body = (PAGES / SITES[host]).read_bytes()
        # A validator makes the page reusable for the page cache; the cookie site's pages never are (Set-Cookie).
        response = Response(body, media_type="text/html", headers={"etag": f'"{len(body)}"'})
        if host == COOKIE_SITE:
            response.set_cookie("PHPSESSID", "abc")
            response.set_cookie("_ga", "GA1.1.1.1")
        return response

    return Starlette(routes=[Route("/", page), Route("/les-2", page)])


def read_table(database_url: str) -> list[Discovered]:
    async def read() -> list[Discovered]:
        store = open_store(database_url)
        await store.open()
        try:
            return await store.discovered()
        finally:
            await store.close()

    return asyncio.run(read())


def check_table(rows: list[Discovered], sites: dict[str, str]) -> None:
    by_site: dict[str, dict[str, Discovered]] = {}
    for row in rows:
        if row.kind != "cookie":
            by_site.setdefault(row.site, {})[row.name] = row
    assert set(by_site) == set(sites)
    for site in sites:
        found = by_site[site]
        assert set(found) == expected_hosts(site), site
        assert all(row.pages == len(PATHS) and row.source == "page" for row in found.values())
        assert not any(site_of(host) == site_of(site) for host in found)  # the site's own hosts are no third party
    for (site, host), service in SERVICES.items():
        if site in sites:
            assert by_site[site][host].service == service, (site, host)
    assert "matomo" not in {row.service for row in by_site.get("www.ucsb.edu", {}).values()}  # first-party Matomo


def check_cookies(rows: list[Discovered]) -> None:
    cookies = {(row.name, row.service, row.pages, row.source) for row in rows if row.kind == "cookie"}
    assert cookies == {
        ("PHPSESSID", None, len(PATHS), "set-cookie"),
        ("_ga", "google-analytics", len(PATHS), "set-cookie"),
    }


def test_pages_through_the_middleware(store_url: str) -> None:
    middleware = ConsentMiddleware(site_app(), settings=Settings(secret_key=SECRET, database_url=store_url))
    with TestClient(middleware) as client:
        for site in SITES:
            for path in PATHS:
                response = client.get(path, headers={"host": site})
                assert response.status_code == 200 and b"/_consent/banner.js" in response.content
        cache = middleware.page_rules.page_cache
        assert cache.hits >= 2 * (len(SITES) - 1)  # the hits were counted: every row says len(PATHS) pages
    rows = read_table(store_url)  # the last tally went in on shutdown
    check_table(rows, SITES)
    check_cookies(rows)


def proxied(database_url: str, upstream: str, discovery: bool) -> ConsentMiddleware:
    settings = Settings(
        secret_key=SECRET, database_url=database_url, upstream=upstream, preserve_host=True, discovery=discovery
    )
    metrics = Registry()
    return ConsentMiddleware(UpstreamProxy(settings, metrics), components=build(settings, metrics=metrics))


def browse_through(gateway_url: str, sites) -> None:
    with httpx.Client(base_url=gateway_url, timeout=10) as client:
        for site in sites:
            for path in PATHS:
                response = client.get(path, headers={"host": site})
                assert response.status_code == 200 and b"/_consent/banner.js" in response.content


def test_pages_through_the_proxy(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'consent.db'}"
    sites = {site: SITES[site] for site in ("www.cotemig.com.br", "scrapinghub.com", "www.ucsb.edu")}
    with ThreadedServer(site_app()) as upstream, ThreadedServer(proxied(database_url, upstream.url, True)) as gateway:
        browse_through(gateway.url, sites)
    rows = read_table(database_url)
    check_table(rows, sites)
    check_cookies(rows)


def test_nothing_is_recorded_when_discovery_is_off(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'consent.db'}"
    with ThreadedServer(site_app()) as upstream, ThreadedServer(proxied(database_url, upstream.url, False)) as gateway:
        browse_through(gateway.url, ["www.cotemig.com.br"])
    assert read_table(database_url) == []


@pytest.mark.parametrize("site", sorted(SITES))
def test_the_oracle_sees_third_parties_on_each_page(site: str) -> None:
    assert expected_hosts(site), "pick pages that load third parties"
