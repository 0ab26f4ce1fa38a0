"""Statistics counted in the proxy: a real upstream on loopback, the gateway served by uvicorn, the figures stored."""

from __future__ import annotations

from pathlib import Path

import httpx
from support.helpers import ThreadedServer
from support.statistics import EXPECTED, SITE, browse, make_settings, read_figures, site_app, today

from gateway import ConsentMiddleware
from gateway.app import build
from gateway.metrics.registry import Registry
from gateway.proxy.app import UpstreamProxy


def proxied(database_url: str, upstream: str, **overrides) -> ConsentMiddleware:
    settings = make_settings(database_url, upstream=upstream, trusted_proxies=["127.0.0.1/32"], **overrides)
    metrics = Registry()
    return ConsentMiddleware(UpstreamProxy(settings, metrics), components=build(settings, metrics=metrics))


def test_pages_through_the_proxy_are_counted_exactly(store_url: str) -> None:
    with ThreadedServer(site_app()) as upstream:
        app = proxied(store_url, upstream.url)
        with ThreadedServer(app) as gateway, httpx.Client(base_url=gateway.url, headers={"host": SITE}) as client:
            browse(client, app)
    assert read_figures(store_url, today()) == EXPECTED


def test_the_proxy_counts_nothing_when_statistics_are_off(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'consent.db'}"
    with ThreadedServer(site_app()) as upstream:
        app = proxied(database_url, upstream.url, statistics=False)
        with ThreadedServer(app) as gateway, httpx.Client(base_url=gateway.url, headers={"host": SITE}) as client:
            browse(client, app)
    assert read_figures(database_url, today()) == {}
