"""The request's head is parsed once per request, however many layers read it.

A consent write is read by the middleware (consent cookie, GPC), the CORS
layer (Origin), the cross-site check (Origin, the gateway's own origin), the
recorder (address, browser, GPC), the cookie it sets (scheme) and the
expiry of denied tracker cookies (cookies, host). Each of them used to walk
the headers itself: one write parsed the peer address three times and joined
the Cookie headers three times. Now the first reader parses them and the
others read the same ``RequestHead`` from the scope.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from support.helpers import answer_lifespan, rows, site

import gateway.net.request as request_module
from gateway import ConsentMiddleware, Settings
from gateway.consent.state import Consent, new_consent_id
from gateway.net.request import SCOPE_KEY, RequestHead, request_head

PROXY = ("10.0.0.2", 40000)  # a trusted proxy in front of the gateway
VISITOR = "203.0.113.5"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def proxied(settings: Settings) -> Settings:
    return dataclasses.replace(settings, trusted_proxies=("10.0.0.0/8",))


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How often a request head is parsed, an address parsed and a cookie string parsed."""
    counted: Counter = Counter()
    parse_head = RequestHead.__init__

    def counting_init(head: RequestHead, scope, trusted) -> None:
        counted["heads"] += 1
        parse_head(head, scope, trusted)

    def counting(name: str, function):
        def count(*args):
            counted[name] += 1
            return function(*args)

        return count

    monkeypatch.setattr(RequestHead, "__init__", counting_init)
    monkeypatch.setattr(request_module, "parse_address", counting("addresses", request_module.parse_address))
    monkeypatch.setattr(request_module, "cookie_parser", counting("cookie strings", request_module.cookie_parser))
    return counted


@pytest.fixture
def client(proxied: Settings) -> Iterator[TestClient]:
    app = ConsentMiddleware(site(), settings=proxied)
    with TestClient(app, base_url="https://leerplein.test", client=PROXY) as test_client:
        yield test_client


def earlier_consent(client: TestClient) -> tuple[str, str]:
    """A consent id and the token a visitor's cookie carries for it."""
    app: ConsentMiddleware = client.app  # type: ignore[assignment]
    consent_id = new_consent_id()
    consent = Consent(consent_id, frozenset({"functional", "analytics"}), 1, 1_700_000_000.0, "custom")
    return consent_id, app.components.codec.dumps(consent)


def test_one_consent_write_parses_the_head_the_address_and_the_cookies_once(
    client: TestClient, counts: Counter, db_path
) -> None:
    consent_id, token = earlier_consent(client)
    headers = [
        ("cookie", f"consent={token}"),  # split over two headers, as HTTP/2 sends them
        ("cookie", "_ga=GA1.1.123.456"),
        ("origin", "https://leerplein.test"),
        ("sec-fetch-site", "same-origin"),
        ("user-agent", FIREFOX),
        ("x-forwarded-for", VISITOR),
        ("x-forwarded-proto", "https"),
        ("sec-gpc", "1"),
    ]
    counts.clear()
    response = client.post("/_consent", json={"action": "reject_all"}, headers=headers)
    assert response.status_code == 200
    assert counts == {"heads": 1, "addresses": 2, "cookie strings": 1}  # the proxy and the visitor behind it
    # ...and every layer read what it needed from that one head:
    [row] = rows(db_path)
    assert row["consent_id"] == consent_id  # the earlier consent, from the cookie: its id carries over
    assert row["ip_prefix"] == "203.0.113.0" and row["browser"] == "Firefox" and row["gpc"]
    set_cookies = response.headers.get_list("set-cookie")
    assert any(v.startswith("consent=") and "Secure" in v for v in set_cookies)  # https as the proxy says
    assert any(v.startswith("_ga=;") for v in set_cookies)  # the denied tracker cookie expired


def test_one_page_request_parses_the_head_and_the_cookies_once(client: TestClient, counts: Counter) -> None:
    _, token = earlier_consent(client)
    headers = [
        ("cookie", "_ga=GA1.1.123.456; _fbp=fb.1.2"),
        ("cookie", f"consent={token}"),
        ("sec-fetch-dest", "document"),
        ("x-forwarded-for", VISITOR),
    ]
    counts.clear()
    page = client.get("/cursus/les-1", headers=headers)
    assert page.status_code == 200 and "banner.js" in page.text
    assert counts["heads"] == 1 and counts["cookie strings"] == 1
    set_cookies = page.headers.get_list("set-cookie")
    assert any(v.startswith("_fbp=;") for v in set_cookies)  # marketing was not granted
    assert not any(v.startswith("_ga=;") for v in set_cookies)  # analytics was
    assert "private" in page.headers["cache-control"]  # live trackers: the consent was read


