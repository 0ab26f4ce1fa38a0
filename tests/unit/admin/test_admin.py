"""The privacy officer's admin through the whole gateway: sign-in, CSRF, lookup, erasure, export, audit."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.helpers import SECRET, rows, site
from support.records import (
    ADMIN,
    ALICE,
    BOB,
    PASSWORD,
    PASSWORD_HASH,
    TOKEN,
    admin_settings,
    audit,
    record_on,
    seed,
)

from gateway import ConsentMiddleware, Settings
from gateway.admin.auth import erased_id_digest
from gateway.admin.passwords import hash_password
from gateway.settings import SettingsError

ORIGIN = "http://leerplein.test"


def csrf_in(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page has no CSRF field"
    return match.group(1)


def cookie_of(response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    return cookie


def sign_in(client: TestClient, user: str = "fg", password: str = PASSWORD, next_path: str = ADMIN):
    form = client.get(f"{ADMIN}/login")
    assert form.status_code == 200
    data = {"csrf": csrf_in(form.text), "user": user, "password": password, "next": next_path}
    return client.post(f"{ADMIN}/login", data=data, headers={"origin": ORIGIN}, follow_redirects=False)


@pytest.fixture
def admin(db_path: Path) -> Iterator[TestClient]:
    with TestClient(ConsentMiddleware(site(), settings=admin_settings(db_path)), base_url=ORIGIN) as client:
        yield client


@pytest.fixture
def officer(admin: TestClient) -> TestClient:
    """A client signed in as the configured user."""
    assert sign_in(admin).status_code == 303
    return admin


# ---- configuration --------------------------------------------------------------------------


def test_admin_is_absent_until_a_sign_in_is_configured(client: TestClient) -> None:
    for path in (ADMIN, f"{ADMIN}/login", f"{ADMIN}/export.csv", f"{ADMIN}/audit"):
        assert client.get(path).status_code == 404
    assert client.post(f"{ADMIN}/login", data={"password": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"admin_user": "fg"}, "admin_password_hash"),
        ({"admin_password_hash": PASSWORD_HASH}, "admin_user"),
        ({"admin_token": "short"}, "admin_token"),
        ({"metrics_token": "short"}, "metrics_token"),
        ({"admin_token": TOKEN, "admin_session_max_age": 0}, "admin_session_max_age"),
    ],
)
def test_half_configured_admin_stops_start_up_naming_the_key(values: dict, named: str) -> None:
    with pytest.raises(SettingsError, match=f"^{named}:"):
        Settings(secret_key=SECRET, **values)


@pytest.mark.parametrize(
    ("password_hash", "reason"),
    [
        ("plain-text-password", "expected pbkdf2_sha256:<iterations>:<salt>:<hash>"),
        ("pbkdf2_sha256:10:c2FsdHNhbHQ:aGFzaA", "the iteration count must be a number of at least 1000"),
    ],
)
def test_a_malformed_password_hash_stops_the_gateway_from_being_built(
    db_path: Path, password_hash: str, reason: str
) -> None:
    # The hash format is the admin's knowledge: checked when the gateway (and so the admin) is built.
    settings = admin_settings(db_path, admin_password_hash=password_hash)
    with pytest.raises(SettingsError, match=f"^admin_password_hash: {re.escape(reason)}"):
        ConsentMiddleware(site(), settings=settings)


def test_admin_settings_come_from_the_environment() -> None:
    environ = {"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_ADMIN_USER": "fg", "GATEWAY_ADMIN_PASSWORD_HASH": PASSWORD_HASH}
    settings = Settings.load(environ=environ)
    assert settings.admin_enabled and settings.admin_user == "fg"
    with pytest.raises(SettingsError, match="^admin_password_hash:"):
        Settings.load(environ={"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_ADMIN_USER": "fg"})
    assert not Settings.load(environ={"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_ADMIN_TOKEN": ""}).admin_enabled


# ---- signing in -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [ADMIN, f"{ADMIN}/consents?id={ALICE}", f"{ADMIN}/erase?id={ALICE}", f"{ADMIN}/export.csv", f"{ADMIN}/audit"],
)
def test_pages_send_a_signed_out_visitor_to_the_login(admin: TestClient, path: str) -> None:
    response = admin.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{ADMIN}/login?next=")
    assert "text/csv" not in response.headers.get("content-type", "")


def test_posts_without_a_session_are_refused_and_change_nothing(admin: TestClient, db_path: Path) -> None:
    seed(db_path, [record_on(ALICE, "2025-03-02 10:00:00")])
    for path, data in ((f"{ADMIN}/erase", {"id": ALICE, "confirm": "yes", "csrf": "x"}), (f"{ADMIN}/logout", {})):
        response = admin.post(path, data=data, headers={"origin": ORIGIN})
        assert response.status_code == 401
    assert len(rows(db_path)) == 1


def test_signing_in_sets_a_strict_short_admin_only_cookie_and_is_audited(admin: TestClient, db_path: Path) -> None:
    response = sign_in(admin, next_path=f"{ADMIN}/audit")
    assert response.status_code == 303 and response.headers["location"] == f"{ADMIN}/audit"
    session = cookie_of(response)["consent_admin"]
    assert session["httponly"] and session["samesite"].lower() == "strict"
    assert session["path"] == ADMIN and session["max-age"] == "1800"
    assert not session["secure"]  # plain http here; see the https test
    page = admin.get(f"{ADMIN}/audit")
    assert page.status_code == 200 and "login" in page.text
    assert (
        page.headers["cache-control"] == "no-store"
        and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
    [entry] = audit(db_path)
    assert entry["actor"] == "fg" and entry["action"] == "login"
    assert abs(entry["at"] - time.time()) < 60


def test_the_session_cookie_is_secure_on_https(db_path: Path) -> None:
    app = ConsentMiddleware(site(), settings=admin_settings(db_path))
    with TestClient(app, base_url="https://leerplein.test") as client:
        form = client.get(f"{ADMIN}/login")
        assert cookie_of(form)["consent_admin"]["secure"]
        data = {"csrf": csrf_in(form.text), "user": "fg", "password": PASSWORD, "next": ADMIN}
        response = client.post(
            f"{ADMIN}/login", data=data, headers={"origin": "https://leerplein.test"}, follow_redirects=False
        )
        assert response.status_code == 303 and cookie_of(response)["consent_admin"]["secure"]


@pytest.mark.parametrize(("user", "password"), [("fg", "not-the-password"), ("someone", PASSWORD), ("", "")])
def test_a_wrong_password_is_refused_and_audited(admin: TestClient, db_path: Path, user: str, password: str) -> None:
    response = sign_in(admin, user=user, password=password)
    assert response.status_code == 401
    assert "Wrong user name, password or token" in response.text
    assert admin.get(ADMIN, follow_redirects=False).status_code == 303  # still signed out
    [entry] = audit(db_path)
    assert entry["action"] == "login_failed" and entry["actor"] == (user or "?")


def test_repeated_failures_lock_the_login_for_that_address(admin: TestClient, db_path: Path) -> None:
    for _ in range(10):
        assert sign_in(admin, password="guess").status_code == 401
    assert sign_in(admin).status_code == 429  # even the right password, until the window passes
    assert [e["action"] for e in audit(db_path)][-1] == "login_refused"


def test_the_token_signs_in_as_token(db_path: Path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", admin_token=TOKEN)
    with TestClient(ConsentMiddleware(site(), settings=settings), base_url=ORIGIN) as client:
        form = client.get(f"{ADMIN}/login", headers={"accept-language": "en"}).text
        assert 'name="user"' not in form and "Admin token" in form
        assert sign_in(client, user="", password=TOKEN[:-1]).status_code == 401
        assert sign_in(client, user="", password=TOKEN).status_code == 303
        assert client.get(ADMIN).status_code == 200
    assert [(e["actor"], e["action"]) for e in audit(db_path)] == [("?", "login_failed"), ("token", "login")]


@pytest.mark.slow  # waits out real timeouts
def test_a_tampered_or_expired_session_is_no_session(db_path: Path) -> None:
    app = ConsentMiddleware(site(), settings=admin_settings(db_path, admin_session_max_age=1))
    with TestClient(app, base_url=ORIGIN) as client:
        sign_in(client)
        assert client.get(ADMIN, follow_redirects=False).status_code == 200
        value = client.cookies.get("consent_admin", path=ADMIN)
        client.cookies.set("consent_admin", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"), path=ADMIN)
        assert client.get(ADMIN, follow_redirects=False).status_code == 303
        client.cookies.set("consent_admin", value, path=ADMIN)
        time.sleep(2.1)
        assert client.get(ADMIN, follow_redirects=False).status_code == 303


def test_a_changed_password_ends_existing_sessions(db_path: Path) -> None:
    with TestClient(ConsentMiddleware(site(), settings=admin_settings(db_path)), base_url=ORIGIN) as client:
        sign_in(client)
        value = client.cookies.get("consent_admin", path=ADMIN)
    changed = admin_settings(db_path, admin_password_hash=hash_password("een-ander-wachtwoord", iterations=1000))
    with TestClient(ConsentMiddleware(site(), settings=changed), base_url=ORIGIN) as client:
        client.cookies.set("consent_admin", value, path=ADMIN)
        assert client.get(ADMIN, follow_redirects=False).status_code == 303


def test_the_login_form_needs_its_own_csrf_token_and_origin(admin: TestClient, db_path: Path) -> None:
    form = admin.get(f"{ADMIN}/login")
    data = {"csrf": csrf_in(form.text), "user": "fg", "password": PASSWORD}
    assert admin.post(f"{ADMIN}/login", data=data, headers={"origin": "https://evil.example"}).status_code == 403
    assert admin.post(f"{ADMIN}/login", data={**data, "csrf": "forged"}, headers={"origin": ORIGIN}).status_code == 403
    admin.cookies.clear()
    assert admin.post(f"{ADMIN}/login", data=data, headers={"origin": ORIGIN}).status_code == 403
    assert audit(db_path) == []  # refused before any credential was looked at


def test_next_stays_inside_the_admin(admin: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/elsewhere", f"{ADMIN}//evil.example"):
        assert sign_in(admin, next_path=target).headers["location"] == ADMIN
        admin.cookies.clear()


def test_signing_out_ends_the_session_and_is_audited(officer: TestClient, db_path: Path) -> None:
    csrf = csrf_in(officer.get(ADMIN).text)
    response = officer.post(f"{ADMIN}/logout", data={"csrf": csrf}, headers={"origin": ORIGIN}, follow_redirects=False)
    assert response.status_code == 303
    assert cookie_of(response)["consent_admin"]["max-age"] == "0"
    assert officer.get(ADMIN, follow_redirects=False).status_code == 303
    assert [e["action"] for e in audit(db_path)] == ["login", "logout"]


# ---- CSRF on the signed-in forms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("csrf", "headers"),
    [
        (None, {"origin": ORIGIN}),
        ("wrong-token", {"origin": ORIGIN}),
        ("valid", {"origin": "https://evil.example"}),
        ("valid", {"origin": "null"}),
        ("valid", {"referer": "https://evil.example/page"}),
        ("valid", {"origin": ORIGIN, "sec-fetch-site": "same-site"}),
        ("valid", {}),  # a browser always says where a POST comes from
    ],
)
def test_erasure_without_csrf_token_or_from_elsewhere_is_refused(
    officer: TestClient, db_path: Path, csrf: str | None, headers: dict
) -> None:
    seed(db_path, [record_on(ALICE, "2025-03-02 10:00:00")])
    token = csrf_in(officer.get(f"{ADMIN}/erase?id={ALICE}").text)
    data = {"id": ALICE, "confirm": "yes"}
    if csrf is not None:
        data["csrf"] = token if csrf == "valid" else csrf
    response = officer.post(f"{ADMIN}/erase", data=data, headers=headers)
    assert response.status_code == 403
    assert len(rows(db_path)) == 1
    assert "erase" not in [e["action"] for e in audit(db_path)]


def test_a_token_from_another_session_is_refused(officer: TestClient, db_path: Path) -> None:
    seed(db_path, [record_on(ALICE, "2025-03-02 10:00:00")])
    with TestClient(ConsentMiddleware(site(), settings=admin_settings(db_path)), base_url=ORIGIN) as other:
        foreign = csrf_in(other.get(f"{ADMIN}/login").text)
    response = officer.post(
        f"{ADMIN}/erase", data={"id": ALICE, "confirm": "yes", "csrf": foreign}, headers={"origin": ORIGIN}
    )
    assert response.status_code == 403 and len(rows(db_path)) == 1


# ---- lookup, erasure, export ----------------------------------------------------------------


def test_lookup_shows_the_history_of_one_id_and_is_audited(officer: TestClient, db_path: Path) -> None:
    seed(
        db_path,
        [
            record_on(ALICE, "2025-03-02 10:00:00"),
            record_on(BOB, "2025-03-02 11:00:00"),
            record_on(ALICE, "2025-03-03 09:30:00", "reject_all"),
        ],
    )
    page = officer.get(f"{ADMIN}/consents", params={"id": ALICE.upper()}).text
    assert "2025-03-02 10:00:00" in page and "2025-03-03 09:30:00" in page
    assert "2025-03-02 11:00:00" not in page  # Bob's record
    assert page.index(">Accept all</td>") < page.index(">Reject all</td>")  # oldest first
    assert officer.get(f"{ADMIN}/consents", params={"id": "Jan de Vries"}).status_code == 400
    assert audit(db_path)[-1]["action"] == "lookup" and audit(db_path)[-1]["detail"] == f"consent {ALICE}: 2 records"


def test_erasure_asks_first_then_removes_the_ids_records_and_is_audited(officer: TestClient, db_path: Path) -> None:
    seed(
        db_path,
        [
            record_on(ALICE, "2025-03-02 10:00:00"),
            record_on(ALICE, "2025-03-03 10:00:00"),
            record_on(BOB, "2025-03-03 11:00:00"),
        ],
    )
    confirm = officer.get(f"{ADMIN}/erase", params={"id": ALICE})
    assert confirm.status_code == 200 and "these 2 records of consent" in confirm.text
    assert len(rows(db_path)) == 3  # showing the question erases nothing
    csrf = csrf_in(confirm.text)
    unconfirmed = officer.post(f"{ADMIN}/erase", data={"id": ALICE, "csrf": csrf}, headers={"origin": ORIGIN})
    assert unconfirmed.status_code == 400 and len(rows(db_path)) == 3
    done = officer.post(
        f"{ADMIN}/erase", data={"id": ALICE, "csrf": csrf, "confirm": "yes"}, headers={"origin": ORIGIN}
    )
    assert done.status_code == 200 and "Erased 2 records" in done.text
    assert [row["consent_id"] for row in rows(db_path)] == [BOB]
    entry = audit(db_path)[-1]
    digest = erased_id_digest(ALICE, SECRET)
    assert (entry["actor"], entry["action"], entry["detail"]) == ("fg", "erase", f"consent {digest}: 2 records")
    assert not any(ALICE in row["detail"] for row in audit(db_path))  # nor in the look-ups before
    assert "No records of this consent id" in officer.get(f"{ADMIN}/consents", params={"id": ALICE}).text


def test_csv_export_holds_exactly_the_records_of_the_range(officer: TestClient, db_path: Path) -> None:
    seed(
        db_path,
        [
            record_on(ALICE, "2025-03-01 23:59:59.999000"),  # the day before
            record_on(ALICE, "2025-03-02 00:00:00", "reject_all"),  # first instant of the range
            record_on(BOB, "2025-03-03 12:00:00", revision=2),
            record_on(BOB, "2025-03-04 23:59:59.999000", "custom"),  # last instant of the range
            record_on(ALICE, "2025-03-05 00:00:00"),  # the day after
        ],
    )
    response = officer.get(f"{ADMIN}/export.csv", params={"from": "2025-03-02", "to": "2025-03-04"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["content-disposition"] == 'attachment; filename="consent-records-2025-03-02-to-2025-03-04.csv"'
    )
    exported = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [(r["consent_id"], r["recorded_at"], r["method"]) for r in exported] == [
        (ALICE, "2025-03-02T00:00:00.000000Z", "reject_all"),
        (BOB, "2025-03-03T12:00:00.000000Z", "accept_all"),
        (BOB, "2025-03-04T23:59:59.999000Z", "custom"),
    ]
    assert exported[1]["granted"] == "functional analytics marketing" and exported[0]["denied"] == "analytics marketing"
    assert exported[1]["revision"] == "2" and exported[0]["ip_prefix"] == "203.0.113.0" and exported[0]["gpc"] == "0"
    entry = audit(db_path)[-1]
    assert (entry["action"], entry["detail"]) == ("export", "2025-03-02 to 2025-03-04")
    revision_two = officer.get(
        f"{ADMIN}/export.csv", params={"from": "2025-03-01", "to": "2025-03-05", "revision": "2"}
    )
    assert [r["recorded_at"] for r in csv.DictReader(io.StringIO(revision_two.text, newline=""))] == [
        "2025-03-03T12:00:00.000000Z"
    ]


def test_csv_cells_never_start_a_formula(officer: TestClient, db_path: Path) -> None:
    """A browser name or page path the visitor chose arrives in a spreadsheet as text, not a formula."""
    hostile = ["-2+3+cmd|' /C calc'!A0", '=HYPERLINK("http://x")', "+1", "@SUM(A1)", "\tTab", "\rReturn"]
    seed(
        db_path,
        [
            replace(record_on(ALICE, f"2025-03-02 10:00:0{n}"), browser=text, page_path=text)
            for n, text in enumerate(hostile)
        ],
    )
    response = officer.get(f"{ADMIN}/export.csv", params={"from": "2025-03-02", "to": "2025-03-02"})
    exported = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [row["browser"] for row in exported] == ["'" + text for text in hostile]
    assert [row["page_path"] for row in exported] == ["'" + text for text in hostile]
    assert exported[0]["consent_id"] == ALICE  # ordinary cells unchanged


def test_a_large_export_streams_every_row(officer: TestClient, db_path: Path) -> None:
    seed(db_path, [record_on(ALICE, f"2025-04-01 10:{m:02d}:{s:02d}") for m in range(20) for s in range(0, 60, 5)])
    with officer.stream("GET", f"{ADMIN}/export.csv", params={"from": "2025-04-01", "to": "2025-04-01"}) as response:
        chunks = [chunk for chunk in response.iter_bytes()]
    exported = list(csv.DictReader(io.StringIO(b"".join(chunks).decode(), newline="")))
    assert len(exported) == 240 and len(chunks) > 1


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2025-13-01"},
        {"from": "2025-03-05", "to": "2025-03-01"},
        {"revision": "zero"},
        {"from": "2020-01-01", "to": "2025-01-01"},
    ],
)
def test_bad_filters_get_a_clear_400(officer: TestClient, query: dict) -> None:
    for path in (ADMIN, f"{ADMIN}/export.csv"):
        response = officer.get(path, params=query)
        assert response.status_code == 400 and "That did not work" in response.text


def test_the_dashboard_counts_choices_per_day(officer: TestClient, db_path: Path) -> None:
    seed(
        db_path,
        [
            record_on(ALICE, "2025-03-02 10:00:00"),
            record_on(BOB, "2025-03-02 11:00:00", "reject_all"),
            record_on(BOB, "2025-03-02 12:00:00", "reject_all"),
            record_on(ALICE, "2025-03-04 09:00:00", "accept_all", revision=2),
        ],
    )
    page = officer.get(ADMIN, params={"from": "2025-03-01", "to": "2025-03-07"}).text
    assert "4 choices" in page and page.count("<svg") == 2
    assert "2025-03-02 Reject all: 2 of 3 (67 %)" in page
    assert "2025-03-04 Accept all: 1 of 1 (100 %)" in page
    assert "2025-03-02 Statistics granted: 1 of 3 (33 %)" in page
    only_two = officer.get(ADMIN, params={"from": "2025-03-01", "to": "2025-03-07", "revision": "2"}).text
    assert "(1 choice, times in UTC)" in only_two and "2025-03-02" not in only_two.split("<h2>Per day</h2>")[1]
