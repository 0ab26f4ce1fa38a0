import re
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient
from support.helpers import rows

from gateway.store.discovery import Sighting

FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_form_shows_every_category_with_nothing_pre_ticked(client: TestClient) -> None:
    page = client.get("/_consent/preferences", params={"lang": "nl"}).text
    assert "Alles weigeren" in page and "Alles accepteren" in page and "Keuze opslaan" in page
    assert 'value="functional" checked disabled' in page
    assert 'value="analytics">' in page and 'value="marketing">' in page
    english = client.get("/_consent/preferences", headers={"accept-language": "en-GB,en;q=0.9,nl;q=0.5"}).text
    assert "Reject all" in english and '<html lang="en">' in english


def test_no_js_reject_all_redirects_back_with_cookie(client: TestClient, db_path) -> None:
    response = client.post(
        "/_consent/preferences",
        content="action=reject_all&next=%2Fcursus%2Fles-1%3Fstap%3D2&lang=nl",
        headers=FORM,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/cursus/les-1?stap=2"
    assert "consent=" in response.headers["set-cookie"]
    [row] = rows(db_path)
    assert row["method"] == "reject_all" and row["language"] == "nl" and row["page_path"] == "/cursus/les-1"
    # The choice is now shown on the form, with the id to quote in an access request.
    page = client.get("/_consent/preferences").text
    assert row["consent_id"] in page and 'value="analytics">' in page


def test_no_js_custom_choice_ticks_what_was_granted(client: TestClient, db_path) -> None:
    client.post("/_consent/preferences", content="action=custom&categories=analytics&next=/", headers=FORM)
    assert rows(db_path)[0]["granted"] == "functional,analytics"
    page = client.get("/_consent/preferences").text
    assert 'value="analytics" checked>' in page and 'value="marketing">' in page


def test_form_never_redirects_off_site(client: TestClient) -> None:
    for target in (
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "/a\r\nSet-Cookie: x=1",
    ):
        body = f"action=reject_all&next={target}".encode()
        response = client.post("/_consent/preferences", content=body, headers=FORM, follow_redirects=False)
        assert response.headers["location"] == "/", target
    same_site = client.post(
        "/_consent/preferences",
        content=b"action=reject_all&next=http://leerplein.test/cursus",
        headers=FORM,
        follow_redirects=False,
    )
    assert same_site.headers["location"] == "http://leerplein.test/cursus"


def test_cross_site_form_post_is_refused(client: TestClient, db_path) -> None:
    response = client.post(
        "/_consent/preferences",
        content=b"action=accept_all&next=/",
        headers={**FORM, "origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403 and response.json()["error"] == "cross_site"
    assert rows(db_path) == []


def test_form_errors(client: TestClient) -> None:
    assert client.post("/_consent/preferences", json={"action": "accept_all"}).status_code == 415
    bad = client.post("/_consent/preferences", content=b"action=custom&categories=spying", headers=FORM)
    assert bad.status_code == 400 and bad.json()["error"] == "unknown_category"


def test_gpc_notice_on_the_form(client: TestClient) -> None:
    assert "Global Privacy Control" in client.get("/_consent/preferences", headers={"sec-gpc": "1"}).text
    assert "Global Privacy Control" not in client.get("/_consent/preferences").text


def test_form_lists_only_the_services_the_site_uses(client: TestClient) -> None:
    unknown = client.get("/_consent/preferences", params={"lang": "en"}).text
    assert "No third-party services have been found on this site yet" in unknown
    assert "Google Analytics" not in unknown and "Meta Pixel" not in unknown  # never the whole catalogue
    found = {Sighting("www.cursus.test", "script", "connect.facebook.net", "meta-pixel"): 2}
    client.portal.call(client.app.components.store.add_sightings, found, datetime.now(UTC), "page")
    page = client.get("/_consent/preferences", params={"lang": "en"}, headers={"host": "www.cursus.test:8443"}).text
    assert "No third-party services" not in page and "Google Analytics" not in page
    marketing = page[page.index('value="marketing"') :]
    marketing = marketing[: marketing.index("</div>")]
    assert "Services in this category (1)" in marketing and "Meta Pixel (Meta): " in marketing
    assert "_fbp" in marketing and "up to 90 days" in marketing
    assert '<a href="/_consent/declaration?lang=en">Cookie declaration</a>' in page


@pytest.mark.parametrize("language", ["nl", "en", "de", "fr"])
def test_form_names_each_category_once_beside_a_switch_and_links_the_other_languages(
    client: TestClient, language: str
) -> None:
    page = client.get("/_consent/preferences", params={"lang": language, "next": "/les"}).text
    assert f'<html lang="{language}">' in page
    labels = {"nl": "Statistieken", "en": "Statistics", "de": "Statistiken", "fr": "Statistiques"}
    assert page.count(f"<span>{labels[language]}</span>") == 1
    assert re.findall(r">\s*" + labels[language] + r"\s*<", page) == [f">{labels[language]}<"]  # no legend repeating it
    assert page.count('<input type="checkbox" role="switch"') == 4
    names = {"nl": "Nederlands", "en": "English", "de": "Deutsch", "fr": "Français"}
    for code, name in names.items():
        link = f'<a href="/_consent/preferences?lang={code}&amp;next=%2Fles" lang="{code}" hreflang="{code}">{name}</a>'
        assert (link in page) is (code != language), code
