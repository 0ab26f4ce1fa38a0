"""POST /_consent/discovery/cookies: the banner's report of new cookie names, and everything it refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from support.helpers import SECRET, site

from gateway import ConsentMiddleware, Settings

URL = "/_consent/discovery/cookies"
SITE = "leerplein.test"
SAME_ORIGIN = {"origin": f"http://{SITE}", "sec-fetch-site": "same-origin"}


@pytest.fixture
def gateway(db_path) -> Iterator[tuple[TestClient, ConsentMiddleware]]:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", allowed_origins=("https://remote.nl",))
    middleware = ConsentMiddleware(site(), settings=settings)
    with TestClient(middleware, base_url=f"http://{SITE}") as client:
        client.get("/")  # a page of the site was served: its reports count
        yield client, middleware


def report(client: TestClient, body: object, headers: dict[str, str] | None = None, raw: bytes | None = None):
    content = raw if raw is not None else json.dumps(body).encode()
    headers = {"content-type": "application/json", **SAME_ORIGIN, **(headers or {})}
    return client.post(URL, content=content, headers=headers)


def test_new_names_are_counted_once_and_become_known(gateway) -> None:
    client, middleware = gateway
    tally = middleware.page_rules.tally
    assert report(client, {"names": ["_hjSessionUser_1", "course_theme", "consent"]}).status_code == 204
    assert tally.cookies == {("banner", SITE, "_hjSessionUser_1"): 1, ("banner", SITE, "course_theme"): 1}
    assert b"_hjSessionUser_1 course_theme" in client.get("/").content  # the next page tells the banner
    assert report(client, {"names": ["course_theme"]}).status_code == 204
    assert tally.cookies[("banner", SITE, "course_theme")] == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'"names"',
        b"{}",
        b'{"names": "_ga"}',
        b'{"names": []}',
        b'{"names": [5]}',
        b'{"names": [null]}',
        b'{"names": ["a b"]}',
        b'{"names": ["a=b"]}',
        b'{"names": ["caf\\u00e9"]}',
        json.dumps({"names": [f"c{i}" for i in range(51)]}).encode(),
        b'{"names": [' + b"[" * 1900 + b"]" * 1900 + b"]}",
    ],
)
def test_malformed_reports_are_400(gateway, raw: bytes) -> None:
    client, middleware = gateway
    response = report(client, None, raw=raw)
    assert response.status_code == 400 and response.json()["error"]
    assert not middleware.page_rules.tally.cookies


def test_large_bodies_wrong_types_and_other_sites_are_refused(gateway) -> None:
    client, middleware = gateway
    assert report(client, None, raw=b'{"names": ["' + b"a" * 5000 + b'"]}').status_code == 413
    assert report(client, {"names": ["x"]}, {"content-type": "text/plain"}).status_code == 415
    cross = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    assert report(client, {"names": ["x"]}, cross).status_code == 403
    assert client.get(URL).status_code == 405
    assert not middleware.page_rules.tally.cookies


def test_a_site_no_page_was_served_for_is_not_counted(gateway) -> None:
    client, middleware = gateway
    headers = {"host": "invented.example", "origin": "http://invented.example"}
    assert report(client, {"names": ["x"]}, headers).status_code == 204
    assert not middleware.page_rules.tally.cookies


def test_off_means_no_endpoint_and_no_attribute(db_path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", discovery=False)
    middleware = ConsentMiddleware(site(), settings=settings)
    with TestClient(middleware, base_url=f"http://{SITE}") as client:
        assert b"data-cookies" not in client.get("/").content
        assert report(client, {"names": ["x"]}).status_code == 404
    assert middleware.page_rules.tally is None and middleware.components.discovery is None


def test_the_setting_comes_from_the_environment() -> None:
    assert Settings.load(environ={"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_DISCOVERY": "false"}).discovery is False
    assert Settings(secret_key=SECRET).discovery is True
