import json
from http.cookies import SimpleCookie

import pytest
from starlette.testclient import TestClient
from support.helpers import SECRET, answer_lifespan, rows, site

from gateway import ConsentMiddleware, Settings
from gateway.banner.script import Banner
from gateway.consent.state import Consent, TokenCodec
from gateway.trackers.catalogue import default_catalogue


def choose(client: TestClient, action: str, categories=(), **headers):
    return client.post("/_consent", json={"action": action, "categories": list(categories)}, headers=headers)


def set_cookie(response) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


def test_nothing_decided_at_first(client: TestClient) -> None:
    state = client.get("/_consent").json()
    assert state["decided"] is False and state["id"] is None
    assert state["categories"] == ["functional"]


def test_reject_all_is_recorded_and_signed_into_the_cookie(client: TestClient, db_path) -> None:
    response = choose(client, "reject_all", **{"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["categories"] == ["functional"] and answer["revision"] == 1
    cookie = set_cookie(response)["consent"]
    assert cookie.value == answer["token"]
    assert cookie["path"] == "/" and cookie["samesite"].lower() == "lax"
    assert not cookie["httponly"] and not cookie["secure"]
    [row] = rows(db_path)
    assert row["consent_id"] == answer["id"] and row["method"] == "reject_all"
    assert row["granted"] == "functional" and row["denied"] == "analytics,marketing,other"
    assert row["ip_prefix"] is None  # the test client's peer is no IP address
    assert row["browser"] == "Firefox" and row["device"] == "desktop"
    state = client.get("/_consent").json()
    assert state["decided"] and state["id"] == answer["id"] and state["method"] == "reject_all"


def test_record_holds_no_full_ip_and_no_raw_user_agent(settings: Settings, db_path) -> None:
    app = ConsentMiddleware(site(), settings=settings)
    with TestClient(app, client=("203.0.113.77", 40000)) as client:
        user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
        client.post(
            "/_consent",
            json={"action": "accept_all", "page": "/cursus/les-1?naam=Jan#x"},
            headers={"user-agent": user_agent},
        )
    [row] = rows(db_path)
    assert row["ip_prefix"] == "203.0.113.0"
    assert row["page_path"] == "/cursus/les-1"
    assert row["device"] == "mobile"
    assert "203.0.113.77" not in json.dumps(row) and "iPhone OS" not in json.dumps(row)
    assert len(row["banner_hash"]) == 16


def test_choice_change_keeps_the_consent_id(client: TestClient, db_path) -> None:
    first = choose(client, "accept_all").json()
    second = choose(client, "custom", ["analytics"]).json()
    assert second["id"] == first["id"]
    assert second["categories"] == ["functional", "analytics"]
    assert [r["method"] for r in rows(db_path)] == ["accept_all", "custom"]


def test_secure_cookie_on_https(settings: Settings) -> None:
    with TestClient(ConsentMiddleware(site(), settings=settings), base_url="https://leerplein.test") as client:
        response = choose(client, "reject_all")
    assert set_cookie(response)["consent"]["secure"]


def test_withdraw_records_and_expires_cookie(client: TestClient, db_path) -> None:
    given = choose(client, "accept_all").json()
    response = client.delete("/_consent")
    assert response.status_code == 200 and response.json()["id"] == given["id"]
    assert set_cookie(response)["consent"]["max-age"] == "0"
    assert [r["method"] for r in rows(db_path)] == ["accept_all", "withdraw"]
    assert rows(db_path)[-1]["granted"] == "functional"
    assert client.get("/_consent").json()["decided"] is False


@pytest.mark.parametrize("language", ["nl", "de", "fr"])
def test_every_record_keeps_the_language_and_text_hash_the_banner_showed(settings: Settings, db_path, language) -> None:
    """The browser prefers English, the page is in ``language``: the banner says so in its requests."""
    banner = Banner(settings, default_catalogue())
    english = {"accept-language": "en-GB,en;q=0.9"}
    with TestClient(ConsentMiddleware(site(), settings=settings), headers=english) as client:
        client.post("/_consent", json={"action": "accept_all", "language": language})
        client.request("DELETE", "/_consent", json={"language": language})
        client.post("/_consent", json={"action": "reject_all"})  # no language given: the browser's
    given, withdrawn, unspoken = rows(db_path)
    assert withdrawn["method"] == "withdraw"
    assert given["language"] == withdrawn["language"] == language
    assert given["banner_hash"] == withdrawn["banner_hash"] == banner.text_hashes[language]
    assert unspoken["language"] == "en" and unspoken["banner_hash"] == banner.text_hashes["en"]
    assert len(set(banner.text_hashes.values())) == len(banner.text_hashes)  # each language its own text


def test_gpc_denies_marketing_on_accept_all_and_the_record_says_so(client: TestClient, db_path) -> None:
    assert client.get("/_consent", headers={"sec-gpc": "1"}).json()["gpc"] is True
    answer = choose(client, "accept_all", **{"sec-gpc": "1"}).json()
    assert answer["categories"] == ["functional", "analytics", "other"] and answer["method"] == "gpc"
    row = rows(db_path)[-1]
    assert row["gpc"] == 1 and row["method"] == "gpc" and "marketing" in row["denied"].split(",")


def test_gpc_visitor_can_still_tick_marketing_explicitly(client: TestClient, db_path) -> None:
    answer = choose(client, "custom", ["marketing"], **{"sec-gpc": "1"}).json()
    assert "marketing" in answer["categories"]
    assert rows(db_path)[-1]["gpc"] == 1


def test_tampered_cookie_is_no_consent_never_an_error(client: TestClient) -> None:
    token = choose(client, "accept_all").json()["token"]
    client.cookies.set("consent", token[:-3] + "abc")
    assert client.get("/_consent").json()["decided"] is False
    assert client.get("/").status_code == 200
    assert choose(client, "reject_all").status_code == 200
    client.cookies.set("consent", "%%%\x00garbage")
    assert client.get("/_consent").status_code == 200


def test_revision_bump_makes_old_consent_stale(settings: Settings, db_path) -> None:
    with TestClient(ConsentMiddleware(site(), settings=settings)) as client:
        old = choose(client, "accept_all").json()
    bumped = Settings(secret_key=SECRET, database_url=settings.database_url, revision=2)
    with TestClient(ConsentMiddleware(site(), settings=bumped)) as client:
        client.cookies.set("consent", old["token"])
        assert client.get("/_consent").json()["decided"] is False
        renewed = choose(client, "reject_all").json()
    assert renewed["revision"] == 2 and renewed["id"] == old["id"]  # same visitor, new revision


def test_rotated_secret_still_reads_old_cookies(settings: Settings) -> None:
    old_token = TokenCodec((SECRET,), 3600).dumps(
        Consent("6f1c3f8e-3d4b-4f59-9f1e-2b7f1c0d9a11", frozenset({"functional", "analytics"}), 1, 1.0, "custom")
    )
    rotated = Settings(secret_key=("brand-new-secret-0123456789", SECRET), database_url=settings.database_url)
    with TestClient(ConsentMiddleware(site(), settings=rotated)) as client:
        client.cookies.set("consent", old_token)
        assert client.get("/_consent").json()["categories"] == ["functional", "analytics"]


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        (
            {"content": b'{"action":"reject_all"}', "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ({"data": {"action": "reject_all"}}, 415, "unsupported_media_type"),
        ({"json": {"action": "custom", "categories": ["tracking"]}}, 400, "unknown_category"),
        ({"json": {"action": "accept_some"}}, 400, "unknown_action"),
        ({"json": {"action": "custom", "categories": "analytics"}}, 400, "invalid_categories"),
        ({"json": ["accept_all"]}, 400, "invalid_json"),
        ({"content": b"{nope", "headers": {"content-type": "application/json"}}, 400, "invalid_json"),
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, 400, "invalid_json"),
        ({"json": {"action": "reject_all", "padding": "x" * 17000}}, 413, "body_too_large"),
    ],
)
def test_bad_requests_are_refused_with_a_json_error(client: TestClient, db_path, kwargs, status, error) -> None:
    response = client.post("/_consent", **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["message"]
    assert rows(db_path) == []


def test_oversized_streamed_body_without_length_is_refused(client: TestClient) -> None:
    def chunks():
        for _ in range(20):
            yield b" " * 1024

    response = client.post("/_consent", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"referer": "https://evil.example/page"},
        {"sec-fetch-site": "cross-site"},
    ],
)
def test_cross_site_requests_are_refused(client: TestClient, db_path, headers) -> None:
    assert choose(client, "accept_all", **headers).status_code == 403
    assert client.delete("/_consent", headers=headers).status_code == 403
    assert rows(db_path) == []


