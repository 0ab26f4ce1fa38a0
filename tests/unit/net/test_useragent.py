import pytest

from gateway.net.useragent import classify

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36"


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (CHROME, "desktop"),
        (IPHONE, "mobile"),
        (HEADLESS, "bot"),
        ("curl/8.5.0", "bot"),
        ("python-requests/2.32.3", "bot"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        ("", "other"),
    ],
)
def test_device_classes(user_agent: str, device: str) -> None:
    assert classify(user_agent).device == device


def test_browser_family_kept_not_the_user_agent() -> None:
    assert classify(CHROME).browser == "Chrome"
