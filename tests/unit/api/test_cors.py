"""The consent API for a banner loaded from the gateway into a site on another origin."""

import pytest
from starlette.testclient import TestClient
from support.helpers import SECRET, rows, site

from gateway import ConsentMiddleware, Settings, SettingsError

SITE = "https://www.leerplein.nl"


@pytest.fixture
def remote(db_path):
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", allowed_origins=(SITE + "/",))
    with TestClient(ConsentMiddleware(site(), settings=settings), base_url="https://gateway.leerplein.nl") as client:
        yield client


def test_preflight_for_an_allowed_origin(remote: TestClient) -> None:
    response = remote.options("/_consent", headers={"origin": SITE, "access-control-request-method": "POST"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SITE
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


def test_allowed_origin_records_and_keeps_the_id_through_the_body_token(remote: TestClient, db_path) -> None:
    headers = {"origin": SITE, "sec-fetch-site": "cross-site"}
    first = remote.post("/_consent", json={"action": "accept_all"}, headers=headers)
    assert first.status_code == 200 and first.headers["access-control-allow-origin"] == SITE
    remote.cookies.clear()  # the banner keeps the cookie on the site, not on the gateway
    second = remote.post("/_consent", json={"action": "reject_all", "token": first.json()["token"]}, headers=headers)
    assert second.json()["id"] == first.json()["id"]
    withdrawn = remote.request("DELETE", "/_consent", json={"token": second.json()["token"]}, headers=headers)
    assert withdrawn.json()["id"] == first.json()["id"]
    assert [r["method"] for r in rows(db_path)] == ["accept_all", "reject_all", "withdraw"]


def test_other_origins_get_no_cors_and_cannot_record(remote: TestClient, db_path) -> None:
    headers = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    preflight = remote.options("/_consent", headers={**headers, "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    assert remote.post("/_consent", json={"action": "accept_all"}, headers=headers).status_code == 403
    assert rows(db_path) == []


def test_forged_body_token_gives_a_new_id(remote: TestClient) -> None:
    answer = remote.post(
        "/_consent", json={"action": "accept_all", "token": "forged.token.here"}, headers={"origin": SITE}
    )
    assert answer.status_code == 200 and answer.json()["id"]


def test_services_are_listed_in_the_visitors_language(remote: TestClient) -> None:
    dutch = remote.get("/_consent/services", params={"lang": "nl"}).json()["services"]
    english = remote.get("/_consent/services", params={"lang": "en"}).json()["services"]
    assert len(dutch) >= 30 and {s["category"] for s in dutch} == {"analytics", "marketing"}
    ga = next(s for s in dutch if s["id"] == "google-analytics")
    assert "_ga" in ga["cookies"] and ga["privacy_url"].startswith("https://")
    assert ga["purpose"] != next(s for s in english if s["id"] == "google-analytics")["purpose"]


@pytest.mark.parametrize("bad", ["www.leerplein.nl", "https://www.leerplein.nl/path", "ftp://x.nl"])
def test_allowed_origins_must_be_origins(bad: str) -> None:
    with pytest.raises(SettingsError, match="^allowed_origins"):
        Settings(secret_key=SECRET, allowed_origins=(bad,))
