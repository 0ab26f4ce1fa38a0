"""Cookie names for discovery: their syntax, a response's ``Set-Cookie`` names, and the names known per site.

The banner reports the names it finds in ``document.cookie`` that the
server does not know yet for the site (``gateway.api.discovery``). It is
told the known ones on every page, in an attribute of its script tag
(``data-cookies="_ga _fbp"``), so nothing is stored on the device and a
name is reported until the server knows it. ``KnownCookies`` holds those
names per site: read from the store at start-up and now and then after,
and added to as this worker sees new ones (a response's ``Set-Cookie``
names at once, so the banner does not report them). A site with more than
``KNOWN_LIMIT`` names, or a site beyond ``MAX_SITES``, gets no attribute,
and the banner then reports nothing there.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from gateway.store.discovery import MAX_NAME
from gateway.trackers.cookies import SET_COOKIE, set_cookie_name

# A cookie name as RFC 6265 allows it (an HTTP token), of sane length.
MAX_COOKIE_NAME = min(MAX_NAME, 128)
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1," + str(MAX_COOKIE_NAME) + "}")
KNOWN_LIMIT = 300  # names per site told to the banner
MAX_SITES = 1000
ATTRIBUTE = b"data-cookies"


def is_cookie_name(name: object) -> bool:
    return isinstance(name, str) and COOKIE_NAME.fullmatch(name) is not None


def set_cookie_names(headers: Iterable[tuple[bytes, bytes]]) -> set[str]:
    """The distinct, well-formed cookie names a response sets."""
    names = set()
    for name, value in headers:
        if name.lower() == SET_COOKIE:
            cookie = set_cookie_name(value)
            if is_cookie_name(cookie):
                names.add(cookie)
    return names


class KnownCookies:
    """The cookie names discovery knows per site, and the banner attribute that lists them.

    ``excluded`` (the gateway's consent cookie) is never listed nor reported:
    the banner leaves it out by itself."""

    def __init__(self, excluded: Iterable[str] = ()) -> None:
        self.excluded = frozenset(excluded)
        self.names: dict[str, set[str]] = {}
        self._attributes: dict[str, bytes] = {}

    def knows_site(self, site: str) -> bool:
        return site in self.names

    def add_site(self, site: str) -> bool:
        """Start listing ``site`` (a site pages were served for); false when there is no room for it."""
        if site in self.names:
            return True
        if len(self.names) >= MAX_SITES or not site:
            return False
        self.names[site] = set()
        return True

    def add(self, site: str, names: Iterable[str]) -> None:
        if not self.add_site(site):
            return
        known = self.names[site]
        before = len(known)
        known.update(name for name in names if name not in self.excluded)
        if len(known) != before:
            self._attributes.pop(site, None)

    def unknown(self, site: str, names: Iterable[str]) -> set[str]:
        known = self.names.get(site, set())
        return {name for name in names if name not in known and name not in self.excluded}

    def attribute(self, site: str) -> bytes:
        """`` data-cookies="..."`` for the banner's script tag on a page of ``site``; empty: report nothing."""
        attribute = self._attributes.get(site)
        if attribute is None:
            attribute = self._attributes[site] = self._make_attribute(site)
        return attribute

    def _make_attribute(self, site: str) -> bytes:
        if not self.add_site(site) or len(self.names[site]) > KNOWN_LIMIT:
            return b""
        listed = html.escape(" ".join(sorted(self.names[site])), quote=True)
        return b" " + ATTRIBUTE + b'="' + listed.encode("ascii") + b'"'
