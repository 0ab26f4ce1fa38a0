"""The consent API for a banner loaded from the gateway into a site on another origin."""

from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient
from support.helpers import SECRET, rows, site

from gateway import ConsentMiddleware, Settings, SettingsError
from gateway.store.discovery import Sighting

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


def test_services_of_the_site_on_the_allowed_origin_in_the_visitors_language(remote: TestClient) -> None:
    found = {Sighting("www.leerplein.nl", "script", "www.googletagmanager.com", "google-analytics"): 1}
    remote.portal.call(remote.app.components.store.add_sightings, found, datetime.now(UTC), "page")
    dutch = remote.get("/_consent/services", params={"lang": "nl"}, headers={"origin": SITE})
    english = remote.get("/_consent/services", params={"lang": "en"}, headers={"origin": SITE}).json()
    assert dutch.headers["access-control-allow-origin"] == SITE
    assert dutch.json()["site"] == "www.leerplein.nl" and dutch.json()["known"]
    ga = next(s for s in dutch.json()["services"] if s["id"] == "google-analytics")
    assert "_ga" in ga["cookies"] and ga["privacy_url"].startswith("https://")
    assert ga["purpose"] != next(s for s in english["services"] if s["id"] == "google-analytics")["purpose"]
    # The gateway's own host is another site, of which nothing is known.
    assert remote.get("/_consent/services").json()["known"] is False


@pytest.mark.parametrize("bad", ["www.leerplein.nl", "https://www.leerplein.nl/path", "ftp://x.nl"])
def test_allowed_origins_must_be_origins(bad: str) -> None:
    with pytest.raises(SettingsError, match="^allowed_origins"):
        Settings(secret_key=SECRET, allowed_origins=(bad,))
