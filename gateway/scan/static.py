"""Static mode: pages fetched over HTTP and read by the page path's own rewriter; no script runs.

Only the site's host is contacted (pages and robots.txt): redirects are
followed by hand, one hop at a time, so one that leaves the host, loops or
goes on too long ends the visit with a reason. The HTML is judged by
``gateway.pages.rewrite`` exactly as a page passing the gateway, with the
sightings collected and the output thrown away; links come from ``<a href>``
and ``<area href>`` (after ``<base href>``).
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from gateway.discovery.cookies import set_cookie_names
from gateway.http.lazy import lazy_module
from gateway.pages.rewrite import RewritePolicy, Rewriter
from gateway.scan.page import MAX_PAGE_BYTES, MAX_REDIRECTS, USER_AGENT, Visit, page_address, same_host
from gateway.trackers.thirdparty import ThirdParties

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_module("aiohttp")

HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Links(HTMLParser):
    """The pages an HTML document links to, resolved against its URL and its first ``<base href>``."""

    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = url
        self.based = False
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = next((value for name, value in attrs if name == "href"), None)
        if href is None:
            return
        if tag == "base" and not self.based:
            self.based, self.base = True, urljoin(self.base, href.strip())
        elif tag in ("a", "area"):
            address = page_address(urljoin(self.base, href.strip()))
            if address is not None:
                self.found.append(address)


def links_of(html: str, url: str) -> list[str]:
    parser = Links(url)
    parser.feed(html)
    parser.close()
    return list(dict.fromkeys(parser.found))


def third_parties_of(body: bytes, url: str, third_parties: ThirdParties) -> set:
    """The page's third-party hosts as the gateway's page path sees them (``gateway.pages.sightings``)."""
    host = urlsplit(url).hostname or ""
    policy = RewritePolicy(third_parties, frozenset(), host, page_url=url, sightings=set())
    rewriter = Rewriter(policy)
    rewriter.feed(body)
    rewriter.finish()
    return set(policy.third_parties_seen())


class StaticFetcher:
    """Visits pages of one host over HTTP (aiohttp), never following a redirect elsewhere."""

    mode = "static"

    def __init__(self, start: str, third_parties: ThirdParties, timeout: float) -> None:
        self.start = start
        self.third_parties = third_parties
        self.timeout = timeout
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"User-Agent": USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        await self.session.close()

    async def fetch(self, url: str) -> tuple[int, bytes]:
        """One plain GET (robots.txt): status and body; status 0 when nothing came back."""
        try:
            async with self.session.get(url, allow_redirects=False) as response:
                return response.status, await response.content.read(MAX_PAGE_BYTES)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return 0, b""

    async def visit(self, url: str) -> Visit:
        visit = Visit(url)
        try:
            await self._visit(visit)
        except TimeoutError:
            visit.skipped = f"timed out after {self.timeout:g} s"
        except (aiohttp.ClientError, OSError) as error:
            visit.skipped = f"cannot be fetched ({type(error).__name__})"
        return visit

    async def _visit(self, visit: Visit) -> None:
        chain, url = [visit.url], visit.url
        while True:
            async with self.session.get(url, allow_redirects=False) as response:
                visit.status = response.status
                visit.cookies |= set_cookie_names(response.raw_headers)
                if response.status in REDIRECTS and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    if not same_host(url, self.start):
                        visit.skipped = f"redirects off-site to {urlsplit(url).netloc}"
                    elif url in chain:
                        visit.skipped = "redirect loop"
                    elif len(chain) > MAX_REDIRECTS:
                        visit.skipped = f"more than {MAX_REDIRECTS} redirects"
                    chain.append(url)
                    if visit.skipped:
                        return
                    continue
                await self._read(visit, response)
                return

    async def _read(self, visit: Visit, response: aiohttp.ClientResponse) -> None:
        if response.status >= 400:
            visit.skipped = f"HTTP {response.status}"
            return
        if response.content_type not in HTML_TYPES:
            visit.skipped = f"not HTML ({response.content_type})"
            return
        if (response.content_length or 0) > MAX_PAGE_BYTES:
            visit.skipped = f"larger than {MAX_PAGE_BYTES // (1024 * 1024)} MB"
            return
        body = await response.content.read(MAX_PAGE_BYTES + 1)
        if len(body) > MAX_PAGE_BYTES:
            visit.skipped = f"larger than {MAX_PAGE_BYTES // (1024 * 1024)} MB"
            return
        url = str(response.url)
        visit.seen = third_parties_of(body, url, self.third_parties)
        visit.links = links_of(decode(body, response.charset), url)


def decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", "replace")
