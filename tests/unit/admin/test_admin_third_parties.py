"""The admin's "Third parties on this site" through the whole gateway: the discovery table, what the
gateway does to each row, the TOML that classifies an unknown host, and the JSON download."""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.testclient import TestClient
from support.helpers import SECRET, site
from support.records import ADMIN, PASSWORD_HASH, add_sightings, audit, signed_in

from gateway import ConsentMiddleware, Settings
from gateway.store.discovery import ScanRun

ORIGIN = "http://leerplein.test"
PAGE = f"{ADMIN}/third-parties"
SITE = "www.leerplein.nl"
SEEN = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
HOSTILE_HOST = 'x"><script>alert(1)</script>.evil.example'
HOSTILE_COOKIE = "<img src=x onerror=alert(1)>"
# (kind, name, service, pages)
SIGHTINGS = [
    ("script", "www.googletagmanager.com", "google-analytics", 12),  # a granted-category service when granted
    ("iframe", "www.youtube-nocookie.com", "youtube", 3),
    ("script", "cdnjs.cloudflare.com", None, 40),  # essential infrastructure
    ("script", "cdn.mijnschool.nl", None, 40),  # in allowed_hosts
    ("script", "widgets.onbekend.example", None, 5),  # unknown
    ("stylesheet", "fonts.onbekend.example", None, 7),  # unknown
    ("cookie", "_ga", "google-analytics", 12),
    ("cookie", "MoodleSession", None, 40),
    ("cookie", "consent", None, 40),
    ("script", HOSTILE_HOST, None, 1),
    ("cookie", HOSTILE_COOKIE, None, 1),
]


def settings_for(db_url: str, **overrides) -> Settings:
    values = dict(
        secret_key=SECRET,
        database_url=db_url,
        admin_user="fg",
        admin_password_hash=PASSWORD_HASH,
        allowed_hosts=("cdn.mijnschool.nl",),
        default_language="en",  # the admin's words in English, the test client naming no language
    )
    return Settings(**(values | overrides))


def fill(db_url: str, sightings=SIGHTINGS, site_host: str = SITE, scan: ScanRun | None = None) -> None:
    add_sightings(db_url, site_host, sightings, SEEN, scan)


def page_of(settings: Settings, **params) -> str:
    with signed_in(settings) as client:
        return client.get(PAGE, params=params).text


@pytest.fixture
def db_url(db_path: Path) -> str:
    return f"sqlite:///{db_path}"


@pytest.fixture
def officer(db_url: str) -> Iterator[TestClient]:
    fill(db_url, scan=ScanRun(SITE, datetime(2026, 11, 4, 8, 15, tzinfo=UTC), 25, "chromium"))
    with signed_in(settings_for(db_url)) as client:
        yield client


