"""The admin in Dutch and English: which language a page gets, the switch, complete locale files, plurals,
and erasure described the same way in the admin, the README and the store."""

from __future__ import annotations

import json
import re
import sqlite3
import string
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support import REPOSITORY
from support.helpers import rows, site
from support.records import ADMIN, ALICE, BOB, PASSWORD, admin_settings, record_on, seed

from gateway import ConsentMiddleware
from gateway.admin.language import ADMIN_LANGUAGES, COOKIE, LOCALES, Texts, preferred
from gateway.admin.views import METHOD_SERIES
from gateway.store.record import ConsentStore

TEMPLATES = REPOSITORY / "gateway" / "admin" / "templates"
ORIGIN = "http://leerplein.test"


def csrf_in(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(client: TestClient) -> object:
    data = {"csrf": csrf_in(client.get(f"{ADMIN}/login").text), "user": "fg", "password": PASSWORD, "next": ADMIN}
    return client.post(f"{ADMIN}/login", data=data, headers={"origin": ORIGIN}, follow_redirects=False)


def gateway_client(db_path: Path, **settings) -> TestClient:
    return TestClient(ConsentMiddleware(site(), settings=admin_settings(db_path, **settings)), base_url=ORIGIN)


@pytest.fixture
def officer(db_path: Path) -> Iterator[TestClient]:
    with gateway_client(db_path) as client:
        assert sign_in(client).status_code == 303
        yield client


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="(\w+)">', page)
    assert match
    return match.group(1)


# ---- which language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_language", "language", "heading"),
    [
        ("nl-NL,nl;q=0.9,en;q=0.8", "nl", "<h1>Aanmelden</h1>"),
        ("en-GB,en;q=0.9", "en", "<h1>Sign in</h1>"),
        ("de-DE,de;q=0.9,en;q=0.5,nl;q=0.4", "en", "<h1>Sign in</h1>"),  # the best the admin speaks
        ("fr", "nl", "<h1>Aanmelden</h1>"),  # nothing it speaks: default_language
        ("", "nl", "<h1>Aanmelden</h1>"),
    ],
)
def test_the_admin_follows_the_browser_else_the_default_language(
    db_path: Path, accept_language: str, language: str, heading: str
) -> None:
    with gateway_client(db_path, default_language="nl") as client:
        page = client.get(f"{ADMIN}/login", headers={"accept-language": accept_language}).text
    assert html_lang(page) == language and heading in page


def test_preferred_weighs_and_ignores_what_it_cannot_read() -> None:
    assert preferred("nl;q=0.3, en;q=0.7", "nl") == "en"
    assert preferred("en;q=0, nl", "en") == "nl"  # q=0 means "not this one"
    assert preferred("en;q=abc, nl-BE", "en") == "nl"
    assert preferred("*", "nl") == "nl"


def test_the_switch_link_changes_the_language_and_a_cookie_keeps_it(officer: TestClient) -> None:
    dutch = officer.get(ADMIN, params={"from": "2025-03-01", "to": "2025-03-07"}, headers={"accept-language": "nl"})
    assert html_lang(dutch.text) == "nl"
    link = re.search(r'<a href="([^"]+)" lang="en" hreflang="en">English</a>', dutch.text)
    assert link, "the Dutch page offers English"
    assert "from=2025-03-01" in link.group(1) and "to=2025-03-07" in link.group(1)  # the filter stays
    switched = officer.get(link.group(1).replace("&amp;", "&"), headers={"accept-language": "nl"})
    assert html_lang(switched.text) == "en" and "Consent rates, 2025-03-01 to 2025-03-07" in switched.text
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=en;") and f"Path={ADMIN}" in cookie and "SameSite=strict" in cookie
    later = officer.get(f"{ADMIN}/audit", headers={"accept-language": "nl"})
    assert html_lang(later.text) == "en" and "<h1>Audit log</h1>" in later.text  # the choice outlives the page
    back = officer.get(f"{ADMIN}/audit", params={"lang": "nl"})
    assert "<h1>Auditlog</h1>" in back.text and back.headers["set-cookie"].startswith(f"{COOKIE}=nl;")


def test_an_unknown_lang_is_ignored(officer: TestClient) -> None:
    page = officer.get(f"{ADMIN}/audit", params={"lang": "xx"}, headers={"accept-language": "en"})
    assert html_lang(page.text) == "en" and "set-cookie" not in page.headers


def test_errors_and_the_charts_speak_the_page_language(officer: TestClient, db_path: Path) -> None:
    seed(db_path, [record_on(ALICE, "2025-03-02 10:00:00", "reject_all")])
    dutch = {"accept-language": "nl"}
    bad_id = officer.get(f"{ADMIN}/consents", params={"id": "Jan de Vries"}, headers=dutch)
    assert bad_id.status_code == 400 and "Een toestemmings-id ziet eruit als" in bad_id.text
    bad_range = officer.get(ADMIN, params={"from": "2025-03-09", "to": "2025-03-01"}, headers=dutch)
    assert bad_range.status_code == 400 and "Van: mag niet na Tot en met liggen." in bad_range.text
    page = officer.get(ADMIN, params={"from": "2025-03-01", "to": "2025-03-07"}, headers=dutch).text
    assert "2025-03-02 Alles weigeren: 1 van 1 (100 %)" in page
    assert "Hoe bezoekers kozen (1 keuze, tijden in UTC)" in page
    assert "Statistieken toegestaan" in page  # the category's own Dutch label


# ---- the locale files ----------------------------------------------------------------------


