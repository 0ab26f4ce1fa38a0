"""GET /_consent/declaration: the cookie declaration as a page (nl/en), a fragment, JSON and a script."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient
from support.helpers import SECRET, site

from gateway import ConsentMiddleware, Settings
from gateway.settings import DEFAULT_CATEGORIES, Category
from gateway.store.discovery import ScanRun, Sighting

SITE = "www.leerplein.nl"
OTHER_ORIGIN = "https://www.andere-site.nl"
VIDEO = Category("video", {"nl": "Video's", "en": "Videos"}, {"en": "Embedded videos"}, services=("youtube",))


@pytest.fixture
def client(db_path) -> Iterator[TestClient]:
    settings = Settings(
        secret_key=SECRET,
        database_url=f"sqlite:///{db_path}",
        categories=(*DEFAULT_CATEGORIES[1:], VIDEO),
        allowed_origins=(OTHER_ORIGIN,),
    )
    app = ConsentMiddleware(site(), settings=settings)
    with TestClient(app, base_url=f"https://{SITE}") as test_client:
        found = {
            Sighting(SITE, "script", "www.googletagmanager.com", "google-analytics"): 3,
            Sighting(SITE, "cookie", "_ga_Q1W2E3", "google-analytics"): 3,
        }
        store = app.components.store
        test_client.portal.call(store.add_sightings, found, datetime(2026, 11, 20, 8, 0, tzinfo=UTC), "page")
        test_client.portal.call(
            store.record_scan, ScanRun(SITE, datetime(2026, 12, 3, 22, 30, tzinfo=UTC), 9, "static")
        )
        yield test_client


class Tables(HTMLParser):
    """Each table's caption, column headers and row headers, as a screen reader would announce them."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.cell: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append({"caption": "", "columns": [], "rows": []})
        if tag in ("caption", "th"):
            self.cell = tag + ":" + (dict(attrs).get("scope") or "")
            self.text = ""

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("caption", "th") and self.cell is not None:
            table = self.tables[-1]
            if self.cell == "caption:":
                table["caption"] = self.text.strip()
            else:
                table["columns" if self.cell == "th:col" else "rows"].append(self.text.strip())
            self.cell = None