def test_every_layer_gets_the_head_the_middleware_parsed(proxied: Settings) -> None:
    seen = []

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await answer_lifespan(receive, send)
        seen.append((scope[SCOPE_KEY], request_head(scope, proxied.trusted_proxies)))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with TestClient(ConsentMiddleware(app, settings=proxied), client=PROXY) as client:
        client.get("/", headers={"x-forwarded-for": VISITOR})
    [(kept, asked)] = seen
    assert asked is kept and str(kept.client_address) == VISITOR


def scope(*headers: tuple[bytes, bytes], peer: str = "10.0.0.2", scheme: str = "http") -> dict:
    return {"type": "http", "client": (peer, 40000), "scheme": scheme, "headers": list(headers)}


TRUSTED = Settings(secret_key="x" * 32, trusted_proxies=("10.0.0.0/8",)).trusted_proxies


def test_a_head_is_kept_in_the_scope_and_parsed_again_only_under_other_trusted_proxies() -> None:
    request = scope((b"host", b"leerplein.test"))
    head = request_head(request, TRUSTED)
    assert request_head(request, TRUSTED) is head
    assert request_head(request, tuple(TRUSTED)) is head  # equal settings from another Settings
    assert request_head(request, ()) is not head  # a second gateway that trusts no proxy reads it afresh


def test_repeated_headers_are_joined_or_read_first() -> None:
    head = RequestHead(
        scope(
            (b"cookie", b"a=1"),
            (b"cookie", b"b=2"),
            (b"host", b"leerplein.test"),
            (b"host", b"elders.test"),
            (b"x-forwarded-for", b"198.51.100.1"),
            (b"x-forwarded-for", b"203.0.113.5, 10.0.0.9"),
            (b"accept-encoding", b"gzip"),
            (b"accept-encoding", b"zstd"),
        ),
        TRUSTED,
    )
    assert head.cookie == b"a=1; b=2" and head.cookies == {"a": "1", "b": "2"}
    assert head.host == "leerplein.test"
    assert head.forwarded_chain == ["198.51.100.1", "203.0.113.5", " 10.0.0.9"]
    assert str(head.client_address) == "203.0.113.5"
    assert head.accept_encoding == b"gzip,zstd"


def test_a_request_without_the_headers_read() -> None:
    head = RequestHead({"type": "http", "headers": [(b"accept", b"*/*")]}, TRUSTED)
    assert head.cookie is None and head.cookies == {} and not head.gpc and not head.conditional
    assert head.host == "" and head.user_agent == "" and head.origin is None and head.fetch_dest is None
    assert head.peer is None and head.client_address is None and head.scheme == "http"


def test_forwarding_headers_count_only_from_a_trusted_proxy() -> None:
    forwarded = (
        (b"host", b"10.0.0.2:8080"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"leerplein.test"),
        (b"x-forwarded-for", VISITOR.encode()),
    )
    behind_proxy = RequestHead(scope(*forwarded), TRUSTED)
    assert behind_proxy.from_trusted_proxy and behind_proxy.scheme == "https"
    assert behind_proxy.own_origin == "https://leerplein.test" and str(behind_proxy.client_address) == VISITOR
    direct = RequestHead(scope(*forwarded, peer="198.51.100.7"), TRUSTED)
    assert not direct.from_trusted_proxy and direct.scheme == "http"
    assert direct.own_origin == "http://10.0.0.2:8080" and str(direct.client_address) == "198.51.100.7"


def test_signals_and_conditional_requests() -> None:
    head = RequestHead(scope((b"sec-gpc", b" 1 "), (b"if-none-match", b'"abc"'), (b"sec-fetch-dest", b"iframe")), ())
    assert head.gpc and head.conditional and head.fetch_dest == "iframe"
    assert not RequestHead(scope((b"sec-gpc", b"0")), ()).gpc
