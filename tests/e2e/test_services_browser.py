"""Services per site and the cookie declaration in Debian's Chromium (Playwright).

The README's ``[categories.video]`` example with ``services = ["youtube", "vimeo"]`` on a page with a
YouTube embed (YouTube's host mapped to the local tracker stub); the declaration page checked with
axe-core in Dutch and English; ``declaration.js`` embedded in a page of another origin.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support import REPOSITORY
from support.browser import axe_violations
from support.helpers import SECRET, ThreadedServer, axe_script
from support.records import seed_discovery
from support.stubs import StaticSite, TrackerStub

from gateway import ConsentMiddleware, Settings

pytestmark = pytest.mark.browser

EMBED = "https://www.youtube.com/embed/dQw4w9WgXcQ"
LESSON = (
    '<!doctype html><html lang="nl"><head><title>Les 1</title></head><body><h1>Les 1</h1>'
    f'<iframe title="Uitlegvideo" width="560" height="315" src="{EMBED}"></iframe></body></html>'
)


def readme_settings(db_path: Path, **overrides) -> Settings:
    """The README's example configuration, categories as written there; the rest fit for loopback."""
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    start = readme.index("```toml\nsecret_key = [") + len("```toml\n")
    example = db_path.parent / "gateway.toml"
    example.write_text(readme[start : readme.index("```", start)], encoding="utf-8")
    assert tomllib.loads(example.read_text())["categories"]["video"]["services"] == ["youtube", "vimeo"]
    # The example's cookie domain and proxies are a real site's; the test runs on 127.0.0.1.
    values = {"secret_key": SECRET, "database_url": f"sqlite:///{db_path}", "cookie_domain": None, **overrides}
    return Settings.load(example, environ={}, **values)


@pytest.fixture(scope="module")
def other_site() -> Iterator[StaticSite]:
    with StaticSite("127.0.0.2") as site:
        yield site


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, other_site: StaticSite) -> Iterator[ThreadedServer]:
    async def lesson(request):
        return HTMLResponse(LESSON)

    db_path = tmp_path_factory.mktemp("services") / "consent.db"
    settings = readme_settings(db_path, allowed_origins=(other_site.origin,))
    app = ConsentMiddleware(Starlette(routes=[Route("/les-1", lesson)]), settings=settings)
    seed_discovery(db_path, found=[("script", "www.googletagmanager.com", "google-analytics")])
    seed_discovery(db_path, site="127.0.0.2", found=[("iframe", "player.vimeo.com", "vimeo")])
    with ThreadedServer(app) as server:
        yield server


def youtube_requested(stub: TrackerStub) -> bool:
    return any(hit.host == "www.youtube.com" for hit in stub.hits)


def choose_in_settings(page, switches: list[str]) -> None:
    """Open the settings layer from the banner, tick ``switches`` (nothing else) and save."""
    page.get_by_role("dialog", name="Cookies op deze leeromgeving").get_by_role("button", name="Instellingen").click()
    layer = page.get_by_role("dialog", name="Cookie-instellingen")
    layer.wait_for(state="visible")
    for name in switches:
        layer.get_by_role("switch", name=name, exact=True).check()
    layer.get_by_role("button", name="Keuze opslaan").click()
    layer.wait_for(state="detached")


def test_youtube_waits_for_video_not_for_marketing(new_context, gateway: ThreadedServer, stub: TrackerStub) -> None:
    page = new_context().new_page()
    page.goto(gateway.url + "/les-1")
    choose_in_settings(page, ["Marketing"])
    page.wait_for_load_state("networkidle")
    frame = page.locator("iframe[title='Uitlegvideo']")
    assert frame.get_attribute("data-consent") == "video" and frame.get_attribute("src") is None
    page.reload()
    page.wait_for_load_state("networkidle")
    assert not stub.wait_for(youtube_requested, timeout=1.0), stub.hits
    assert page.locator("iframe[title='Uitlegvideo']").get_attribute("data-consent") == "video"