def test_same_origin_browser_request_is_accepted(client: TestClient) -> None:
    headers = {"origin": "http://leerplein.test", "sec-fetch-site": "same-origin"}
    assert choose(client, "accept_all", **headers).status_code == 200


def test_unknown_route_under_prefix_is_404_and_wrong_method_405(client: TestClient) -> None:
    assert client.get("/_consent/nope").status_code == 404
    assert client.put("/_consent").status_code == 405


def test_healthz_checks_the_store(client: TestClient) -> None:
    assert client.get("/_consent/healthz").json() == {"status": "ok"}


def test_consent_is_exposed_to_the_app(settings: Settings) -> None:
    seen = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await answer_lifespan(receive, send)
        seen.append(scope["consent"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with TestClient(ConsentMiddleware(app, settings=settings)) as client:
        client.get("/")
        choose(client, "custom", ["analytics"])
        client.get("/")
    assert not seen[0].decided
    assert seen[1].decided and seen[1].allows("analytics") and not seen[1].allows("marketing")


def test_cookies_split_over_several_cookie_headers_are_all_read(settings: Settings) -> None:
    """HTTP/2 clients and some proxies send one Cookie header per cookie: the consent is found
    whichever header holds it, by the middleware and the API alike, and a denied tracker cookie in
    another header is still expired."""
    seen = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await answer_lifespan(receive, send)
        seen.append(scope["consent"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<html><head></head><body>les</body></html>"})

    with TestClient(ConsentMiddleware(app, settings=settings)) as client:
        token = choose(client, "reject_all").json()["token"]
        client.cookies.clear()
        split = [("cookie", "_ga=GA1.1.123.456"), ("cookie", f"consent={token}"), ("cookie", "theme=dark")]
        page = client.get("/les", headers=split)
        state = client.get("/_consent", headers=split).json()
    assert seen[-1].decided and not seen[-1].allows("analytics")
    assert state["decided"] and state["method"] == "reject_all"
    assert any(v.startswith("_ga=;") for v in page.headers.get_list("set-cookie"))
