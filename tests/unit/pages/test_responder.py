"""The middleware on the wrapped site's responses: banner, rewriting, cookies, caching."""

import asyncio
import gzip
import html
import re
import tracemalloc
import zlib

import brotli
import pytest
from starlette.testclient import TestClient
from support.helpers import SECRET, answer_lifespan

from gateway import ConsentMiddleware, Settings


def streaming_app(chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None, status: int = 200):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await answer_lifespan(receive, send)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": headers or [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})

    return app


def fetch(
    settings: Settings, chunks, headers=None, method="GET", status=200, cookies=None, path="/", request_headers=None
):
    app = ConsentMiddleware(streaming_app(chunks, headers, status), settings=settings)
    with TestClient(app) as client:
        for name, value in (cookies or {}).items():
            client.cookies.set(name, value)
        return client.request(method, path, headers=request_headers), app.page_rules.head_injection(None, "testserver")


def test_tag_goes_first_in_head_across_chunk_boundaries(settings: Settings) -> None:
    chunks = [
        b"<!DOCTYPE html>\n<!-- <head> in a comment -->\n<ht",
        b'ml lang="nl"><HE',
        b'AD data-x="a>b">',
        b"<title>Les</title>",
        b"</head><body>tekst</body></html>",
    ]
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
    assert re.fullmatch(r'W/"abc-cg[0-9a-f]{8}"', response.headers["etag"])


def test_head_omitted_tag_goes_before_first_element(settings: Settings) -> None:
    response, tag = fetch(settings, [b"<!doctype html><meta charset=utf-8><title>x</title>"])
    note = b""
    assert response.content == b"<!doctype html>" + note + tag + b"<meta charset=utf-8><title>x</title>"


@pytest.mark.parametrize("chunks", [[b"<div>fragment from htmx</div>"], [b"<div>fragment", b" from htmx</div>"]])
def test_a_fragment_gets_the_banner_only_when_the_browser_shows_it_as_a_page(settings: Settings, chunks) -> None:
    fetched, tag = fetch(settings, chunks, request_headers={"sec-fetch-dest": "empty"})
    assert fetched.content == b"".join(chunks)
    shown, tag = fetch(settings, chunks, request_headers={"sec-fetch-dest": "document"})
    assert tag in shown.content and shown.content.endswith(b"".join(chunks))


@pytest.mark.parametrize(
    ("chunks", "headers"),
    [
        ([b'{"html": "<head>"}'], [(b"content-type", b"application/json")]),
        ([b"<html><head></head></html>".decode().encode("utf-16")], [(b"content-type", b"text/html; charset=utf-16")]),
        ([b"<html><head></head></html>"], [(b"content-type", b"text/html"), (b"content-encoding", b"zstd")]),
    ],
)
def test_non_documents_pass_untouched(settings: Settings, chunks, headers) -> None:
    response, _ = fetch(settings, chunks, headers)
    assert response.content == b"".join(chunks)
    assert b"banner.js" not in response.content


@pytest.mark.parametrize(
    ("encoding", "compress", "decompress"),
    [("gzip", gzip.compress, gzip.decompress), ("br", brotli.compress, brotli.decompress)],
)
def test_compressed_html_is_decoded_rewritten_and_encoded_again(
    settings: Settings, encoding, compress, decompress
) -> None:
    page = b'<html><head><script src="https://connect.facebook.net/en_US/fbevents.js"></script></head></html>'
    compressed = compress(page)
    headers = [(b"content-type", b"text/html"), (b"content-encoding", encoding.encode())]
    app = ConsentMiddleware(streaming_app([compressed[:10], compressed[10:]], headers), settings=settings)
    with TestClient(app) as client, client.stream("GET", "/") as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == encoding
    body = decompress(raw)
    assert body.startswith(b"<html><head>" + app.page_rules.head_injection(None, "testserver"))
    assert b'type="text/plain" data-consent="marketing"' in body


