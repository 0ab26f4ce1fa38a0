"""Google Consent Mode in Debian's Chromium when the operator moved Google Analytics into a category of its own.

``[categories.statistiek] services = ["google-analytics"]``: granting "statistiek" alone must tell Google
``analytics_storage: granted`` (and nothing about ads), granting "analytics" alone must not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support.helpers import SECRET, ThreadedServer

from gateway import ConsentMiddleware, Settings
from gateway.settings import Category

pytestmark = pytest.mark.browser

STATISTICS = Category(
    "statistiek", {"nl": "Statistiek", "en": "Statistics"}, {"nl": "Bezoeken tellen"}, services=("google-analytics",)
)
LESSON = (
    '<!doctype html><html lang="nl"><head><title>Les 1</title>'
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST1"></script></head>'
    "<body><h1>Les 1</h1></body></html>"
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[ThreadedServer]:
    async def lesson(request):
        return HTMLResponse(LESSON)

    db_path: Path = tmp_path_factory.mktemp("consent-mode") / "consent.db"
    plain = (Category("analytics", {"nl": "Analyse"}, {}), Category("marketing", {"nl": "Marketing"}, {}))
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", categories=(*plain, STATISTICS))
    with ThreadedServer(ConsentMiddleware(Starlette(routes=[Route("/les-1", lesson)]), settings=settings)) as server:
        yield server


def last_update(page) -> dict:
    """The latest ``gtag('consent', 'update', ...)`` the banner pushed."""
    return page.evaluate(
        "(window.dataLayer || []).filter(e => e && typeof e === 'object' && !Array.isArray(e) && e.length === 3"
        " && e[0] === 'consent' && e[1] === 'update').map(e => e[2]).pop()"
    )


def choose(page, switch: str) -> None:
    page.get_by_role("dialog", name="Cookies op deze leeromgeving").get_by_role("button", name="Instellingen").click()
    layer = page.get_by_role("dialog", name="Cookie-instellingen")
    layer.wait_for(state="visible")
    layer.get_by_role("switch", name=switch, exact=True).check()
    layer.get_by_role("button", name="Keuze opslaan").click()
    layer.wait_for(state="detached")


@pytest.mark.parametrize(("switch", "analytics_storage"), [("Statistiek", "granted"), ("Analyse", "denied")])
def test_analytics_storage_follows_google_analytics_category(
    new_context, gateway: ThreadedServer, stub, switch: str, analytics_storage: str
) -> None:
    page = new_context().new_page()
    page.goto(gateway.url + "/les-1")
    choose(page, switch)
    assert last_update(page) == {
        "analytics_storage": analytics_storage,
        "ad_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
    }
