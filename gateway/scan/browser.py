"""Chromium mode: pages loaded in a real browser (Playwright), so script-inserted trackers and cookies are seen.

Every request the page makes is looked at before it leaves: one to the
scanned site (its host, or a host of the same site) goes on; one to any
other site is noted as a sighting, by its resource type and the service the
catalogue knows for it, and then aborted. So the scan sees what the page
and the site's own scripts ask for, and never contacts a tracker (what a
third-party script would load in turn stays unseen). Redirects are not
offered for interception, so Chromium also resolves no host name but the
site's (``--host-resolver-rules``): a redirect to another site is noted and
fails before anything is sent. A page whose main frame is sent to another
site is skipped. Each page starts without cookies, like a first visit;
after the load event it gets ``SETTLE`` seconds for late scripts, then its
links and the cookies the browser holds for it (set by the site's responses
and scripts) are read.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.net.urls import resolve, site_of
from gateway.pages.sightings import third_party_seen
from gateway.scan.page import MAX_PAGE_BYTES, USER_AGENT, Visit, page_address, same_host
from gateway.trackers.thirdparty import ThirdParties

CHROMIUM = Path("/usr/bin/chromium")
SETTLE = 0.5  # seconds after the load event for scripts that insert trackers late
ARGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)
# Playwright's resource types as discovery kinds, and as the rewriter's fetch kinds (which catalogue patterns apply).
KINDS = {
    "document": ("iframe", "frame"),
    "script": ("script", "script"),
    "stylesheet": ("stylesheet", "other"),
    "image": ("image", "image"),
    "media": ("media", "other"),
    "font": ("font", "other"),
    "texttrack": ("media", "other"),
    "xhr": ("connection", "other"),
    "fetch": ("connection", "other"),
    "eventsource": ("connection", "other"),
    "websocket": ("connection", "other"),
    "ping": ("beacon", "other"),
    "manifest": ("link", "other"),
}
TOO_LARGE = f"larger than {MAX_PAGE_BYTES // (1024 * 1024)} MB"
LINKS = "elements => elements.map(element => element.href).filter(href => typeof href === 'string')"


def playwright_available() -> bool:
    try:
        import playwright.async_api  # noqa: F401 - an optional dependency: only whether it is there
    except ImportError:
        return False
    return True


class ChromiumFetcher:
    """Visits pages of one site in one browser context of Debian's (or the given) Chromium."""

    mode = "chromium"

    def __init__(
        self, start: str, third_parties: ThirdParties, timeout: float, executable: Path, extra_args: tuple[str, ...]
    ) -> None:
        self.start = start
        self.host = (urlsplit(start).hostname or "").lower()
        self.third_parties = third_parties
        self.timeout = timeout
        self.executable = executable
        self.args = (*ARGS, *(("--no-sandbox",) if os.geteuid() == 0 else ()), *without_rules(extra_args))
        self.args += ("--no-proxy-server", f"--host-resolver-rules={resolver_rules(self.host, extra_args)}")
        self.playwright: Any = None
        self.browser: Any = None
        self.context: Any = None

    async def open(self) -> None:
        from playwright.async_api import async_playwright  # optional: only Chromium mode needs it

        self.playwright = await async_playwright().start()
        self.browser = await self.playwright.chromium.launch(
            executable_path=str(self.executable), headless=True, args=list(self.args)
        )
        probe = await self.browser.new_page()
        agent = await probe.evaluate("navigator.userAgent")
        await probe.close()
        self.context = await self.browser.new_context(user_agent=f"{agent} {USER_AGENT}", service_workers="block")

    async def close(self) -> None:
        for closing in (self.context, self.browser):
            if closing is not None:
                with contextlib.suppress(Exception):
                    await closing.close()
        if self.playwright is not None:
            await self.playwright.stop()

    async def visit(self, url: str) -> Visit:
        from playwright.async_api import Error, TimeoutError  # optional: only Chromium mode needs it

        visit = Visit(url)
        await self.context.clear_cookies()
        page = await self.context.new_page()
        try:
            await page.route("**/*", lambda route: self._route(route, page, visit))
            page.on("request", lambda request: self._redirected(request, page, visit))
            try:
                # The head first: a page that is no HTML page, or too large, is not loaded at all.
                response = await page.goto(url, timeout=self.timeout * 1000, wait_until="commit")
                if not visit.skipped and not self._refused(visit, response):
                    await page.wait_for_load_state("load", timeout=self.timeout * 1000)
                    if len(await response.body()) > MAX_PAGE_BYTES:
                        visit.skipped = TOO_LARGE
            except TimeoutError:
                visit.skipped = visit.skipped or f"timed out after {self.timeout:g} s"
            except Error as error:
                visit.skipped = visit.skipped or failure(str(error))
            if not visit.skipped:
                await self._read(visit, page)
            return visit
        finally:
            await page.close()

    def _refused(self, visit: Visit, response: Any) -> bool:
        """Skip a page by its head: an error, not HTML, or announced too large."""
        if response is None:
            visit.skipped = "no response"
            return True
        visit.status = response.status
        length = response.headers.get("content-length", "")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status >= 400:
            visit.skipped = f"HTTP {response.status}"
        elif content_type not in ("text/html", "application/xhtml+xml"):
            visit.skipped = f"not HTML ({content_type or 'no type'})"
        elif length.isdigit() and int(length) > MAX_PAGE_BYTES:
            visit.skipped = TOO_LARGE
        return bool(visit.skipped)

    async def _read(self, visit: Visit, page: Any) -> None:
        await page.wait_for_timeout(SETTLE * 1000)
        hrefs = await page.eval_on_selector_all("a[href], area[href]", LINKS)
        visit.links = list(dict.fromkeys(a for a in map(page_address, hrefs) if a is not None))
        visit.cookies = {cookie["name"] for cookie in await self.context.cookies(page.url)}

    async def _route(self, route: Any, page: Any, visit: Visit) -> None:
        request = route.request
        target = resolve(request.url, request.url)
        if target is None or same_host(request.url, self.start) or self._same_site(target.host):
            await route.continue_()
            return
        if request.is_navigation_request() and request.frame == page.main_frame:
            visit.skipped = f"redirects off-site to {target.host}"
        else:
            kind, fetch = KINDS.get(request.resource_type, ("link", "other"))
            seen = third_party_seen(self.third_parties, target, fetch, kind, self.host)
            if seen is not None:
                visit.seen.add(seen)
        await route.abort()

    def _redirected(self, request: Any, page: Any, visit: Visit) -> None:
        """A redirect hop, which no route sees: noted here; the resolver rules keep it from leaving."""
        if request.redirected_from is None:
            return
        target = resolve(request.url, request.url)
        if target is None or same_host(request.url, self.start) or self._same_site(target.host):
            return
        if request.is_navigation_request() and request.frame == page.main_frame:
            visit.skipped = f"redirects off-site to {target.host}"
            return
        kind, fetch = KINDS.get(request.resource_type, ("link", "other"))
        seen = third_party_seen(self.third_parties, target, fetch, kind, self.host)
        if seen is not None:
            visit.seen.add(seen)

    def _same_site(self, host: str) -> bool:
        return self.third_parties.is_same_site(host, self.host)


HOST_RESOLVER_RULES = "--host-resolver-rules="


def without_rules(args: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(arg for arg in args if not arg.startswith(HOST_RESOLVER_RULES))


def resolver_rules(host: str, args: tuple[str, ...]) -> str:
    """Only the site's host and its domain resolve; rules given with ``--chromium-arg`` come first."""
    given = [arg.removeprefix(HOST_RESOLVER_RULES) for arg in args if arg.startswith(HOST_RESOLVER_RULES)]
    site = site_of(host)
    own = [host] if site == host else [host, site, f"*.{site}"]
    return ", ".join([*given, "MAP * ~NOTFOUND", *(f"EXCLUDE {name}" for name in own)])


def failure(message: str) -> str:
    """Why Chromium could not load a page, in a few words."""
    if "ERR_TOO_MANY_REDIRECTS" in message:
        return "redirect loop"
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return f"cannot be loaded ({first[:120]})"
