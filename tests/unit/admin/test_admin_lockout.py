"""The admin's sign-in under attack: guesses sent at once, from several workers or addresses, and
a copied session cookie after sign-out. Every gateway here shares one real consent store."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from support.helpers import ThreadedServer, site
from support.records import ADMIN, PASSWORD, admin_settings

from gateway import ConsentMiddleware
from gateway.admin.passwords import hash_password

ORIGIN = "http://leerplein.test"


def login_form(client: httpx.Client | TestClient) -> str:
    page = client.get(f"{ADMIN}/login").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def attempt(client: httpx.Client | TestClient, csrf: str, password: str, user: str = "fg", **headers) -> int:
    data = {"csrf": csrf, "user": user, "password": password, "next": ADMIN}
    origin = {"origin": str(client.base_url).rstrip("/"), **headers}
    return client.post(f"{ADMIN}/login", data=data, headers=origin, follow_redirects=False).status_code


def test_a_hundred_guesses_at_once_get_ten_checks_and_the_right_password_last_does_not_get_in(db_path: Path) -> None:
    """The attempt is counted before the slow hash runs: concurrency cannot beat the limit. (A hash as
    slow as a real one: with a fast one the checks end before the next guesses arrive.)"""
    settings = admin_settings(db_path, admin_password_hash=hash_password(PASSWORD, iterations=200_000))
    gateway = ThreadedServer(ConsentMiddleware(site(), settings=settings))
    with gateway as server, httpx.Client(base_url=server.url, timeout=30) as client:
        csrf = login_form(client)
        cookies = dict(client.cookies)

        def guess(number: int) -> int:
            with httpx.Client(base_url=server.url, timeout=30, cookies=cookies) as own:
                return attempt(own, csrf, f"guess-{number}")

        with ThreadPoolExecutor(50) as pool:
            statuses = list(pool.map(guess, range(100)))
        assert statuses.count(401) == 10 and statuses.count(429) == 90, sorted(set(statuses))
        assert attempt(client, csrf, PASSWORD) == 429


def test_attempts_are_shared_by_every_worker_on_the_store(db_path: Path) -> None:
    """Two gateways (two workers or two instances) on one store: ten guesses in all, not ten each."""
    first = TestClient(ConsentMiddleware(site(), settings=admin_settings(db_path)), base_url=ORIGIN)
    second = TestClient(ConsentMiddleware(site(), settings=admin_settings(db_path)), base_url=ORIGIN)
    with first, second:
        for number in range(10):
            client = first if number % 2 else second
            assert attempt(client, login_form(client), "guess") == 401
        assert attempt(second, login_form(second), PASSWORD) == 429
        assert attempt(first, login_form(first), PASSWORD) == 429


def test_one_user_name_is_limited_across_addresses(db_path: Path) -> None:
    """Guesses for one user spread over many addresses (behind a trusted proxy) still stop at ten."""
    settings = admin_settings(db_path, trusted_proxies=("127.0.0.1/32",))
    gateway = ThreadedServer(ConsentMiddleware(site(), settings=settings))
    with gateway as server, httpx.Client(base_url=server.url, timeout=10) as client:
        csrf = login_form(client)
        for number in range(10):
            assert attempt(client, csrf, "guess", **{"x-forwarded-for": f"198.51.100.{number}"}) == 401
        assert attempt(client, csrf, PASSWORD, **{"x-forwarded-for": "203.0.113.9"}) == 429
        # Another user name from a fresh address is not locked out by these.
        assert attempt(client, csrf, "guess", user="someone", **{"x-forwarded-for": "203.0.113.10"}) == 401


def test_the_token_is_under_the_same_limit(db_path: Path) -> None:
    settings = admin_settings(db_path, admin_token="admin-token-0123456789abcdef")
    with TestClient(ConsentMiddleware(site(), settings=settings), base_url=ORIGIN) as client:
        for _ in range(10):
            assert attempt(client, login_form(client), "not-the-token", user="") == 401
        assert attempt(client, login_form(client), "admin-token-0123456789abcdef", user="") == 429


def test_a_success_clears_the_count(db_path: Path) -> None:
    with TestClient(ConsentMiddleware(site(), settings=admin_settings(db_path)), base_url=ORIGIN) as client:
        for _ in range(9):
            assert attempt(client, login_form(client), "guess") == 401
        assert attempt(client, login_form(client), PASSWORD) == 303
        client.cookies.clear()
        for _ in range(9):
            assert attempt(client, login_form(client), "guess") == 401


@pytest.mark.parametrize("instances", [1, 2])
def test_signing_out_revokes_the_session_everywhere(db_path: Path, instances: int) -> None:
    apps = [ConsentMiddleware(site(), settings=admin_settings(db_path)) for _ in range(instances)]
    clients = [TestClient(app, base_url=ORIGIN) for app in apps]
    with clients[0] as officer, clients[-1] as thief:
        assert attempt(officer, login_form(officer), PASSWORD) == 303
        copied = officer.cookies.get("consent_admin", path=ADMIN)
        thief.cookies.set("consent_admin", copied, path=ADMIN)
        assert thief.get(ADMIN, follow_redirects=False).status_code == 200  # a copy works while signed in
        csrf = re.search(r'name="csrf" value="([^"]+)"', officer.get(ADMIN).text).group(1)
        out = officer.post(f"{ADMIN}/logout", data={"csrf": csrf}, headers={"origin": ORIGIN}, follow_redirects=False)
        assert out.status_code == 303
        assert thief.get(ADMIN, follow_redirects=False).status_code == 303  # refused: back to the sign-in