def table(page: str) -> list[dict[str, str]]:
    """The table's rows as text, by column heading."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        ]
        rows.append(dict(zip(("name", "kind", "service", "pages", "first", "last", "action"), cells, strict=True)))
    return rows


def row_of(rows: list[dict[str, str]], name: str, kind: str | None = None) -> dict[str, str]:
    [found] = [row for row in rows if row["name"] == name and (kind is None or row["kind"] == kind)]
    return found


def snippets(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<pre class="snippet">(.*?)</pre>', page, re.DOTALL)]


# ---- access ---------------------------------------------------------------------------------


def test_signed_out_visitors_get_neither_the_page_nor_the_download(db_url: str) -> None:
    fill(db_url)
    with TestClient(ConsentMiddleware(site(), settings=settings_for(db_url)), base_url=ORIGIN) as client:
        for path in (PAGE, f"{PAGE}.json"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith(f"{ADMIN}/login?next=")
            assert "widgets.onbekend.example" not in response.text


def test_the_page_is_in_the_navigation_and_keeps_the_admins_headers(officer: TestClient) -> None:
    assert f'href="{PAGE}"' in officer.get(ADMIN).text
    response = officer.get(PAGE)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'$", policy)


# ---- the table ------------------------------------------------------------------------------


def test_unknown_hosts_come_first_then_rows_by_category(officer: TestClient) -> None:
    rows = table(officer.get(PAGE).text)
    names = [row["name"] for row in rows]
    unknown = {"widgets.onbekend.example", "fonts.onbekend.example", HOSTILE_HOST}
    assert set(names[:3]) == unknown
    assert all(row["service"] == "unknown" for row in rows[:3])
    # then what waits for statistics, then marketing, then whatever loads or is left alone
    assert names[3:] == [
        "www.googletagmanager.com",
        "_ga",
        "www.youtube-nocookie.com",
        "cdn.mijnschool.nl",
        "cdnjs.cloudflare.com",
        HOSTILE_COOKIE,
        "MoodleSession",
        "consent",
    ]
    assert row_of(rows, "www.googletagmanager.com")["pages"] == "12"
    assert row_of(rows, "_ga")["first"] == "2026-11-03 09:30"


def test_what_the_gateway_does_follows_the_rewriters_judgement(officer: TestClient) -> None:
    rows = table(officer.get(PAGE).text)
    analytics = row_of(rows, "www.googletagmanager.com")
    assert analytics["service"] == "Google Analytics (Google)"
    assert analytics["action"] == "Held until “Statistics” is granted"
    assert row_of(rows, "www.youtube-nocookie.com")["action"] == "Held until “Marketing” is granted"
    essential = row_of(rows, "cdnjs.cloudflare.com")
    assert essential["service"] == "cdnjs (Cloudflare)"
    assert essential["action"].startswith("Loads before any choice as essential infrastructure (cdnjs (Cloudflare)): ")
    assert "sets no cookies" in essential["action"]
    assert row_of(rows, "cdn.mijnschool.nl")["action"] == "Loads before any choice: allowed by allowed_hosts"
    unknown = row_of(rows, "widgets.onbekend.example")
    assert unknown["action"] == "Held as “Other third parties” until that is granted (strict blocking)"
    assert row_of(rows, "_ga")["action"] == "Cleared unless “Statistics” is granted"
    assert row_of(rows, "_ga")["service"] == "Google Analytics (Google)"
    assert row_of(rows, "MoodleSession")["action"] == "Left alone"
    assert row_of(rows, "consent")["action"] == "Left alone: the consent cookie itself"


def test_under_catalogue_blocking_unknown_hosts_pass(db_url: str) -> None:
    fill(db_url)
    page = page_of(settings_for(db_url, blocking="catalogue"))
    rows = table(page)
    assert row_of(rows, "widgets.onbekend.example")["action"] == (
        'Passes: unknown, and blocking = "catalogue" holds only catalogued trackers'
    )
    assert rows[0]["service"] == "unknown"  # still first: still to be classified
    assert row_of(rows, "www.googletagmanager.com")["action"] == "Held until “Statistics” is granted"
    assert "Other third parties" not in page


def test_a_web_beacon_is_held_as_marketing_even_from_an_allowed_host(db_url: str) -> None:
    fill(db_url, [("beacon", "cdn.mijnschool.nl", None, 2), ("image", "cdn.mijnschool.nl", None, 9)])
    rows = table(page_of(settings_for(db_url)))
    assert row_of(rows, "cdn.mijnschool.nl", "beacon")["action"] == (
        "Held until “Marketing” is granted, as a web beacon (a third-party 1x1 image)"
    )
    assert row_of(rows, "cdn.mijnschool.nl", "image")["action"] == "Loads before any choice: allowed by allowed_hosts"


def test_a_shared_host_says_which_of_its_paths_are_essential(db_url: str) -> None:
    fill(db_url, [("script", "www.google.com", None, 3)])
    [row] = table(page_of(settings_for(db_url)))
    assert row["action"] == (
        "Held as “Other third parties” until that is granted (strict blocking); "
        "except www.google.com/recaptcha/…, essential infrastructure (Google reCAPTCHA)"
    )


def test_hostile_names_are_escaped_everywhere(officer: TestClient) -> None:
    page = officer.get(PAGE).text
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert str(escape(HOSTILE_HOST)) in page and str(escape(HOSTILE_COOKIE)) in page
    assert page.count("<script") == 1  # the copy script, nothing else
    rows = table(page)
    assert row_of(rows, HOSTILE_HOST)["kind"] == "script"
    assert all(HOSTILE_HOST not in text for text in snippets(page))  # not a host a configuration can name
    assert "not names a configuration can hold" in page


def test_several_sites_get_a_selector(officer: TestClient, db_url: str) -> None:
    fill(db_url, [("script", "www.hotjar.com", "hotjar", 4)], site_host="www.oefenplein.nl")
    page = officer.get(PAGE).text
    assert '<select name="site">' in page and "<option>www.oefenplein.nl</option>" in page
    assert "www.hotjar.com" not in page  # the first site in order is shown
    other = officer.get(PAGE, params={"site": "www.oefenplein.nl"}).text
    assert [row["name"] for row in table(other)] == ["www.hotjar.com"]
    assert "<option selected>www.oefenplein.nl</option>" in other
    assert "not been scanned yet" in other
    assert officer.get(PAGE, params={"site": "x" * 300}).status_code == 400


def test_the_last_scan_and_how_to_run_one(officer: TestClient) -> None:
    page = " ".join(officer.get(PAGE).text.split())
    assert "Last scan: 2026-11-04 08:15 UTC, 25 pages, in Chromium (scripts ran)." in page
    assert f"consent-gateway scan https://{SITE}/" in page


def test_an_empty_table_says_so(db_url: str) -> None:
    page = page_of(settings_for(db_url))
    assert "Nothing discovered yet." in page and "not been scanned yet" in page and "<pre" not in page


# ---- snippets -------------------------------------------------------------------------------


def snippet_pair(page: str, host: str) -> tuple[str, str]:
    section = page.split(f"<h3>{host}</h3>", 1)[1]
    service, allowed = snippets(section)[:2]
    return service, allowed


def judged(db_url: str, config: Path, host: str) -> dict[str, str]:
    """The row of ``host`` as a gateway started with ``config`` shows it."""
    settings = Settings.load(config, environ={}, secret_key=SECRET, database_url=db_url)
    return row_of(table(page_of(settings)), host)


BASE_CONFIG = """admin_user = "fg"
admin_password_hash = "{hash}"
allowed_hosts = ["cdn.mijnschool.nl"]
default_language = "en"
"""


def test_a_service_snippet_makes_the_host_a_service(officer: TestClient, db_url: str, tmp_path: Path) -> None:
    service, _ = snippet_pair(officer.get(PAGE).text, "widgets.onbekend.example")
    parsed = tomllib.loads(service)["services"]
    assert parsed[0]["id"] == "widgets-onbekend-example" and parsed[0]["hosts"] == ["widgets.onbekend.example"]
    assert parsed[0]["category"] == "other"
    config = tmp_path / "gateway.toml"
    config.write_text(BASE_CONFIG.format(hash=PASSWORD_HASH) + service.replace('"other"', '"marketing"', 1))
    row = judged(db_url, config, "widgets.onbekend.example")
    assert row["service"] == "widgets.onbekend.example (onbekend.example)"
    assert row["action"] == "Held until “Marketing” is granted"


def test_an_allowed_hosts_snippet_lets_the_host_load(officer: TestClient, db_url: str, tmp_path: Path) -> None:
    _, allowed = snippet_pair(officer.get(PAGE).text, "fonts.onbekend.example")
    assert tomllib.loads(allowed) == {"allowed_hosts": ["cdn.mijnschool.nl", "fonts.onbekend.example"]}
    config = tmp_path / "gateway.toml"
    config.write_text(
        allowed + BASE_CONFIG.format(hash=PASSWORD_HASH).replace('allowed_hosts = ["cdn.mijnschool.nl"]\n', "")
    )
    assert (
        judged(db_url, config, "fonts.onbekend.example")["action"]
        == "Loads before any choice: allowed by allowed_hosts"
    )
    assert judged(db_url, config, "cdn.mijnschool.nl")["action"] == "Loads before any choice: allowed by allowed_hosts"


def test_the_combined_snippet_classifies_every_unknown_host(officer: TestClient, db_url: str, tmp_path: Path) -> None:
    page = officer.get(PAGE).text
    combined = page.split("<h3>All unknown hosts at once</h3>", 1)[1]
    services, allowed = snippets(combined)[:2]
    assert [s["hosts"] for s in tomllib.loads(services)["services"]] == [
        ["fonts.onbekend.example"],
        ["widgets.onbekend.example"],
    ]
    config = tmp_path / "gateway.toml"
    config.write_text(BASE_CONFIG.format(hash=PASSWORD_HASH) + services)
    settings = Settings.load(config, environ={}, secret_key=SECRET, database_url=db_url)
    rows = table(page_of(settings))
    held_as_other = [row["name"] for row in rows if row["action"].startswith("Held as “Other third parties”")]
    assert held_as_other == [HOSTILE_HOST]  # not a name a configuration can hold
    assert tomllib.loads(allowed)["allowed_hosts"][-2:] == ["fonts.onbekend.example", "widgets.onbekend.example"]


def test_a_snippet_id_never_replaces_a_catalogued_service(db_url: str) -> None:
    fill(db_url, [("script", "google.analytics", None, 1), ("script", "google-analytics.example", None, 1)])
    page = page_of(settings_for(db_url))
    ids = [tomllib.loads(text)["services"][0]["id"] for text in snippets(page) if text.startswith("[[services]]")]
    assert ids[:2] == ["google-analytics-example", "google-analytics-2"]  # the built-in id is taken


# ---- download -------------------------------------------------------------------------------


def test_the_json_download_holds_the_table_and_is_audited(officer: TestClient, db_path: Path) -> None:
    response = officer.get(f"{PAGE}.json", params={"site": SITE})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == f'attachment; filename="third-parties-{SITE}.json"'
    body = response.json()
    assert body["site"] == SITE and body["blocking"] == "strict"
    assert body["last_scan"] == {"finished_at": "2026-11-04T08:15:00.000000Z", "pages": 25, "mode": "chromium"}
    first = body["rows"][0]
    assert first["unknown"] and first["rule"] == "unknown" and first["category"] == "other"
    [ga] = [row for row in body["rows"] if row["name"] == "_ga"]
    assert ga == {
        "kind": "cookie",
        "name": "_ga",
        "service": "google-analytics",
        "service_name": "Google Analytics",
        "vendor": "Google",
        "unknown": False,
        "rule": "cleared",
        "category": "analytics",
        "action": "Cleared unless “Statistics” is granted",
        "pages": 12,
        "first_seen": "2026-11-03T09:30:00.000000Z",
        "last_seen": "2026-11-03T09:30:00.000000Z",
        "source": "page",
    }
    entry = audit(db_path)[-1]
    assert (entry["action"], entry["detail"]) == ("export", f"third parties of {SITE}: {len(SIGHTINGS)} rows")
    assert [e["action"] for e in audit(db_path)].count("export") == 1  # viewing the page is not audited


# ---- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_page_reads_the_postgresql_store(postgres_url: str) -> None:
    fill(postgres_url)
    rows = table(page_of(settings_for(postgres_url)))
    assert rows[0]["service"] == "unknown" and len(rows) == len(SIGHTINGS)
    assert row_of(rows, "cdnjs.cloudflare.com")["action"].startswith("Loads before any choice as essential")
