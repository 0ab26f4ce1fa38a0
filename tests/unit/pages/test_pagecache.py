"""The page cache: rewritten pages reused, never across consent states, nonces fresh, memory bounded."""

import dataclasses
import gzip
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from starlette.testclient import TestClient
from support.helpers import answer_lifespan
from unit.pages.test_rewrite import chunkings, documents

from gateway import ConsentMiddleware, Settings
from gateway.pages.cache import ENTRY_OVERHEAD, PageCache, RewrittenPage, page_key

TRACKED = (
    b"<!doctype html><html><head><title>Les 1</title>"
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123"></script>'
    b'<script src="https://connect.facebook.net/en_US/fbevents.js"></script>'
    b"</head><body><p>Les 1: werken met formules</p>"
    b'<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"></iframe></body></html>'
)


# A page as a file server sends it: dated, so a cache may serve it again.
STATIC = [(b"content-type", b"text/html; charset=utf-8"), (b"last-modified", b"Fri, 04 Dec 2026 08:00:00 GMT")]


class Site:
    """An ASGI site whose page (body and headers) the test can change between requests."""

    def __init__(self, body: bytes, headers: list[tuple[bytes, bytes]] | None = None, chunk: int | None = None):
        self.body = body
        self.headers = list(headers or STATIC)
        self.chunk = chunk
        self.calls = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await answer_lifespan(receive, send)
        self.calls += 1
        headers = [*self.headers, (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        size = self.chunk or max(1, len(self.body))
        pieces = [self.body[i : i + size] for i in range(0, len(self.body), size)] or [b""]
        for index, piece in enumerate(pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": index < len(pieces) - 1})


def consent_token(client: TestClient, categories: list[str]) -> str:
    response = client.post("/_consent", json={"action": "custom", "categories": categories})
    return response.json()["token"]


def get(client: TestClient, path: str = "/les-1", token: str | None = None):
    client.cookies.clear()
    if token:
        client.cookies.set("consent", token)
    return client.get(path)


def test_second_request_is_served_from_the_cache_with_the_same_bytes(settings: Settings) -> None:
    site = Site(TRACKED, chunk=50)
    app = ConsentMiddleware(site, settings=settings)
    uncached = ConsentMiddleware(Site(TRACKED, chunk=50), settings=dataclasses.replace(settings, page_cache_size=0))
    with TestClient(app) as client, TestClient(uncached) as plain:
        first, second, reference = get(client), get(client), get(plain)
    cache = app.page_rules.page_cache
    assert (cache.misses, cache.hits, len(cache)) == (1, 1, 1)
    assert first.content == second.content == reference.content
    assert b'type="text/plain"' in first.content and b"data-consent-src" in first.content
    assert first.headers["content-length"] == str(len(first.content))
    assert len(uncached.page_rules.page_cache) == 0


HTML = (b"content-type", b"text/html; charset=utf-8")
DATED = (b"last-modified", b"Fri, 04 Dec 2026 08:00:00 GMT")


@pytest.mark.parametrize(
    "headers",
    [
        [HTML],  # no ETag, no Last-Modified: a page made for this request
        [HTML, (b"etag", b'"v1"'), (b"cache-control", b"no-store")],
        [HTML, DATED, (b"cache-control", b"private, max-age=0")],
        [HTML, DATED, (b"set-cookie", b"MoodleSession=abc; path=/")],
    ],
    ids=["undated", "no-store", "private", "sets-cookie"],
)
def test_pages_made_for_one_request_are_rewritten_but_never_kept(settings: Settings, headers) -> None:
    site = Site(TRACKED, headers=headers, chunk=50)
    app = ConsentMiddleware(site, settings=settings)
    uncached = ConsentMiddleware(
        Site(TRACKED, headers=headers, chunk=50), settings=dataclasses.replace(settings, page_cache_size=0)
    )
    with TestClient(app) as client, TestClient(uncached) as plain:
        first, second, reference = get(client), get(client), get(plain)
    cache = app.page_rules.page_cache
    assert (cache.misses, cache.hits, len(cache), cache.size) == (0, 0, 0, 0)  # not even hashed
    assert first.content == second.content == reference.content
    assert b'type="text/plain" data-consent="analytics"' in first.content
    assert site.calls == 2


def test_different_grants_never_share_a_page(settings: Settings) -> None:
    app = ConsentMiddleware(Site(TRACKED), settings=settings)
    with TestClient(app) as client:
        everything = consent_token(client, ["analytics", "marketing"])
        analytics = consent_token(client, ["analytics"])
        anonymous_before = get(client)
        consented = get(client, token=everything)
        partly = get(client, token=analytics)
        anonymous_after = get(client)
    neutralised = anonymous_before.content
    assert neutralised.count(b'type="text/plain"') == 2 and b"data-consent-src" in neutralised
    # Everything granted: the trackers are live, nothing from the anonymous page leaked in.
    assert b"data-consent=" not in consented.content and TRACKED.split(b"<head>")[1] in consented.content
    # Analytics only: Google's tag live, Meta's pixel and the embed still held.
    assert b'data-consent-service="google-analytics"' not in partly.content
    assert b'data-consent-service="meta-pixel"' in partly.content and b"data-consent-src" in partly.content
    assert anonymous_after.content == neutralised
    cache = app.page_rules.page_cache
    assert len(cache) == 3 and cache.hits == 1


def test_per_path_policy_is_part_of_the_key(db_path) -> None:
    settings = Settings(
        secret_key="test-secret-0123456789abcdef0123",
        database_url=f"sqlite:///{db_path}",
        path_policies=({"paths": ["/cursus/*"], "deny": ["analytics", "marketing"]},),
    )
    app = ConsentMiddleware(Site(TRACKED), settings=settings)
    with TestClient(app) as client:
        token = consent_token(client, ["analytics", "marketing"])
        open_page = get(client, "/catalogus", token)
        lesson = get(client, "/cursus/les-1", token)
        open_again = get(client, "/catalogus", token)
    assert b"data-consent=" not in open_page.content and open_again.content == open_page.content
    assert lesson.content.count(b'type="text/plain"') == 2


def test_csp_nonce_is_new_for_every_response(settings: Settings) -> None:
    policy = (b"content-security-policy", b"default-src 'self'; script-src 'self'")
    app = ConsentMiddleware(Site(TRACKED, [*STATIC, policy]), settings=settings)
    with TestClient(app) as client:
        responses = [get(client) for _ in range(3)]
    nonces = [re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"]).group(1) for r in responses]
    assert len(set(nonces)) == 3
    for response, nonce in zip(responses, nonces, strict=True):
        assert re.findall(rb'nonce="([^"]+)"', response.content) == [nonce.encode()] * 2
        assert response.headers["content-length"] == str(len(response.content))
    bodies = {re.sub(rb'nonce="[^"]+"', b'nonce=""', r.content) for r in responses}
    assert len(bodies) == 1
    assert app.page_rules.page_cache.hits == 2


def test_a_changed_page_is_rewritten_again(settings: Settings) -> None:
    site = Site(TRACKED)
    app = ConsentMiddleware(site, settings=settings)
    with TestClient(app) as client:
        before = get(client)
        site.body = TRACKED.replace(b"Les 1: werken met formules", b"Les 1: grafieken maken")
        after = get(client)
        site.body = TRACKED.replace(b"https://connect.facebook.net/en_US/fbevents.js", b"/js/eigen.js")
        without_pixel = get(client)
    assert b"werken met formules" in before.content
    assert b"grafieken maken" in after.content and b"werken met formules" not in after.content
    assert b"/js/eigen.js" in without_pixel.content and b"meta-pixel" not in without_pixel.content
    assert app.page_rules.page_cache.hits == 0


def test_compressed_pages_are_cached_and_still_decode(settings: Settings) -> None:
    compressed = gzip.compress(TRACKED)
    app = ConsentMiddleware(Site(compressed, [*STATIC, (b"content-encoding", b"gzip")]), settings=settings)
    with TestClient(app) as client:
        first, second = get(client), get(client)
    assert first.headers["content-encoding"] == "gzip"
    assert first.content == second.content and b'type="text/plain"' in first.content
    assert app.page_rules.page_cache.hits == 1


def test_memory_stays_within_the_configured_size(settings: Settings) -> None:
    capacity = 64 * 1024
    site = Site(TRACKED)
    app = ConsentMiddleware(site, settings=dataclasses.replace(settings, page_cache_size=capacity))
    cache = app.page_rules.page_cache
    with TestClient(app) as client:
        for n in range(200):
            site.body = TRACKED + b"<p>" + b"x" * 2000 + b"%d</p>" % n
            assert get(client).status_code == 200
            assert cache.size <= capacity
    assert 0 < len(cache) < 200 and cache.misses == 200


def test_pages_larger_than_a_quarter_of_the_cache_are_streamed_not_held(settings: Settings) -> None:
    big = TRACKED.replace(b"</body>", b"<p>" + b"x" * 40_000 + b"</p></body>")
    app = ConsentMiddleware(Site(big, chunk=4096), settings=dataclasses.replace(settings, page_cache_size=64 * 1024))
    with TestClient(app) as client:
        response = get(client)
    assert b'type="text/plain"' in response.content and "content-length" not in response.headers
    assert len(app.page_rules.page_cache) == 0


def test_cache_evicts_least_recently_used_first() -> None:
    page = RewrittenPage(b"a" * 1000, b"", False, ())
    cache = PageCache(capacity=4 * (1000 + ENTRY_OVERHEAD))
    keys = [page_key(b"%d" % n, "", frozenset({"functional"}), "h", "/") for n in range(5)]
    for key in keys[:4]:
        cache.put(key, page)
    assert cache.get(keys[0]) is page  # used: now the most recent
    cache.put(keys[4], page)
    assert cache.get(keys[1]) is None and all(cache.get(k) is page for k in (keys[0], keys[2], keys[3], keys[4]))
    assert cache.size == 4 * page.size


def test_keys_differ_by_every_part() -> None:
    base = (b"<html>", "gzip", frozenset({"functional"}), "www.example.nl", "/")
    variants = [
        (b"<html >", *base[1:]),
        (base[0], "br", *base[2:]),
        (*base[:2], frozenset({"functional", "analytics"}), *base[3:]),
        (*base[:3], "andere.example.nl", base[4]),
        (*base[:4], "/les-2"),
    ]
    assert len({page_key(*base), *(page_key(*v) for v in variants)}) == 6


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(documents, chunkings)
def test_cached_output_equals_streamed_output(tmp_path_factory, body: bytes, chunks: list[int]) -> None:
    settings = Settings(
        secret_key="test-secret-0123456789abcdef0123", database_url=f"sqlite:///{tmp_path_factory.mktemp('db')}/c.db"
    )

    class Streamed(Site):  # no Content-Length: rewritten as it streams, never cached
        async def __call__(self, scope, receive, send):
            if scope["type"] == "lifespan":
                return await answer_lifespan(receive, send)
            await send({"type": "http.response.start", "status": 200, "headers": list(self.headers)})
            position = 0
            for size in chunks:
                await send({"type": "http.response.body", "body": body[position : position + size], "more_body": True})
                position += size
            await send({"type": "http.response.body", "body": body[position:], "more_body": False})

    cached = ConsentMiddleware(Site(body), settings=settings)
    streamed = ConsentMiddleware(Streamed(body), settings=dataclasses.replace(settings, page_cache_size=0))
    with TestClient(cached) as client, TestClient(streamed) as reference:
        first, second, expected = get(client), get(client), get(reference)
    assert first.content == second.content == expected.content


def test_a_shareable_page_is_keyed_by_its_strong_etag(settings: Settings) -> None:
    site = Site(TRACKED, [(b"content-type", b"text/html"), (b"etag", b'"v1"')])
    app = ConsentMiddleware(site, settings=settings)
    with TestClient(app) as client:
        first = get(client)
        # Same strong ETag and length: the site vouches the bytes are the same, so they are not hashed again.
        site.body = TRACKED.replace(b"Les 1", b"Les 2")
        trusted = get(client)
        site.headers = [(b"content-type", b"text/html"), (b"etag", b'"v2"')]
        changed = get(client)
    assert trusted.content == first.content and b"Les 1" in trusted.content
    assert b"Les 2" in changed.content
    assert app.page_rules.page_cache.hits == 1


def test_a_page_that_may_be_personal_is_keyed_by_its_bytes_whatever_its_etag(settings: Settings) -> None:
    cases = {
        "private": ([(b"cache-control", b"private, max-age=60")], {}),
        "no-store": ([(b"cache-control", b"no-store")], {}),
        "varies by cookie": ([(b"vary", b"Accept-Encoding, Cookie")], {}),
        "sets a cookie": ([(b"set-cookie", b"MoodleSession=abc; Path=/; HttpOnly")], {}),
        "weak etag": ([], {"etag": b'W/"v1"'}),
        "session cookie sent": ([], {"cookie": "MoodleSession=abc"}),
        "credentials sent": ([], {"authorization": "Basic bGVlcmxpbmc6Z2VoZWlt"}),
    }
    for case, (extra, request) in cases.items():
        etag = request.get("etag", b'"same-for-everyone"')
        site = Site(TRACKED.replace(b"Les 1", b"Anna"), [(b"content-type", b"text/html"), (b"etag", etag), *extra])
        app = ConsentMiddleware(site, settings=settings)
        with TestClient(app) as client:
            headers = {k: v for k, v in request.items() if k != "etag"}
            anna = client.get("/les-1", headers=headers)
            site.body = TRACKED.replace(b"Les 1", b"Bram")  # another learner's page, same ETag and length
            bram = client.get("/les-1", headers=headers)
        assert b"Anna" in anna.content, case
        assert b"Bram" in bram.content and b"Anna" not in bram.content, case


def test_pages_from_the_cache_are_counted_like_rewritten_ones(settings: Settings) -> None:
    app = ConsentMiddleware(Site(TRACKED), settings=settings)
    with TestClient(app) as client:
        get(client), get(client), get(client)
        metrics = client.get("/_consent/metrics").text
    assert app.page_rules.page_cache.hits == 2
    assert 'gateway_pages_rewritten_total{outcome="blocked"} 3' in metrics
    assert re.search(r'gateway_blocked_elements_total\{category="[a-z]+",service="[a-z0-9_-]+"\} 3', metrics)


def test_headers_given_as_lists_are_marked_too(settings: Settings) -> None:
    site = Site(TRACKED, headers=[[b"content-type", b"text/html"], [b"etag", b'"v1"'], [b"last-modified", b"x"]])
    app = ConsentMiddleware(site, settings=settings)
    with TestClient(app) as client:
        first, second = get(client), get(client)
    for response in (first, second):
        assert re.fullmatch(r'W/"v1-cg[0-9a-f]{8}"', response.headers["etag"])
        assert "last-modified" not in response.headers and response.headers["vary"] == "Cookie"
    assert first.content == second.content