def test_large_streamed_page_is_not_held_back(settings: Settings) -> None:
    head = b"<!doctype html><html><head><title>x</title></head><body>"
    chunks = [head] + [b"<p>" + b"x" * 4096 + b"</p>" for _ in range(100)] + [b"</body></html>"]
    response, tag = fetch(settings, chunks)
    assert response.content == head[: head.index(b"<title>")] + tag + b"".join(chunks)[head.index(b"<title>") :]


def test_head_request_drops_the_length(settings: Settings) -> None:
    response, _ = fetch(settings, [b""], [(b"content-type", b"text/html"), (b"content-length", b"120")], method="HEAD")
    assert "content-length" not in response.headers


def test_csp_gets_a_nonce_for_the_injected_scripts(settings: Settings) -> None:
    policy = (b"content-security-policy", b"default-src 'self'; script-src 'self' https://cdn.example")
    response, _ = fetch(settings, [b"<html><head></head></html>"], [(b"content-type", b"text/html"), policy])
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"]).group(1)
    assert response.headers["content-security-policy"].startswith(
        f"default-src 'self'; script-src 'self' https://cdn.example 'nonce-{nonce}'"
    )
    assert response.text.count(f'nonce="{nonce}"') == 2  # banner.js and the Consent Mode default


def test_consent_mode_default_denies_everything_first(settings: Settings) -> None:
    response, _ = fetch(settings, [b"<html><head><title>x</title></head></html>"])
    head = response.text.split("<head>", 1)[1]
    assert head.index("gtag('consent','default'") < head.index("<title>")
    assert "analytics_storage:'denied'" in head and "ad_user_data:'denied'" in head and "wait_for_update:500" in head


def consent_cookie(settings: Settings, categories: list[str]) -> str:
    app = ConsentMiddleware(streaming_app([b""]), settings=settings)
    with TestClient(app) as client:
        return client.post("/_consent", json={"action": "custom", "categories": categories}).json()["token"]


def test_pages_with_live_trackers_are_private_to_the_visitor(settings: Settings) -> None:
    page = [b"<html><head></head></html>"]
    headers = [(b"content-type", b"text/html"), (b"cache-control", b"public, max-age=600")]
    anonymous, _ = fetch(settings, page, headers)
    assert anonymous.headers["cache-control"] == "public, max-age=600" and "Cookie" in anonymous.headers["vary"]
    consented, _ = fetch(settings, page, headers, cookies={"consent": consent_cookie(settings, ["analytics"])})
    assert consented.headers["cache-control"] == "private, max-age=600" and "Cookie" in consented.headers["vary"]


def test_set_cookie_of_denied_categories_is_dropped(settings: Settings) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"set-cookie", b"_ga=GA1.1.1.1; Path=/; Max-Age=63072000"),
        (b"set-cookie", b"_fbp=fb.1.1.1; Path=/"),
        (b"set-cookie", b"MoodleSession=abc; Path=/; HttpOnly"),
    ]
    response, _ = fetch(settings, [b"{}"], headers)
    assert [c.split("=")[0] for c in response.headers.get_list("set-cookie")] == ["MoodleSession"]
    granted, _ = fetch(settings, [b"{}"], headers, cookies={"consent": consent_cookie(settings, ["analytics"])})
    assert [c.split("=")[0] for c in granted.headers.get_list("set-cookie")] == ["_ga", "MoodleSession"]


def test_tracker_cookies_still_held_are_expired_on_pages(settings: Settings) -> None:
    response, _ = fetch(
        settings, [b"<html><head></head></html>"], cookies={"_ga": "GA1.2.3", "_ga_ABC": "x", "keep": "1"}
    )
    expired = [c for c in response.headers.get_list("set-cookie") if "Max-Age=0" in c]
    assert {c.split("=")[0] for c in expired} == {"_ga", "_ga_ABC"}


