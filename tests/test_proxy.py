"""Reverse-proxy mode against a real upstream server on loopback."""

import asyncio
import hashlib
import os

import httpx
import pytest
from helpers import SECRET, ThreadedServer, rows
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.proxy import proxy_app
from gateway.settings import SettingsError

BINARY = os.urandom(1024 * 1024)
PAGE = "<!DOCTYPE html><html lang=nl><head><title>Moodle</title></head><body><h1>Cursus</h1></body></html>"


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def binary(request: Request) -> Response:
    return Response(BINARY, media_type="application/octet-stream")


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "sha256": hashlib.sha256(body).hexdigest(),
            "length": len(body),
            "headers": {k: v for k, v in request.headers.items()},
            "path": request.url.path,
            "query": request.url.query,
        }
    )


async def redirect(request: Request) -> Response:
    return RedirectResponse("/welkom", status_code=302)


async def cookies(request: Request) -> Response:
    response = Response("ok")
    response.set_cookie("MoodleSession", "abc", httponly=True)
    response.set_cookie("lang", "nl")
    return response


async def slow(request: Request) -> Response:
    await asyncio.sleep(3)
    return Response("late")


upstream_site = Starlette(
    routes=[
        Route("/", page),
        Route("/video.bin", binary),
        Route("/echo", echo, methods=["GET", "POST"]),
        Route("/oud", redirect),
        Route("/cookies", cookies),
        Route("/traag", slow),
    ]
)


@pytest.fixture(scope="module")
def upstream():
    with ThreadedServer(upstream_site) as server:
        yield server


@pytest.fixture
def gateway(upstream, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    monkeypatch.setenv("GATEWAY_UPSTREAM_READ_TIMEOUT", "1")
    with ThreadedServer(proxy_app(upstream.url)) as server:
        yield server


def test_html_gets_the_banner_and_the_rest_passes(gateway) -> None:
    response = httpx.get(gateway.url + "/")
    assert response.status_code == 200
    assert response.text.startswith("<!DOCTYPE html><html lang=nl><head><script>window.dataLayer")
    assert '<script src="/_consent/banner.js?v=' in response.text
    assert response.text.endswith("<title>Moodle</title></head><body><h1>Cursus</h1></body></html>")


def test_binary_is_byte_for_byte(gateway) -> None:
    assert httpx.get(gateway.url + "/video.bin").content == BINARY


def test_upload_is_streamed_to_the_upstream(gateway) -> None:
    upload = os.urandom(3 * 1024 * 1024)

    def chunks():
        for start in range(0, len(upload), 65536):
            yield upload[start : start + 65536]

    seen = httpx.post(gateway.url + "/echo?x=1", content=chunks()).json()
    assert seen["sha256"] == hashlib.sha256(upload).hexdigest() and seen["query"] == "x=1"


def test_forwarding_headers_come_from_the_gateway_not_the_visitor(gateway, upstream) -> None:
    seen = httpx.get(gateway.url + "/echo", headers={"x-forwarded-for": "6.6.6.6", "connection": "x-secret", "x-secret": "1"}).json()
    headers = seen["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"  # the visitor's claim is dropped: peer is no trusted proxy
    assert headers["host"] == upstream.url.removeprefix("http://")
    assert headers["x-forwarded-host"] == gateway.url.removeprefix("http://")
    assert headers["x-forwarded-proto"] == "http"
    assert headers["forwarded"].startswith('for="127.0.0.1";proto=http')
    assert "x-secret" not in headers  # named in Connection: hop-by-hop


def test_redirects_and_cookies_pass_through(gateway) -> None:
    moved = httpx.get(gateway.url + "/oud")
    assert moved.status_code == 302 and moved.headers["location"] == "/welkom"
    set_cookies = httpx.get(gateway.url + "/cookies").headers.get_list("set-cookie")
    assert len(set_cookies) == 2 and any(c.startswith("MoodleSession=abc") for c in set_cookies)


def test_consent_api_is_answered_by_the_gateway(gateway, tmp_path) -> None:
    response = httpx.post(gateway.url + "/_consent", json={"action": "reject_all"})
    assert response.status_code == 200
    assert rows(tmp_path / "consent.db")[0]["method"] == "reject_all"


def test_slow_upstream_gives_504(gateway) -> None:
    response = httpx.get(gateway.url + "/traag", timeout=10)
    assert response.status_code == 504 and "te traag" in response.text


def test_upstream_down_gives_branded_502_and_the_gateway_keeps_serving(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    with ThreadedServer(upstream_site) as doomed:
        with ThreadedServer(proxy_app(doomed.url)) as gateway:
            assert httpx.get(gateway.url + "/").status_code == 200
            doomed.stop()
            dutch = httpx.get(gateway.url + "/")
            english = httpx.get(gateway.url + "/", headers={"accept-language": "en"})
            assert dutch.status_code == 502 and "niet bereikbaar" in dutch.text
            assert english.status_code == 502 and "unavailable" in english.text
            assert httpx.get(gateway.url + "/_consent/healthz").status_code == 200


def test_serve_needs_an_upstream(monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.delenv("GATEWAY_UPSTREAM", raising=False)
    with pytest.raises(SettingsError, match="^upstream"):
        proxy_app(None)
