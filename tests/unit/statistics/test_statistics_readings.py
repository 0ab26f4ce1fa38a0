"""What one request tells the figures: browser and device, language, external referrer, consent state."""

from __future__ import annotations

import pytest

from gateway.statistics.readings import agent_of, consent_state, crawler_of, language_of, referrer_of, site_of_host

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
OPTIONAL = frozenset({"analytics", "marketing"})


def test_browsers_and_devices() -> None:
    assert agent_of(FIREFOX.encode()) == ("Firefox", "desktop")
    assert agent_of(IPHONE.encode()) == ("Mobile Safari", "mobile")
    assert agent_of(IPAD.encode())[1] == "tablet"


@pytest.mark.parametrize("user_agent", [GOOGLEBOT, "curl/8.5.0", "python-requests/2.32", "", "   ", None])
def test_bots_and_requests_without_a_user_agent_are_no_visitors(user_agent: str | None) -> None:
    assert agent_of(user_agent.encode() if user_agent is not None else None) is None


def test_crawlers_are_named_by_family() -> None:
    assert crawler_of(GOOGLEBOT.encode()) == "Googlebot"
    assert crawler_of(b"curl/8.5.0") == "curl"
    assert crawler_of(b"") == crawler_of(None) == "bot"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("nl-NL,nl;q=0.9,en;q=0.8", "nl"),
        ("en-GB", "en"),
        ("DE", "de"),
        ("fr;q=0.9", "fr"),
        ("es-ES,nl;q=0.5", "other"),
        ("", "other"),
        (None, "other"),
        ("*", "other"),
    ],
)
def test_the_language_is_the_first_primary_subtag_the_gateway_speaks(header: str | None, language: str) -> None:
    assert language_of(header.encode() if header is not None else None) == language


@pytest.mark.parametrize(
    ("referer", "host"),
    [
        ("https://www.google.com/", "www.google.com"),
        ("https://Search.Example.ORG:8443/path?q=secret", "search.example.org"),
        ("http://user:pw@forum.example.net/t/1", "forum.example.net"),
        ("https://www.cursus.nl/les/1", ""),  # the site itself
        ("https://leer.cursus.nl/", ""),  # another host of the same site
        ("android-app://com.google.android.gm/", ""),
        ("about:blank", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_only_external_referrer_hosts_are_kept(referer: str | None, host: str) -> None:
    assert referrer_of(referer.encode() if referer is not None else None, "www.cursus.nl") == host


def test_the_site_is_the_host_without_port_in_lower_case() -> None:
    assert site_of_host(b"WWW.Cursus.NL:8080") == "www.cursus.nl"
    assert site_of_host(b"www.cursus.nl.") == "www.cursus.nl"


@pytest.mark.parametrize(
    ("decided", "granted", "state"),
    [
        (False, {"functional"}, "none"),
        (True, {"functional"}, "rejected"),
        (True, {"functional", "analytics"}, "partial"),
        (True, {"functional", "analytics", "marketing"}, "all"),
        (True, {"functional", "analytics", "marketing", "gone"}, "all"),
    ],
)
def test_consent_states(decided: bool, granted: set[str], state: str) -> None:
    assert consent_state(decided, frozenset(granted), OPTIONAL) == state