def tables(html: str) -> list[dict]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def test_the_page_in_dutch_lists_per_category_what_the_site_uses(client: TestClient) -> None:
    response = client.get("/_consent/declaration", headers={"accept-language": "nl-NL,nl;q=0.9,en;q=0.5"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert (
        '<html lang="nl">' in page and "<title>Cookieverklaring</title>" in page and "<h1>Cookieverklaring</h1>" in page
    )
    found = tables(page)
    assert [t["caption"].split(":")[0] for t in found] == [
        "Noodzakelijk",
        "Statistieken",
        "Marketing",
        "Video's",
        "Overige derde partijen",
    ]
    assert found[1]["columns"] == ["Dienst", "Aanbieder", "Doel", "Cookies", "Bewaartermijn", "Privacybeleid"]
    assert found[0]["rows"] == ["Cookiekeuze"] and found[1]["rows"] == ["Google Analytics"]
    assert found[2]["rows"] == [] and found[3]["rows"] == ["YouTube"]
    assert "<code>_ga_Q1W2E3</code>" in page and "<code>consent</code>" in page and "180 dagen" in page
    assert "tot 2 jaar" in page and 'href="https://policies.google.com/privacy"' in page
    assert '<time datetime="2026-12-03T22:30:00+00:00">3 december 2026</time>' in page  # the last scan
    assert '<time datetime="2026-11-20T08:00:00+00:00">20 november 2026</time>' in page  # the last change
    assert "Geen diensten in deze categorie." in page
    assert 'href="/_consent/preferences" data-consent-open' in page
    assert "Accept-Language" in response.headers["vary"] and "Accept" in response.headers["vary"]


def test_the_page_in_english(client: TestClient) -> None:
    page = client.get("/_consent/declaration", params={"lang": "en"}, headers={"accept-language": "nl"}).text
    assert '<html lang="en">' in page and "<h1>Cookie declaration</h1>" in page
    found = tables(page)
    assert [t["caption"].split(":")[0] for t in found][:4] == ["Necessary", "Statistics", "Marketing", "Videos"]
    assert found[0]["rows"] == ["Cookie choice"] and "180 days" in page and "up to 2 years" in page
    assert "3 December 2026" in page and 'href="/_consent/declaration?lang=nl"' in page


def test_a_fragment_for_a_server_side_include(client: TestClient) -> None:
    fragment = client.get("/_consent/declaration", params={"fragment": "1", "lang": "en"}).text
    assert fragment.startswith('<div class="cookie-declaration" lang="en">') and fragment.rstrip().endswith("</div>")
    assert "<html" not in fragment and "<style" not in fragment and "<h1" not in fragment
    assert len(tables(fragment)) == 5


@pytest.mark.parametrize(
    ("accept", "query", "json"),
    [
        ("application/json", {}, True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", {}, False),
        ("*/*", {}, False),
        ("application/json;q=0.5, text/html", {}, False),
        ("text/html;q=0.2, application/*", {}, True),
        ("text/html", {"format": "json"}, True),
        ("application/json", {"format": "html"}, False),
    ],
)
def test_json_by_content_negotiation(client: TestClient, accept: str, query: dict, json: bool) -> None:
    response = client.get("/_consent/declaration", params=query, headers={"accept": accept})
    assert response.headers["content-type"].startswith("application/json" if json else "text/html")


def test_the_json_document(client: TestClient) -> None:
    document = client.get("/_consent/declaration?lang=en", headers={"accept": "application/json"}).json()
    assert document["site"] == SITE and document["language"] == "en" and document["known"] is True
    assert document["last_scan"] == {
        "at": "2026-12-03T22:30:00+00:00",
        "date": "3 December 2026",
        "pages": 9,
        "mode": "static",
    }
    assert document["last_change"]["at"] == "2026-11-20T08:00:00+00:00"
    categories = {c["name"]: c for c in document["categories"]}
    assert list(categories) == ["functional", "analytics", "marketing", "video", "other"]
    assert categories["functional"]["required"] and categories["video"]["label"] == "Videos"
    [ga] = categories["analytics"]["services"]
    assert ga["provider"] == "Google" and ga["privacy_url"].startswith("https://") and ga["source"] == "discovered"
    assert {"name": "_ga_Q1W2E3", "retention": "2 years"} in ga["cookies"]
    assert ga["purpose"] and ga["retention"] == "up to 2 years"
    assert [s["id"] for s in categories["video"]["services"]] == ["youtube"]


def test_a_site_nothing_is_known_of_says_so(settings: Settings) -> None:
    with TestClient(ConsentMiddleware(site(), settings=settings), base_url="http://nieuw.example.nl") as fresh:
        page = fresh.get("/_consent/declaration?lang=en").text
    assert "No third-party services have been found on this site yet" in page and "consent-gateway scan" in page
    assert "The site has not been scanned yet." in page and [t["rows"] for t in tables(page)][1:] == [[], [], []]


def test_the_script_embeds_the_fragment_from_its_own_origin(client: TestClient) -> None:
    script = client.get("/_consent/declaration.js")
    assert script.headers["content-type"].startswith("text/javascript") and script.headers["etag"]
    assert "/declaration?fragment=1" in script.text and "data-lang" in script.text and "currentScript" in script.text
    assert client.get("/_consent/declaration.js", headers={"if-none-match": script.headers["etag"]}).status_code == 304


def test_another_allowed_origin_gets_its_own_declaration_with_cors(client: TestClient) -> None:
    found = {Sighting("www.andere-site.nl", "iframe", "player.vimeo.com", "vimeo"): 1}
    client.portal.call(client.app.components.store.add_sightings, found, datetime.now(UTC), "page")
    headers = {"origin": OTHER_ORIGIN, "host": "gateway.example.nl"}
    response = client.get("/_consent/declaration", params={"fragment": "1", "lang": "en"}, headers=headers)
    assert response.headers["access-control-allow-origin"] == OTHER_ORIGIN
    assert [t["rows"] for t in tables(response.text)][1:4] == [[], ["Vimeo"], ["YouTube"]]
    refused = client.get("/_consent/declaration", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers
