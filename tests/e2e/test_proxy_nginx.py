"""Reverse-proxy mode in front of a real nginx (Debian's, run by the test: see tests/nginx.py).

The gateway runs as operators run it: ``python -m gateway.cli serve --upstream
http://127.0.0.1:<nginx>`` in a subprocess, with a secret and a SQLite file
from the environment. nginx serves static files from a temporary directory
(gzip on, SSI for a chunked page, redirects and cookies of its own) and
passes ``/app/`` on, unbuffered both ways, to a small Starlette site in this
process for what static files cannot do: a brotli page (Debian's nginx has
no brotli module), streamed bodies, and a multipart upload that is hashed as
it arrives. So those requests go visitor -> gateway -> nginx -> Python.

Not repeated here, already covered against a Python upstream in
tests/unit/proxy/test_proxy.py: the WebSocket echo (test_websockets_pass_through), the
no-open-proxy checks (CONNECT, absolute-form targets, GATEWAY_PUBLIC_HOSTS),
forwarding headers and the 504 for a slow upstream.

nginx must be installed (``apt-get install -y nginx-light``); without it
these tests fail, they do not skip.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from support.helpers import Gateway, ThreadedServer, free_port
from support.nginx import Nginx

pytestmark = pytest.mark.nginx

TRACKER = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
PAGE = (
    "<!DOCTYPE html><html lang=nl><head><meta charset=utf-8><title>Cursus Excel</title>"
    + TRACKER
    + "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());gtag('config','G-1');</script>"
    "</head><body><h1>Excel voor beginners</h1>" + "<p>Les over formules en grafieken.</p>" * 200 + "</body></html>"
)
NEUTRALISED = (
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1" type="text/plain" data-consent="analytics"'
)
BINARY = os.urandom(5 * 1024 * 1024)
STREAMED = os.urandom(1024 * 1024 + 17)


# --------------------------------------------------------------------------- the Python site behind nginx


async def brotli_page(request: Request) -> Response:
    return Response(
        brotli.compress(PAGE.encode()), media_type="text/html; charset=utf-8", headers={"content-encoding": "br"}
    )


async def streamed_binary(request: Request) -> Response:
    async def chunks():
        for start in range(0, len(STREAMED), 65536):
            yield STREAMED[start : start + 65536]
            await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def streamed_page(request: Request) -> Response:
    """HTML in small pieces, the tracker tag cut in the middle, with pauses: nothing arrives whole."""
    body = PAGE.encode()
    cut = body.index(b"googletagmanager")

    async def chunks():
        for piece in (body[:cut], body[cut : cut + 10], body[cut + 10 :]):
            yield piece
            await asyncio.sleep(0.05)

    return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")


async def upload(request: Request) -> Response:
    digest, length, chunks = hashlib.sha256(), 0, 0
    async for chunk in request.stream():
        digest.update(chunk)
        length += len(chunk)
        chunks += bool(chunk)
    return JSONResponse(
        {
            "sha256": digest.hexdigest(),
            "length": length,
            "chunks": chunks,
            "content_type": request.headers.get("content-type"),
        }
    )


class Echo:
    """Raw ASGI: each piece of the request body goes back as it arrives, before the upload ends.

    (Not a StreamingResponse: Starlette's listens for the disconnect with
    ``receive()`` while streaming and would swallow request body messages.)
    """

    async def __call__(self, scope, receive, send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]}
        )
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if message.get("body"):
                await send({"type": "http.response.body", "body": message["body"], "more_body": True})
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.body", "body": b"", "more_body": False})


python_site = Starlette(
    routes=[
        Route("/br", brotli_page),
        Route("/stream.bin", streamed_binary),
        Route("/stream.html", streamed_page),
        Route("/upload", upload, methods=["POST"]),
        Route("/echo", Echo(), methods=["POST"]),
    ]
)


# --------------------------------------------------------------------------- nginx and the gateway


def site_config(root: Path, python_port: int) -> str:
    return f"""