def fields(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def test_both_locale_files_hold_the_same_messages_with_the_same_fields() -> None:
    english, dutch = (json.loads((LOCALES / f"{language}.json").read_text()) for language in ("en", "nl"))
    assert set(ADMIN_LANGUAGES) == {"nl", "en"}
    assert english.keys() == dutch.keys()
    for key, message in english.items():
        other = dutch[key]
        assert type(message) is type(other), key
        forms = message.items() if isinstance(message, dict) else [("", message)]
        for form, text in forms:
            translated = other[form] if form else other
            assert fields(text) == fields(translated), f"{key} {form}: the fields differ"
            assert re.findall(r"</?code>", text) == re.findall(r"</?code>", translated), f"{key}: markup differs"
        if isinstance(message, dict):
            assert message.keys() == other.keys() == {"one", "other"}, key


def test_every_message_a_template_names_is_in_the_locale_files() -> None:
    used = set()
    for path in TEMPLATES.iterdir():
        used |= set(re.findall(r"""\bt(?:\.plain)?\(\s*["']([\w.]*[a-z0-9])["']""", path.read_text()))
    # Keys the templates put together from a prefix and a value.
    used |= {f"method.{method}" for method, _ in METHOD_SERIES}
    used |= {"tp.intro_strict", "tp.intro_catalogue", "tp.last_scan_chromium", "tp.last_scan_static"}
    assert len(used) > 60
    assert used - set(Texts("en").messages) == set()


def test_values_are_escaped_and_plurals_chosen_by_count() -> None:
    texts = Texts("en")
    assert texts("lookup.erase", count=1) == "Erase this 1 record…"
    assert texts("lookup.erase", count=2) == "Erase these 2 records…"
    assert texts("lookup.erase", count=0) == "Erase these 0 records…"
    assert str(texts("lookup.history", id="<b>x</b>")) == "History of &lt;b&gt;x&lt;/b&gt;"
    assert Texts("nl")("lookup.erase", count=1) == "Deze 1 registratie wissen…"


# ---- plurals and erasure in the pages ------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "link", "explained", "confirm", "done"),
    [
        ("en", "Erase this 1 record…", "this 1 record of consent", "Yes, erase this record", "Erased 1 record of"),
        (
            "nl",
            "Deze 1 registratie wissen…",
            "deze 1 registratie van",
            "Ja, deze registratie wissen",
            "1 registratie van",
        ),
    ],
)
def test_one_record_is_one_record_and_erasure_blanks_and_keeps_it(
    officer: TestClient, db_path: Path, language: str, link: str, explained: str, confirm: str, done: str
) -> None:
    seed(db_path, [record_on(ALICE, "2025-03-02 10:00:00"), record_on(BOB, "2025-03-02 11:00:00")])
    headers = {"accept-language": language}
    assert link in officer.get(f"{ADMIN}/consents", params={"id": ALICE}, headers=headers).text
    question = officer.get(f"{ADMIN}/erase", params={"id": ALICE}, headers=headers).text
    assert explained in question and confirm in question
    data = {"id": ALICE, "csrf": csrf_in(question), "confirm": "yes"}
    answer = officer.post(f"{ADMIN}/erase", data=data, headers={"origin": ORIGIN, **headers}).text
    assert done in answer
    # What the page promised: the record is there still, blanked and marked erased, and counts in the day.
    assert [row["consent_id"] for row in rows(db_path)] == [BOB]  # the live records
    with closing(sqlite3.connect(db_path)) as connection:
        kept = connection.execute("SELECT consent_id, page_path, ip_prefix FROM consent_record WHERE erased").fetchall()
    assert kept == [("", "", None)]
    assert ">2</td>" in officer.get(ADMIN, params={"from": "2025-03-01", "to": "2025-03-07"}).text


ERASURE_CLAIMS = {
    "en": ("blank", "can no longer be found", "day statistics", "chain still verifies"),
    "nl": ("leeg", "niet meer te vinden", "dagcijfers", "hashketen blijft kloppen"),
}


def test_erasure_is_described_the_same_way_everywhere() -> None:
    """Records are blanked and kept (statistics, chain), the id unfindable: never "deleted for good"."""
    readme = (REPOSITORY / "README.md").read_text()
    admin_section = readme[readme.index("## The admin") : readme.index("## What the gateway does")]
    [admin_erase] = re.findall(r"\*\*Erase\*\*[^*]+?\)\.", admin_section, re.S)
    erasure = readme[readme.index("**Erasure.**") : readme.index("**Retention.**")]
    docstring = ConsentStore.erase.__doc__ or ""
    descriptions = {
        "README admin section": " ".join(admin_erase.split()),
        "README Erasure": " ".join(erasure.split()),
        "ConsentStore.erase": " ".join(docstring.split()),
    }
    for language in ERASURE_CLAIMS:
        for count in (1, 2):
            descriptions[f"admin confirmation ({language}, {count})"] = str(
                Texts(language)("erase.explain", count=count, id=ALICE)
            )
    for where, text in descriptions.items():
        lowered = text.lower()
        assert "delete" not in lowered and "for good" not in lowered, where
        language = "nl" if "(nl," in where else "en"
        blank, unfindable, statistics, chain = ERASURE_CLAIMS[language]
        assert blank in lowered, f"{where}: does not say the records are blanked"
        if where != "ConsentStore.erase":
            assert unfindable in lowered and statistics in lowered and chain in lowered, where
        else:
            assert "unfindable" in lowered and "chain" in lowered and "day counts" in lowered