def test_learner_areas_stay_free_of_analytics_whatever_was_granted(db_path) -> None:
    settings = Settings(
        secret_key=SECRET,
        database_url=f"sqlite:///{db_path}",
        path_policies=({"paths": ["/cursus/*", "/toets/*"], "deny": ["analytics", "marketing"]},),
    )
    page = [b'<html><head><script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script></head></html>']
    token = consent_cookie(settings, ["analytics", "marketing"])
    open_page, _ = fetch(settings, page, cookies={"consent": token}, path="/catalogus")
    lesson, _ = fetch(settings, page, cookies={"consent": token}, path="/cursus/les-1")
    assert b'type="text/plain"' not in open_page.content
    assert b'type="text/plain" data-consent="analytics"' in lesson.content


def test_a_case_sensitive_site_keeps_its_policy_to_the_spelling_it_names(db_path) -> None:
    settings = Settings.load(
        environ={"GATEWAY_CASE_SENSITIVE_PATHS": "true"},
        secret_key=SECRET,
        database_url=f"sqlite:///{db_path}",
        path_policies=({"paths": ["/Cursus/*"], "deny": ["analytics"]},),
    )
    assert settings.case_sensitive_paths is True
    page = [b'<html><head><script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script></head></html>']
    token = consent_cookie(settings, ["analytics"])
    held = b'type="text/plain" data-consent="analytics"'
    for path, is_held in (("/Cursus/les-1", True), ("/%43ursus/./les-1", True), ("/cursus/les-1", False)):
        response, _ = fetch(settings, page, cookies={"consent": token}, path=path)
        assert (held in response.content) is is_held, path


def test_revalidation_only_within_the_same_consent_state(settings: Settings) -> None:
    """A page cached with live trackers is never confirmed by a 304 once consent is gone."""
    seen_conditions = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await answer_lifespan(receive, send)
        condition = dict(scope["headers"]).get(b"if-none-match")
        seen_conditions.append(condition)
        if condition == b'W/"v1"':
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", b'"v1"')]})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [
            (b"content-type", b"text/html"),
            (b"etag", b'"v1"'),
            (b"last-modified", b"Sun, 22 Nov 2026 01:00:00 GMT"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<html><head></head></html>"})

    with TestClient(ConsentMiddleware(app, settings=settings)) as client:
        client.post("/_consent", json={"action": "accept_all"})
        consented = client.get("/")
        assert "last-modified" not in consented.headers
        etag = consented.headers["etag"]
        assert client.get("/", headers={"if-none-match": etag}).status_code == 304
        assert client.get("/", headers={"if-none-match": etag}).headers["etag"] == etag
        client.delete("/_consent")
        after = client.get("/", headers={"if-none-match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert seen_conditions[-1] is None  # the stale validator never reached the site


def test_pages_are_always_sent_whole(settings: Settings) -> None:
    seen = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await answer_lifespan(receive, send)
        seen.append(dict(scope["headers"]).get(b"range"))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"video/mp4")]})
        await send({"type": "http.response.body", "body": b"x"})

    with TestClient(ConsentMiddleware(app, settings=settings)) as client:
        client.get("/les", headers={"range": "bytes=0-10", "sec-fetch-dest": "document"})
        client.get("/video.mp4", headers={"range": "bytes=0-10", "sec-fetch-dest": "video"})
    assert seen == [None, b"bytes=0-10"]


def test_site_is_asked_only_for_encodings_the_rewriter_reads(settings: Settings) -> None:
    """zstd (which browsers offer) is taken out of every Accept-Encoding header; other headers stay as sent."""
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await answer_lifespan(receive, send)
        seen.append(list(scope["headers"]))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    with TestClient(ConsentMiddleware(app, settings=settings)) as client:
        client.get("/", headers=[("accept-encoding", "gzip, deflate, br, zstd"), ("x-custom", "zstd")])
        client.get("/", headers=[("accept-encoding", "gzip")])
    assert seen[0].count((b"accept-encoding", b"gzip, deflate, br")) == 1
    assert (b"x-custom", b"zstd") in seen[0]
    assert seen[1].count((b"accept-encoding", b"gzip")) == 1
    assert all(b"zstd" not in value for name, value in seen[0] + seen[1] if name == b"accept-encoding")