def test_youtube_loads_after_video_only_and_is_listed_under_video(
    new_context, gateway: ThreadedServer, stub: TrackerStub
) -> None:
    page = new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(gateway.url + "/les-1")
    page.get_by_role("dialog", name="Cookies op deze leeromgeving").get_by_role("button", name="Instellingen").click()
    layer = page.get_by_role("dialog", name="Cookie-instellingen")
    video = layer.locator("ul[data-category='video'] li")
    video.first.wait_for(state="attached")
    assert [item.split(":")[0] for item in video.all_text_contents()] == ["Vimeo (Vimeo)", "YouTube (Google)"]
    assert layer.locator("ul[data-category='marketing'] li").count() == 0  # no longer there
    # Only what the site uses: Google Analytics was found, nothing else of the catalogue is listed.
    assert layer.locator("ul[data-category='analytics'] li").all_text_contents()[0].startswith("Google Analytics")
    assert layer.get_by_text("Meta Pixel").count() == 0
    layer.get_by_role("switch", name="Video's", exact=True).check()
    layer.get_by_role("button", name="Keuze opslaan").click()
    assert stub.wait_for(youtube_requested), stub.hits
    assert page.locator("iframe[title='Uitlegvideo']").get_attribute("src") == EMBED
    assert errors == []


@pytest.mark.parametrize(("language", "title"), [("nl", "Cookieverklaring"), ("en", "Cookie declaration")])
def test_the_declaration_passes_axe_core(new_context, gateway: ThreadedServer, language: str, title: str) -> None:
    axe = axe_script()
    page = new_context().new_page()
    page.goto(f"{gateway.url}/_consent/declaration?lang={language}")
    assert page.title() == title
    captions = page.locator("caption").all_text_contents()
    assert len(captions) == 5 and captions[3].startswith("Video")
    assert page.locator("table").nth(3).locator("th[scope=row]").all_text_contents() == ["Vimeo", "YouTube"]
    assert axe_violations(page, axe, min_passes=10) == []


def test_the_declaration_script_inserts_the_table_on_another_origin(
    new_context, gateway: ThreadedServer, other_site: StaticSite
) -> None:
    script = f'<script src="{gateway.url}/_consent/declaration.js" data-lang="en"></script>'
    other_site.pages["/privacy"] = (
        '<!doctype html><html lang="nl"><head><title>Privacy</title></head><body><h1>Privacyverklaring</h1>'
        f'<p id="before">Hier staat welke cookies wij gebruiken.</p>{script}<p id="after">Vragen?</p></body></html>'
    )
    page = new_context().new_page()
    page.goto(other_site.origin + "/privacy")
    declaration = page.locator("#before + script + .cookie-declaration-embed .cookie-declaration")
    declaration.wait_for(state="attached")
    assert declaration.get_attribute("lang") == "en"
    assert page.evaluate("document.querySelector('.cookie-declaration-embed').nextElementSibling.id") == "after"
    # The declaration of this origin's site: Vimeo was found there, YouTube is named in the configuration.
    video = declaration.locator("table").nth(3)
    assert video.locator("caption").text_content().startswith("Videos")
    assert video.locator("th[scope=row]").all_text_contents() == ["Vimeo", "YouTube"]
    assert declaration.locator("table").nth(1).locator("th[scope=row]").count() == 0  # not the gateway's own site


def test_an_origin_not_allowed_gets_no_declaration(new_context, gateway: ThreadedServer) -> None:
    with StaticSite("127.0.0.3") as elsewhere:
        elsewhere.pages["/"] = (
            f'<!doctype html><html lang="en"><head><title>x</title></head><body><script src="{gateway.url}'
            '/_consent/declaration.js"></script></body></html>'
        )
        page = new_context().new_page()
        failed: list[str] = []
        page.on("console", lambda message: failed.append(message.text) if message.type == "error" else None)
        page.goto(elsewhere.origin + "/")
        page.wait_for_load_state("networkidle")
        assert page.locator(".cookie-declaration").count() == 0
        assert any("CORS" in text or "Access-Control" in text for text in failed), failed
