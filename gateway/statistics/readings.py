"""What one request tells the figures, each reading memoised: the same values come back all day.

None of these keeps what it reads: the user agent becomes a browser family
and a device class, ``Accept-Language`` its first primary subtag (one of
the gateway's languages, else "other"), ``Referer`` the host of another site.
"""

from __future__ import annotations

from functools import lru_cache

from gateway.languages import LANGUAGES
from gateway.net.urls import site_of
from gateway.net.useragent import classify
from gateway.store.discovery import site_name

OTHER_LANGUAGE = "other"
BOT = "bot"  # the crawler family when the user agent names none
# What a visitor's consent comes to in the figures.
NO_CHOICE, REJECTED, PARTIAL, ALL = "none", "rejected", "partial", "all"


# Each reading takes the header's raw bytes (``RequestHead.values``), as the memo's key: decoding
# first would cost more than the memoised reading itself.


@lru_cache(maxsize=1024)
def site_of_host(host: bytes) -> str:
    """The site a request's ``Host`` names, as the store keys it (``gateway.store.discovery.site_name``)."""
    return site_name(host.decode("latin-1"))


@lru_cache(maxsize=4096)
def agent_of(user_agent: bytes | None) -> tuple[str, str] | None:
    """(browser family, device class) of a visitor; ``None`` for a bot or a request without a user agent."""
    text = user_agent.decode("latin-1") if user_agent else ""
    if not text.strip():
        return None
    agent = classify(text)
    return None if agent.is_bot else (agent.browser, agent.device)


@lru_cache(maxsize=1024)
def crawler_of(user_agent: bytes | None) -> str:
    """The crawler family a bot's user agent names ("Googlebot", "curl"); "bot" when it names none."""
    text = user_agent.decode("latin-1") if user_agent else ""
    family = classify(text).browser if text.strip() else ""
    return family if family and family != "Other" else BOT


@lru_cache(maxsize=1024)
def language_of(accept_language: bytes | None) -> str:
    """The primary subtag of the first language the browser asks for, when the gateway speaks it."""
    if not accept_language:
        return OTHER_LANGUAGE
    first = accept_language.decode("latin-1").split(",", 1)[0].split(";", 1)[0].strip()
    primary = first.split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else OTHER_LANGUAGE


@lru_cache(maxsize=4096)
def referrer_of(referer: bytes | None, site: str) -> str:
    """The host of the page the visitor came from, when it is another site; "" otherwise.

    The same registrable domain counts as the site itself (``www.cursus.nl``
    and ``leer.cursus.nl`` are one site), and so do referrers that are no
    web page (``android-app://``, ``about:blank``)."""
    if not referer:
        return ""
    scheme, separator, rest = referer.decode("latin-1").partition("://")
    if not separator or scheme.lower() not in ("http", "https"):
        return ""
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    host = site_name(authority)
    if not host or host == site or site_of(host) == site_of(site):
        return ""
    return host


def consent_state(decided: bool, categories: frozenset[str], optional: frozenset[str]) -> str:
    """``none`` (no choice yet), ``rejected`` (only the required category), ``all`` (every optional
    category) or ``partial``; ``optional`` are the site's categories besides the required one."""
    if not decided:
        return NO_CHOICE
    granted = categories & optional
    if not granted:
        return REJECTED
    return ALL if granted == optional else PARTIAL