# ---- a page's course: held, collected, streamed, given up --------------------------------------------


def served(settings: Settings, messages: list[dict]) -> list[dict]:
    """The messages the server receives when the wrapped app sends ``messages`` for ``GET /``."""
    received: list[dict] = []

    async def app(scope, receive, send):
        for message in messages:
            await send(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        received.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"host", b"leerplein.test")]}
    asyncio.run(ConsentMiddleware(app, settings=settings)(scope, receive, send))
    return received


def html_start(*headers: tuple[bytes, bytes]) -> dict:
    return {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html"), *headers]}


def body(chunk: bytes, more_body: bool = False) -> dict:
    return {"type": "http.response.body", "body": chunk, "more_body": more_body}


def test_a_page_that_cannot_be_decoded_goes_on_as_it_came(settings: Settings, caplog) -> None:
    start = html_start((b"content-encoding", b"gzip"), (b"content-length", b"8"))
    sent_on, content = served(settings, [start, body(b"not gzip")])
    assert sent_on is start and (b"content-length", b"8") in sent_on["headers"]
    assert content["body"] == b"not gzip" and not content["more_body"]
    assert "cannot rewrite /" in caplog.text


def test_a_page_corrupt_midway_ends_where_it_broke(settings: Settings) -> None:
    page = b"<html><head><title>x</title></head><body>" + b"<p>les</p>" * 50
    encoder = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    first = encoder.compress(page) + encoder.flush(zlib.Z_SYNC_FLUSH)
    garbage = b"\xff" * 16  # a deflate block of the reserved type: undecodable
    messages = [html_start((b"content-encoding", b"gzip")), body(first, True), body(garbage, True), body(b"more")]
    start, rewritten, end = served(settings, messages)
    assert start["type"] == "http.response.start" and b"content-length" not in dict(start["headers"])
    assert zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(rewritten["body"]).startswith(b"<html><head><script")
    assert end == body(b"")  # the rest, "more" included, is dropped


MIB = 1024 * 1024


def bomb(encoding: str, size: int) -> bytes:
    """A page that inflates to ``size`` bytes from a few hundred KB."""
    page = b"<html><head></head><body>" + b" " * size
    if encoding == "br":
        return brotli.compress(page, quality=1)
    wbits = zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS
    encoder = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(encoder.compress(page[at : at + MIB]) for at in range(0, len(page), MIB)) + encoder.flush()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_compression_bomb_is_a_502_in_bounded_memory(db_path, encoding, caplog) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", max_page_size=2 * MIB)
    compressed = bomb(encoding, 256 * MIB)
    messages = [html_start((b"content-encoding", encoding.encode())), body(compressed)]
    tracemalloc.start()
    try:
        received = served(settings, messages)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    start, page = received
    assert start["status"] == 502 and b"too large" in page["body"]
    assert peak < 16 * MIB, f"{peak / MIB:.0f} MiB held for a page refused at 2 MiB"
    assert "decodes to more than" in caplog.text


def test_a_compressed_stream_past_the_limit_is_cut_short(db_path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", max_page_size=MIB)
    encoder = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    chunks = [
        encoder.compress(b"<html><head></head><body>" + b"<p>les</p>" * 60_000) + encoder.flush(zlib.Z_SYNC_FLUSH)
    ]
    chunks += [encoder.compress(b"<p>les</p>" * 60_000) + encoder.flush(zlib.Z_SYNC_FLUSH) for _ in range(2)]
    messages = [html_start((b"content-encoding", b"gzip")), *(body(chunk, True) for chunk in chunks), body(b"")]
    start, first, end = served(settings, messages)
    assert start["status"] == 200 and first["more_body"]
    assert end == body(b"")  # ended where the limit was passed: no bogus completion of the page


def test_an_uncompressed_page_past_the_limit_goes_on_unrewritten(db_path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", max_page_size=MIB)
    head = b"<html><head></head><body>" + b"a" * 600_000
    tail = [b"<scr", b"ipt src=https://www.googletagmanager.com/gtag/js?id=G-X></script>" + b"b" * 600_000, b"</body>"]
    messages = [html_start(), body(head, True), *(body(chunk, True) for chunk in tail), body(b"")]
    received = served(settings, messages)
    sent = b"".join(message["body"] for message in received[1:])
    injection = ConsentMiddleware(None, settings=settings).page_rules.head_injection(None, "leerplein.test")
    assert sent == (head + b"".join(tail)).replace(b"<head>", b"<head>" + injection)
    assert received[-1]["more_body"] is False


def test_a_page_longer_than_it_announced_is_streamed_after_all(db_path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", page_cache_size=4000)  # 1000 held
    chunks = [b"<html><head></head><body>", b"x" * 990, b"y" * 600, b"</body></html>"]
    start = html_start((b"content-length", b"50"))
    messages = [start, *(body(chunk, index < 3) for index, chunk in enumerate(chunks))]
    received = served(settings, messages)
    assert received[0] is start and b"content-length" not in dict(start["headers"])
    assert [message["more_body"] for message in received[1:]] == [True, True, False]
    injection = ConsentMiddleware(None, settings=settings).page_rules.head_injection(None, "leerplein.test")
    page = b"".join(chunks)
    assert b"".join(message["body"] for message in received[1:]) == page.replace(b"<head>", b"<head>" + injection)


def test_a_held_embed_is_named_by_its_placeholder_title(settings: Settings) -> None:
    body = (
        b'<html lang="nl"><head></head><body>'
        b'<iframe src="https://www.youtube.com/embed/abc"></iframe>'
        b'<iframe src="https://cdn.example.org/widget.html"></iframe></body></html>'
    )
    response, _ = fetch(settings, [body])
    frames = re.findall(r'srcdoc="([^"]*)"', response.text)
    assert "YouTube-video" in frames[0] and "inhoud van YouTube " in frames[0]
    assert "<strong>" not in frames[1].replace("&lt;", "<") and "cdn.example.org" in frames[1]


@pytest.mark.parametrize(
    "html_lang,language,title,message,name",
    [
        ('lang="en"', "en", "YouTube video", "This content from YouTube is", "YouTube"),
        ('lang="en-GB"', "en", "Facebook post", "This content from Facebook plug-ins is", "Facebook plug-ins"),
        ('lang="nl"', "nl", "Facebook-bericht", "Deze inhoud van Facebook-plug-ins", "Facebook-plug-ins"),
        ('LANG="DE"', "de", "Facebook post", "Dieser Inhalt von Facebook plug-ins", "Facebook plug-ins"),
        ('lang="fr"', "fr", "YouTube video", "Ce contenu de YouTube", "YouTube"),
        ('lang="es"', "nl", "YouTube-video", "Deze inhoud van YouTube", "YouTube"),  # not spoken: the site's
        ("", "nl", "YouTube-video", "Deze inhoud van YouTube", "YouTube"),
    ],
)
def test_a_placeholder_speaks_the_language_of_the_page(settings: Settings, html_lang, language, title, message, name):
    embed = "www.youtube.com/embed/abc" if "YouTube" in title else "www.facebook.com/plugins/post.php?href=x"
    body = f'<!doctype html><html {html_lang}><head></head><body><iframe src="https://{embed}"></iframe></body></html>'
    response, _ = fetch(settings, [body.encode()])
    [frame] = [html.unescape(f) for f in re.findall(r'srcdoc="([^"]*)"', response.text)]
    assert f'<html lang="{language}">' in frame
    assert f"<strong>{title}</strong>" in frame and message in frame
    assert f"lang={language}&" in frame  # the link opens the preferences page in the same language
    if language != "nl":
        assert not re.search(r"Deze inhoud|-berichten|-plug-ins|Cookie-instellingen", frame), frame
