import re

from starlette.testclient import TestClient

from gateway.demo import demo_app, demo_settings
from gateway.settings import Settings

SNIPPETS = {
    "Google Tag Manager": "googletagmanager.com/gtm.js",
    "GA4 gtag": "googletagmanager.com/gtag/js?id=G-",
    "Meta Pixel": "connect.facebook.net/en_US/fbevents.js",
    "Meta Pixel noscript": "facebook.com/tr?id=",
    "LinkedIn Insight": "snap.licdn.com/li.lms-analytics/insight.min.js",
    "Hotjar": "static.hotjar.com/c/hotjar-",
    "1x1 beacon": 'width="1" height="1"',
}


def demo_client(tmp_path) -> TestClient:
    settings = demo_settings(environ={"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"})
    return TestClient(demo_app(settings))


def test_demo_settings_generate_a_secret_and_honour_the_database_url(tmp_path) -> None:
    settings = demo_settings(environ={"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert settings.demo and len(settings.secret_key[0]) >= 32
    assert settings.database_url.endswith("x.db")
    assert demo_settings(environ={}).secret_key != settings.secret_key
    assert demo_settings(environ={}).database_url == "sqlite:///consent-demo.db"
    assert isinstance(settings, Settings)


def test_pages_carry_real_tracker_snippets_and_the_banner_first(tmp_path) -> None:
    with demo_client(tmp_path) as client:
        for path in ("/", "/cursus/excel-voor-beginners", "/inloggen", "/privacy"):
            page = client.get(path)
            assert page.status_code == 200, path
            head = page.text.split("<head>", 1)[1]
            assert re.match(
                r"<script>[^<]*gtag\('consent','default'[^<]*</script><script src=\"/_consent/banner\.js\?v=[0-9a-f]{12}\"[^>]*></script>",  # noqa: E501
                head,
            ), path
            for name, marker in SNIPPETS.items():
                assert marker in page.text, (path, name)
        lesson = client.get("/cursus/excel-voor-beginners").text
        assert "youtube.com/embed/" in lesson
        assert client.get("/cursus/bestaat-niet").status_code == 404
        assert client.post("/inloggen").status_code == 200
