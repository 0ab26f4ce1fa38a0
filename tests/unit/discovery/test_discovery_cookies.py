"""Cookie names for discovery: syntax, Set-Cookie names, and what the banner is told per site."""

from __future__ import annotations

import pytest

from gateway.discovery import cookies as cookies_module
from gateway.discovery.cookies import KnownCookies, is_cookie_name, set_cookie_names


@pytest.mark.parametrize("name", ["_ga", "_hjSessionUser_123", "__Host-id", "a.b", "x!#$%&'*+-^`|~"])
def test_cookie_names(name: str) -> None:
    assert is_cookie_name(name)


@pytest.mark.parametrize("name", ["", "a b", "a;b", "a=b", 'a"b', "naïve", "x" * 129, 5, None])
def test_not_cookie_names(name: object) -> None:
    assert not is_cookie_name(name)


def test_set_cookie_names_of_a_response() -> None:
    headers = [
        (b"content-type", b"text/html"),
        (b"set-cookie", b"sessionid=abc; Path=/; HttpOnly"),
        (b"Set-Cookie", b"_ga=GA1.1; Max-Age=100"),
        (b"set-cookie", b"sessionid=def"),
        (b"set-cookie", b"no-equals-sign"),
        (b"set-cookie", b"bad name=1"),
    ]
    assert set_cookie_names(headers) == {"sessionid", "_ga"}


def test_the_banner_attribute_lists_the_known_names_escaped_and_sorted() -> None:
    known = KnownCookies(["consent"])
    assert known.attribute("www.cursus.nl") == b' data-cookies=""'  # a site just seen: report everything new
    known.add("www.cursus.nl", ["_ga", "consent", "a'b", "_fbp"])
    assert known.attribute("www.cursus.nl") == b' data-cookies="_fbp _ga a&#x27;b"'
    assert known.unknown("www.cursus.nl", ["_ga", "consent", "new"]) == {"new"}
    assert known.knows_site("www.cursus.nl") and not known.knows_site("elders.nl")


def test_too_many_names_or_sites_mean_no_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cookies_module, "KNOWN_LIMIT", 2)
    monkeypatch.setattr(cookies_module, "MAX_SITES", 1)
    known = KnownCookies()
    known.add("www.cursus.nl", ["a", "b", "c"])
    assert known.attribute("www.cursus.nl") == b""
    assert known.attribute("second.example") == b"" and not known.knows_site("second.example")
