"""``POST <prefix>/discovery/cookies``: the banner reports cookie names it found in ``document.cookie``.

The banner sends only names the server did not list for the site
(``gateway.discovery.cookies``), once per page load, as JSON
``{"names": ["_ga", ...]}``: names, never values. The request must come
from the site itself (or an allowed origin), the body is small and every
name has cookie-name syntax; anything else is refused with a 4xx, never
stored. The service of each name is the catalogue's business, worked out
when the tally is flushed; the site is the page's host, and only a site the
gateway served pages for is counted.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.consent.choice import APIError, check_media_type, check_same_site, read_body
from gateway.discovery.cookies import KnownCookies, is_cookie_name
from gateway.discovery.tally import Tally, site_name
from gateway.net.jsonbody import JSONBodyError, parse_json
from gateway.net.origin import normalise_origin
from gateway.net.request import request_head
from gateway.settings import Settings

MAX_REPORT_BODY = 4 * 1024
MAX_NAMES = 50  # names in one report


class CookieReport:
    """The endpoint the banner reports new cookie names to; they go into ``tally`` with source "banner"."""

    def __init__(self, settings: Settings, tally: Tally, known: KnownCookies) -> None:
        self.settings = settings
        self.tally = tally
        self.known = known

    async def report(self, request: Request) -> Response:
        check_same_site(request, self.settings)
        check_media_type(request, "application/json")
        names = read_names(await read_body(request, MAX_REPORT_BODY))
        site = self.site(request)
        if self.known.knows_site(site):
            fresh = self.known.unknown(site, names)
            if fresh:
                self.tally.count_cookies(site, fresh, "banner")
                self.known.add(site, fresh)  # this worker's next pages list them: not reported again
        return Response(status_code=204)

    def site(self, request: Request) -> str:
        """The page's site: the allowed origin the banner runs on, else the host asked for."""
        head = request_head(request.scope, self.settings.trusted_proxies)
        origin = normalise_origin(head.origin) if head.origin else None
        if origin is not None and origin in self.settings.allowed_origins:
            return site_name(origin.split("://", 1)[1])
        return site_name(head.host)


def read_names(body: bytes) -> set[str]:
    """The cookie names of a report; ``APIError`` 400 for anything but ``{"names": [name, ...]}``."""
    try:
        report = parse_json(body, max_depth=2)
    except JSONBodyError as error:
        raise APIError(400, "invalid_json", str(error)) from None
    names = report.get("names") if isinstance(report, dict) else None
    if not isinstance(names, list) or not 0 < len(names) <= MAX_NAMES:
        raise APIError(400, "invalid_names", f"names must be a list of 1 to {MAX_NAMES} cookie names")
    if not all(is_cookie_name(name) for name in names):
        raise APIError(400, "invalid_names", "each name must be a cookie name (letters, digits, !#$%&'*+-.^_`|~)")
    return set(names)
