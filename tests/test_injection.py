import gzip

import pytest
from starlette.testclient import TestClient

from gateway import ConsentMiddleware, Settings
from gateway.injection import NeedMore, injection_point


def streaming_app(chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None, status: int = 200):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": status, "headers": headers or [(b"content-type", b"text/html; charset=utf-8")]})
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})

    return app


def fetch(settings: Settings, chunks, headers=None, method="GET", status=200):
    app = ConsentMiddleware(streaming_app(chunks, headers, status), settings=settings)
    with TestClient(app) as client:
        return client.request(method, "/"), app.banner.script_tag()


def test_tag_goes_first_in_head_across_chunk_boundaries(settings: Settings) -> None:
    chunks = [b"<!DOCTYPE html>\n<!-- <head> in a comment -->\n<ht", b'ml lang="nl"><HE', b'AD data-x="a>b">', b"<title>Les</title>", b"</head><body>tekst</body></html>"]
    response, tag = fetch(settings, chunks)
    original = b"".join(chunks)
    point = original.index(b'data-x="a>b">') + len(b'data-x="a>b">')
    assert response.content == original[:point] + tag + original[point:]
    assert "content-length" not in response.headers or int(response.headers["content-length"]) == len(response.content)


def test_whole_body_gets_exact_content_length_and_weak_etag(settings: Settings) -> None:
    body = b"<html><head><title>x</title></head><body></body></html>"
    headers = [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode()), (b"etag", b'"abc"')]
    response, tag = fetch(settings, [body], headers)
    assert response.content == b"<html><head>" + tag + body[len(b"<html><head>") :]
    assert response.headers["content-length"] == str(len(body) + len(tag))
    assert response.headers["etag"] == 'W/"abc"'


def test_head_omitted_tag_goes_before_first_element(settings: Settings) -> None:
    response, tag = fetch(settings, [b"<!doctype html><meta charset=utf-8><title>x</title>"])
    assert response.content == b"<!doctype html>" + tag + b"<meta charset=utf-8><title>x</title>"


@pytest.mark.parametrize(
    ("chunks", "headers"),
    [
        ([b"<div>fragment from htmx</div>"], None),
        ([b'{"html": "<head>"}'], [(b"content-type", b"application/json")]),
        ([b"<html><head></head></html>".decode().encode("utf-16")], [(b"content-type", b"text/html; charset=utf-16")]),
    ],
)
def test_non_documents_pass_untouched(settings: Settings, chunks, headers) -> None:
    response, _ = fetch(settings, chunks, headers)
    assert response.content == b"".join(chunks)
    assert b"banner.js" not in response.content


def test_gzip_body_is_passed_byte_for_byte(settings: Settings) -> None:
    compressed = gzip.compress(b"<html><head></head></html>")
    app = ConsentMiddleware(streaming_app([compressed], [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")]), settings=settings)
    with TestClient(app) as client:
        with client.stream("GET", "/") as response:
            raw = b"".join(response.iter_raw())
    assert raw == compressed


def test_large_streamed_page_is_not_held_back(settings: Settings) -> None:
    head = b"<!doctype html><html><head><title>x</title></head><body>"
    chunks = [head] + [b"<p>" + b"x" * 4096 + b"</p>" for _ in range(100)] + [b"</body></html>"]
    response, tag = fetch(settings, chunks)
    assert response.content == head[: head.index(b"<title>")] + tag + b"".join(chunks)[head.index(b"<title>") :]


def test_head_request_drops_the_length(settings: Settings) -> None:
    response, _ = fetch(settings, [b""], [(b"content-type", b"text/html"), (b"content-length", b"120")], method="HEAD")
    assert "content-length" not in response.headers


def test_scanner_asks_for_more_until_it_can_decide() -> None:
    with pytest.raises(NeedMore):
        injection_point(b"<!doctype html><html><hea", finished=False)
    assert injection_point(b"<!doctype html><html><hea", finished=True) is None
    assert injection_point(b"<p>only text", finished=True) is None
    assert injection_point(b"<HTML><HEAD>", finished=False) == len(b"<HTML><HEAD>")
