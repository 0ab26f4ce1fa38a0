"""Reverse-proxy mode against a real upstream server on loopback."""

import asyncio
import hashlib
import os

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from support.helpers import SECRET, ThreadedServer, rows

from gateway.proxy.app import proxy_app
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


async def absolute_redirect(request: Request) -> Response:
    response = RedirectResponse(f"http://{request.headers['host']}/welkom?x=1", status_code=301)
    response.set_cookie("sessie", "1", domain=request.headers["host"].split(":")[0])
    return response


async def echo_socket(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol=websocket.scope["subprotocols"][0] if websocket.scope["subprotocols"] else None)
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await websocket.send_text("echo: " + message["text"])
        else:
            await websocket.send_bytes(message["bytes"][::-1])


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
        Route("/absoluut", absolute_redirect),
        WebSocketRoute("/ws", echo_socket),
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
    seen = httpx.get(
        gateway.url + "/echo", headers={"x-forwarded-for": "6.6.6.6", "connection": "x-secret", "x-secret": "1"}
    ).json()
    headers = seen["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"  # the visitor's claim is dropped: peer is no trusted proxy
    assert headers["host"] == upstream.url.removeprefix("http://")
    assert headers["x-forwarded-host"] == gateway.url.removeprefix("http://")
    assert headers["x-forwarded-proto"] == "http"
    assert headers["forwarded"].startswith('for="127.0.0.1";proto=http')
    assert "x-secret" not in headers  # named in Connection: hop-by-hop


CLIENT_IP_HEADERS = ("x-real-ip", "true-client-ip", "cf-connecting-ip", "x-client-ip", "x-cluster-client-ip")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_visitors_client_ip_headers_never_reach_the_upstream(gateway, method) -> None:
    claimed = {name: "6.6.6.6" for name in CLIENT_IP_HEADERS}
    seen = httpx.request(method, gateway.url + "/echo", headers=claimed).json()["headers"]
    assert not set(CLIENT_IP_HEADERS) & set(seen), seen
    assert "6.6.6.6" not in str(seen)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_client_ip_headers_from_a_trusted_proxy_carry_the_address_worked_out(
    upstream, tmp_path, monkeypatch, method
) -> None:
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "127.0.0.1/32")
    with ThreadedServer(proxy_app(upstream.url)) as gateway:
        headers = {"x-forwarded-for": "198.51.100.7", "x-real-ip": "6.6.6.6", "cf-connecting-ip": "6.6.6.6"}
        seen = httpx.request(method, gateway.url + "/echo", headers=headers).json()["headers"]
    assert seen["x-real-ip"] == seen["cf-connecting-ip"] == "198.51.100.7"
    assert "true-client-ip" not in seen  # only the ones the proxy sent
    assert seen["x-forwarded-for"] == "198.51.100.7, 127.0.0.1"


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
    with ThreadedServer(upstream_site) as doomed, ThreadedServer(proxy_app(doomed.url)) as gateway:
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


def test_upstream_address_never_reaches_the_visitor(gateway) -> None:
    moved = httpx.get(gateway.url + "/absoluut")
    assert moved.headers["location"] == gateway.url + "/welkom?x=1"
    assert "domain" not in moved.headers["set-cookie"].lower()


def test_websockets_pass_through(gateway) -> None:
    import websockets.sync.client

    with websockets.sync.client.connect(gateway.url.replace("http", "ws") + "/ws", subprotocols=["chat"]) as socket:
        assert socket.subprotocol == "chat"
        socket.send("hallo")
        assert socket.recv() == "echo: hallo"
        socket.send(b"\x01\x02\x03")
        assert socket.recv() == b"\x03\x02\x01"


def test_no_open_proxy(gateway, upstream, tmp_path, monkeypatch) -> None:
    import socket

    def raw(request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as connection:
            connection.sendall(request)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
            return answer

    # uvicorn's parser already refuses CONNECT (400); the proxy itself would answer 405.
    assert raw(b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\nConnection: close\r\n\r\n").split()[
        1
    ] in (b"400", b"405")
    # An absolute-form target never steers the gateway: the configured upstream answers.
    answer = raw(b"GET http://evil.example/echo HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and upstream.url.removeprefix("http://").encode() in answer

    monkeypatch.setenv("GATEWAY_PUBLIC_HOSTS", "www.leerplein.nl")
    with ThreadedServer(proxy_app(upstream.url)) as strict:
        refused = httpx.get(strict.url + "/", headers={"host": "evil.example"})
        served = httpx.get(strict.url + "/", headers={"host": "www.leerplein.nl"})
    assert refused.status_code == 421 and served.status_code == 200


def test_host_passed_on_when_configured(upstream, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    monkeypatch.setenv("GATEWAY_PRESERVE_HOST", "true")
    with ThreadedServer(proxy_app(upstream.url)) as gateway:
        seen = httpx.get(gateway.url + "/echo", headers={"host": "www.leerplein.nl"}).json()
    assert seen["headers"]["host"] == "www.leerplein.nl"


def test_the_proxy_itself_refuses_connect(upstream, tmp_path, monkeypatch) -> None:
    from starlette.testclient import TestClient

    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    with TestClient(proxy_app(upstream.url)) as client:
        assert client.request("CONNECT", "/").status_code == 405
