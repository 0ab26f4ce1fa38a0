"""``[categories.<name>] services = [...]``: a catalogued service moved into an operator's category is
in that category everywhere: held elements, the banner's guard, the service list, cookie clearing
(on pages, on a choice and in the banner's catalogue), and the metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from support.helpers import SECRET

from gateway import ConsentMiddleware, Settings
from gateway.app import build
from gateway.banner.script import consent_mode_categories, guard_config
from gateway.settings import Category

VIDEO = Category("video", {"nl": "Video's", "en": "Videos"}, {"en": "Embedded videos"}, services=("youtube", "vimeo"))
STATISTICS = Category("statistics", {"en": "Statistics"}, {"en": "Counting visits"}, services=("google-analytics",))
PAGE = (
    '<!doctype html><html><head><script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    '</head><body><iframe src="https://www.youtube.com/embed/abc"></iframe>'
    '<iframe src="https://player.vimeo.com/video/1"></iframe></body></html>'
)


@pytest.fixture
def moved(db_path: Path) -> Settings:
    names = ("analytics", "marketing")
    plain = tuple(Category(n, {}, {}) for n in names)
    return Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", categories=(*plain, VIDEO, STATISTICS))


def page_site() -> Starlette:
    async def page(request):
        return HTMLResponse(PAGE)

    return Starlette(routes=[Route("/", page)])


def choose(client: TestClient, categories: list[str]) -> None:
    client.post("/_consent", json={"action": "custom", "categories": categories}).raise_for_status()


def test_one_catalogue_holds_the_moves(moved: Settings) -> None:
    catalogue = build(moved).catalogue
    assert catalogue.service("youtube").category == "video" and catalogue.service("vimeo").category == "video"
    assert catalogue.match_iframe("https://www.youtube-nocookie.com/embed/x").category == "video"
    assert catalogue.category_of_cookie("_ga") == "statistics"
    assert "_ga" in catalogue.cookie_patterns("statistics") and "_ga" not in catalogue.cookie_patterns("analytics")
    assert catalogue.service("meta-pixel").category == "marketing"  # the rest stays


def test_held_embeds_wait_for_the_operators_category(moved: Settings) -> None:
    with TestClient(ConsentMiddleware(page_site(), settings=moved)) as client:
        held = client.get("/").text
        assert 'data-consent="video"' in held and 'data-consent="statistics"' in held
        assert ' src="https://www.youtube.com/embed/abc"' not in held
        choose(client, ["marketing", "analytics"])
        still = client.get("/").text
        assert ' src="https://www.youtube.com/embed/abc"' not in still and 'data-consent="video"' in still
        choose(client, ["video"])
        loaded = client.get("/").text
        assert (
            ' src="https://www.youtube.com/embed/abc"' in loaded and ' src="https://player.vimeo.com/video/1"' in loaded
        )
        assert 'data-consent="statistics"' in loaded  # Google Analytics still waits for its category
        metrics = client.get("/_consent/metrics").text
    assert 'gateway_blocked_elements_total{category="video",service="youtube"}' in metrics


def test_the_banners_guard_holds_the_hosts_under_the_operators_category(moved: Settings) -> None:
    components = build(moved)
    hosts = guard_config(moved, components.catalogue)["hosts"]
    assert "*.youtube.com" in hosts["video"] and "*.youtube.com" not in hosts["marketing"]
    assert "*.youtube.com" in components.banner.first_layer.body.decode()


def test_the_service_lists_show_the_operators_category(moved: Settings) -> None:
    with TestClient(ConsentMiddleware(page_site(), settings=moved), base_url="http://www.leerplein.test") as client:
        answer = client.get("/_consent/services", params={"lang": "en"}).json()
        form = client.get("/_consent/preferences", params={"lang": "en"}).text
    listed = {s["id"]: s["category"] for s in answer["services"]}
    assert listed["youtube"] == "video" and listed["vimeo"] == "video" and listed["google-analytics"] == "statistics"
    assert "youtube" in answer["catalogue"]["video"]["services"]
    assert "youtube" not in answer["catalogue"]["marketing"]["services"]
    assert "_ga" in answer["catalogue"]["statistics"]["cookies"]  # what the banner clears when it is withdrawn
    video = form[form.index('value="video"') :]
    assert "YouTube (Google)" in video[: video.index("</div>")]


def test_cookies_of_a_moved_service_are_expired_when_its_category_is_denied(moved: Settings) -> None:
    with TestClient(ConsentMiddleware(page_site(), settings=moved)) as client:
        client.cookies.set("_ga", "GA1.2.3")
        response = client.post("/_consent", json={"action": "custom", "categories": ["analytics"]})
        assert any(c.startswith("_ga=") and "Max-Age=0" in c for c in response.headers.get_list("set-cookie"))
        client.cookies.set("_ga", "GA1.2.3")
        page = client.get("/")
        assert any(c.startswith("_ga=") and "Max-Age=0" in c for c in page.headers.get_list("set-cookie"))
        choose(client, ["statistics"])
        client.cookies.set("_ga", "GA1.2.3")
        assert not any(c.startswith("_ga=") for c in client.get("/").headers.get_list("set-cookie"))


def test_consent_mode_follows_the_google_services_categories(moved: Settings, db_path: Path) -> None:
    assert consent_mode_categories(moved, build(moved).catalogue) == {
        "analytics_storage": "statistics",  # Google Analytics was moved
        "ad_storage": "marketing",
        "ad_user_data": "marketing",
        "ad_personalization": "marketing",
    }
    plain = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}")
    assert consent_mode_categories(plain, build(plain).catalogue)["analytics_storage"] == "analytics"
    assert '"consentMode":{"analytics_storage":"statistics"' in build(moved).banner.first_layer.body.decode()