server {{
    listen {{listen}};
    root {root};
    gzip on;
    gzip_min_length 0;
    gzip_vary on;
    location / {{ }}
    location = /ssi.html {{ ssi on; }}
    location = /old {{ return 301 http://$host:$server_port/new; }}
    location = /relative {{ return 302 /new; }}
    location = /cookies {{
        add_header Set-Cookie "MoodleSession=abc; Path=/; HttpOnly";
        add_header Set-Cookie "_ga=GA1.1.1; Path=/";
        return 200 "ok";
    }}
    location /app/ {{
        proxy_pass http://127.0.0.1:{python_port}/;
        proxy_http_version 1.1;
        proxy_buffering off;
        proxy_request_buffering off;
        client_max_body_size 20m;
    }}
}}
"""


def write_site(root: Path) -> None:
    root.mkdir()
    (root / "index.html").write_text(PAGE)
    (root / "big.bin").write_bytes(BINARY)
    (root / "part.html").write_text(TRACKER)
    (root / "ssi.html").write_text(PAGE.replace("</head>", '<!--# include virtual="/part.html" --></head>'))
    (root / "docs").mkdir()
    (root / "docs" / "index.html").write_text(PAGE)


@pytest.fixture(scope="module")
def python_upstream() -> Iterator[ThreadedServer]:
    with ThreadedServer(python_site) as server:
        yield server


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, python_upstream) -> Iterator[Nginx]:
    workdir = tmp_path_factory.mktemp("nginx")
    write_site(workdir / "www")
    with Nginx(workdir / "nginx", [site_config(workdir / "www", python_upstream.port)]) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(nginx, tmp_path_factory) -> Iterator[Gateway]:
    server = Gateway(nginx.url, tmp_path_factory.mktemp("gateway"))
    yield server
    server.stop()


def raw_get(url: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (still compressed)."""
    with httpx.stream("GET", url, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def assert_rewritten(html: str) -> None:
    assert html.startswith("<!DOCTYPE html><html lang=nl><head><script>window.dataLayer")
    assert '<script src="/_consent/banner.js?v=' in html
    assert NEUTRALISED in html and TRACKER not in html
    assert html.endswith("</body></html>")


# --------------------------------------------------------------------------- HTML


def test_static_page_is_rewritten(gateway, nginx) -> None:
    direct = httpx.get(nginx.url + "/", headers={"accept-encoding": "identity"})
    assert TRACKER in direct.text  # nginx serves it as it is

    response = httpx.get(gateway.url + "/", headers={"accept-encoding": "identity"})
    assert response.status_code == 200 and "content-encoding" not in response.headers
    assert_rewritten(response.text)
    assert "Cookie" in response.headers["vary"]


def test_gzip_from_nginx_stays_gzip(gateway) -> None:
    response, body = raw_get(gateway.url + "/", **{"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert {v.strip() for v in response.headers["vary"].split(",")} >= {"Accept-Encoding", "Cookie"}
    assert_rewritten(gzip.decompress(body).decode())
    assert len(body) < len(PAGE) / 4  # really compressed, not just framed


def test_brotli_page_stays_brotli(gateway) -> None:
    # Debian's nginx has no brotli module: the br page comes from the Python site, through nginx.
    response, body = raw_get(gateway.url + "/app/br", **{"accept-encoding": "br"})
    assert response.status_code == 200 and response.headers["content-encoding"] == "br"
    assert_rewritten(brotli.decompress(body).decode())


def test_chunked_pages_are_rewritten(gateway, nginx) -> None:
    # SSI: nginx does not know the length, so it sends chunks.
    assert httpx.get(nginx.url + "/ssi.html").headers.get("transfer-encoding") == "chunked"
    ssi = httpx.get(gateway.url + "/ssi.html")
    assert ssi.status_code == 200 and "<!--#" not in ssi.text
    assert_rewritten(ssi.text)
    assert ssi.text.count(NEUTRALISED) == 2  # the page's own tracker and the included one

    streamed = httpx.get(gateway.url + "/app/stream.html")
    assert streamed.headers.get("transfer-encoding") == "chunked"
    assert_rewritten(streamed.text)


# --------------------------------------------------------------------------- other bodies


def test_large_binary_is_byte_for_byte(gateway, nginx) -> None:
    response = httpx.get(gateway.url + "/big.bin")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(BINARY))
    assert response.headers["etag"] == httpx.head(nginx.url + "/big.bin").headers["etag"]
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(BINARY).digest()


def test_byte_range(gateway) -> None:
    response = httpx.get(gateway.url + "/big.bin", headers={"range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 100-199/{len(BINARY)}"
    assert response.headers["content-length"] == "100"
    assert response.content == BINARY[100:200]


def test_chunked_binary_is_intact(gateway) -> None:
    response = httpx.get(gateway.url + "/app/stream.bin")
    assert response.status_code == 200 and response.headers.get("transfer-encoding") == "chunked"
    assert response.content == STREAMED


def test_multipart_upload_is_streamed_to_the_site(gateway) -> None:
    upload = os.urandom(2 * 1024 * 1024)
    files = {"bestand": ("opdracht.pdf", upload, "application/pdf")}
    with httpx.Client() as client:
        request = client.build_request("POST", gateway.url + "/app/upload", data={"naam": "Sanne"}, files=files)
        body = request.read()  # what the browser would send, boundary and all
        seen = client.send(request).json()
    assert seen["sha256"] == hashlib.sha256(body).hexdigest() and seen["length"] == len(body)
    assert seen["content_type"] == request.headers["content-type"]
    assert seen["chunks"] > 1  # arrived in pieces


def test_upload_and_answer_flow_at_the_same_time(gateway) -> None:
    """The site echoes each piece at once: the first piece must come back while the upload is still open.

    A gateway (or nginx) that collected the request body, or the response, before
    passing it on would leave this waiting for the first piece until the timeout.
    """
    pieces = [bytes([n]) * 65536 for n in range(1, 33)]  # 2 MiB
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as connection:
        connection.sendall(
            b"POST /app/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
        )
        connection.sendall(b"%x\r\n%s\r\n" % (len(pieces[0]), pieces[0]))
        received = b""
        while received.count(1) < len(pieces[0]):  # the upload is still open here
            chunk = connection.recv(65536)
            assert chunk, "connection closed before the first piece came back"
            received += chunk
        for piece in pieces[1:]:
            connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.sendall(b"0\r\n\r\n")
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    assert dechunk(body) == b"".join(pieces)


def dechunk(body: bytes) -> bytes:
    data, position = b"", 0
    while True:
        line_end = body.index(b"\r\n", position)
        size = int(body[position:line_end].split(b";")[0], 16)
        if size == 0:
            return data
        data += body[line_end + 2 : line_end + 2 + size]
        position = line_end + 2 + size + 2


# --------------------------------------------------------------------------- headers nginx writes


def test_nginx_redirects_point_at_the_gateway(gateway) -> None:
    for path in ("/old", "/relative"):
        moved = httpx.get(gateway.url + path)
        assert moved.status_code in (301, 302)
        assert moved.headers["location"] == gateway.url + "/new", path
    # A directory without its slash: nginx builds the absolute URL itself, with its own port.
    directory = httpx.get(gateway.url + "/docs")
    assert directory.status_code == 301 and directory.headers["location"] == gateway.url + "/docs/"
    assert_rewritten(httpx.get(gateway.url + "/docs", follow_redirects=True).text)


def test_session_cookie_passes_tracker_cookie_waits_for_consent(gateway) -> None:
    set_cookies = httpx.get(gateway.url + "/cookies").headers.get_list("set-cookie")
    assert set_cookies == ["MoodleSession=abc; Path=/; HttpOnly"]

    with httpx.Client(base_url=gateway.url) as client:
        assert client.post("/_consent", json={"action": "accept_all"}).status_code == 200
        granted = client.get("/cookies").headers.get_list("set-cookie")
        assert "_ga=GA1.1.1; Path=/" in granted and "MoodleSession=abc; Path=/; HttpOnly" in granted
        page = client.get("/")
        assert TRACKER in page.text and NEUTRALISED not in page.text
        assert "private" in page.headers["cache-control"]


# --------------------------------------------------------------------------- nginx goes away and comes back


def test_nginx_down_then_back(tmp_path) -> None:
    write_site(tmp_path / "www")
    with Nginx(tmp_path / "nginx", [site_config(tmp_path / "www", free_port())]) as doomed:
        gateway = Gateway(doomed.url, tmp_path)
        try:
            assert httpx.get(gateway.url + "/").status_code == 200
            doomed.stop()
            down = httpx.get(gateway.url + "/")
            assert down.status_code == 502 and "niet bereikbaar" in down.text
            assert down.headers["cache-control"] == "no-store" and down.headers["retry-after"] == "5"
            assert httpx.get(gateway.url + "/_consent/healthz").status_code == 200
            assert httpx.get(gateway.url + "/big.bin").status_code == 502

            doomed.start()  # same port
            back = httpx.get(gateway.url + "/")
            assert back.status_code == 200
            assert_rewritten(back.text)
        finally:
            gateway.stop()


# --------------------------------------------------------------------------- found by these tests, since fixed


def test_one_date_header(gateway) -> None:
    assert len(httpx.get(gateway.url + "/part.html").headers.get_list("date")) == 1


def test_preserved_host_never_sends_the_visitor_to_the_upstream(nginx, tmp_path) -> None:
    gateway = Gateway(nginx.url, tmp_path, env={"GATEWAY_PRESERVE_HOST": "true"})
    try:
        moved = httpx.get(gateway.url + "/old")  # nginx: http://$host:$server_port/new, its own port
        assert not moved.headers["location"].startswith(nginx.url)
    finally:
        gateway.stop()


def test_revalidation_after_withdrawal_gets_the_neutralised_page(gateway) -> None:
    """Browsers revalidate on a Vary: Cookie mismatch with the stored ETag (Chromium does, without the date)."""
    with httpx.Client(base_url=gateway.url, headers={"accept-encoding": "identity"}) as client:
        client.post("/_consent", json={"action": "accept_all"})
        consented = client.get("/")
        assert TRACKER in consented.text  # live trackers, stored by the browser
        client.delete("/_consent")
        again = client.get("/", headers={"if-none-match": consented.headers["etag"]})
        assert again.status_code == 200 and NEUTRALISED in again.text
