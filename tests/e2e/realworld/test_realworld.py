"""Real pages written by other people, opened through ``consent-gateway serve`` in Chromium.

Each page of ``tests/e2e/realworld/pages`` (see ``sources.json``) is served by a
local upstream under its own site's name (Chromium maps the site's host to
127.0.0.1), so its own absolute URLs stay first-party as they were. It is
opened four ways, in Debian's Chromium, with every request to another site
recorded and aborted (requests to its own site other than the page answered
404 at once, and no name resolved outside the machine):

- straight from the upstream, without the gateway: the third-party hosts the
  page contacts directly (its markup and its own scripts; third-party code
  never runs, since it is aborted), its JavaScript errors, its visible text;
- through the gateway before any choice: nothing may go to a host outside the
  allowed set (the catalogue's essential infrastructure), the visible text is
  the same, no new JavaScript error;
- after "reject all", on the page and after a reload: nothing either;
- after "accept all", without a reload: once the banner says revival is over
  (its ``consent:revived`` event) and the page has settled, every host of the
  first visit is contacted again, and no new JavaScript error. Font CDNs are
  the exception: the gateway serves them first-party (``gateway.fonts``), so
  the browser never contacts them; the gateway's own fetches go to a closed
  local port (``font_mirrors``), never outside the machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from support.backends import closed_port
from support.helpers import CHROMIUM, CHROMIUM_ARGS, SECRET, ThreadedServer, free_port

from gateway.net.urls import site_of
from gateway.trackers.catalogue import default_catalogue, font_cdns

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
SOURCES = {entry["file"]: entry for entry in json.loads((HERE / "sources.json").read_text())}
LOOPBACK = "127.0.0.1"
PARALLEL = 6
SETTLE = 0.4  # seconds without a new request before a page counts as settled
SETTLE_MAX = 2.0
PAGE_PATH = "/__page/"
# Served first-party by the gateway: the browser contacts them only without it.
FONT_HOSTS = {host for cdn in font_cdns() for host in (*cdn.stylesheet_hosts, *cdn.file_hosts)}


# Sites on Chromium's HSTS preload list: Chromium would only fetch them over https, so
# their pages are served under a name of their own (their absolute URLs then count as
# another site's, which only makes the test stricter).
HSTS_PRELOADED = {
    "bbc.co.uk",
    "en.wikipedia.org",
    "fbo.gov",
    "github.com",
    "gizmodo.com",
    "msn.com",
    "tulsaworld.com",
    "twitter.com",
}


def site_host(name: str) -> str:
    """The host a page is served under: the site it was saved from."""
    site = SOURCES[name]["site"].split(" ")[0].split("/")[0].lower()
    return site.replace(".", "-") + ".test" if site in HSTS_PRELOADED else site


def resolver_rules(port: int) -> str:
    """Every site of the corpus to 127.0.0.1:``port``; every other name to nowhere."""
    sites = sorted({site_host(name) for name in SOURCES})
    mapped = ", ".join(f"MAP {site} {LOOPBACK}:{port}, MAP *.{site} {LOOPBACK}:{port}" for site in sites)
    return f"{mapped}, MAP * ~NOTFOUND, EXCLUDE {LOOPBACK}"


def upstream_app() -> Starlette:
    async def page(request):
        path = PAGES / request.path_params["name"]
        if path.parent != PAGES or not path.is_file():
            return Response(status_code=404)
        return Response(path.read_bytes(), media_type="text/html")

    async def missing(request):
        return Response(status_code=404)

    return Starlette(routes=[Route(PAGE_PATH + "{name}", page), Route("/{rest:path}", missing)])


@dataclass
class Visit:
    hosts_requested: list[tuple[str, str]] = field(default_factory=list)  # (host, url), in order
    errors: list[str] = field(default_factory=list)
    text: str = ""
    stayed: bool = True  # the page did not navigate itself away while loading

    @property
    def hosts(self) -> set[str]:
        return {host for host, _ in self.hosts_requested}


def held_back(requests: list[tuple[str, str]]) -> list[str]:
    """Requests to hosts outside the allowed set: anything but the site and essential infrastructure."""
    catalogue = default_catalogue()
    leaks = []
    for host, url in requests:
        if catalogue.match_essential(host, urlsplit(url).path or "/") is None:
            leaks.append(url)
    return leaks


class Browser:
    """One Chromium, pages opened with every third-party request recorded and aborted."""

    def __init__(self, browser) -> None:
        self.browser = browser

    async def context(self):
        return await self.browser.new_context(viewport={"width": 1280, "height": 900})

    async def open(self, context, url: str) -> tuple[object, Visit]:
        page = await context.new_page()
        visit = Visit()
        last = [time.monotonic()]
        site = site_of(urlsplit(url).hostname or "")

        async def route(route):
            request_url = route.request.url
            parts = urlsplit(request_url)
            host = parts.hostname or ""
            last[0] = time.monotonic()
            if site_of(host) != site:
                visit.hosts_requested.append((host, request_url))
                await route.abort()
            elif parts.scheme == "http" and parts.path.startswith((PAGE_PATH, "/_consent")):
                await route.continue_()
            else:
                await route.fulfill(status=404, body="")  # the site's own files are not in the corpus

        page.on("pageerror", lambda error: visit.errors.append(str(error).split("\n")[0]))
        await page.route("**/*", route)
        page.settle_mark = last  # type: ignore[attr-defined]
        try:
            await page.goto(url, wait_until="load", timeout=20_000)
        except Exception as error:  # noqa: BLE001 - a page that never fires load still counts
            visit.errors.append(f"navigation: {error}")
        await settle(page)
        visit.text = await visible_text(page)
        visit.stayed = page.url == url
        return page, visit


async def settle(page, quiet: float = SETTLE, most: float = SETTLE_MAX) -> None:
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        if time.monotonic() - page.settle_mark[0] >= quiet:
            return


async def visible_text(page) -> str:
    try:
        text = await page.evaluate("() => document.body ? document.body.innerText : document.documentElement.innerText")
    except Exception:  # noqa: BLE001 - a page navigating away has no text to compare
        return ""
    return " ".join(text.split())


async def click_choice(page, index: int) -> None:
    """The banner's first layer: 0 accept all, 1 reject all."""
    button = page.locator("#cg-banner .cg-actions button").nth(index)
    try:
        await button.click(timeout=5_000)
        # The choice is recorded by the gateway first; revival starts once its answer is in.
        await page.wait_for_function(
            "() => window.consentGateway && window.consentGateway.get() !== null", timeout=10_000
        )
    except Exception as error:  # noqa: BLE001 - reported by the tests as a missing banner
        raise AssertionError(f"banner button {index} not clickable: {str(error).splitlines()[0]}") from None
    page.settle_mark[0] = time.monotonic()


REVIVAL_WATCH = "document.addEventListener('consent:revived', () => { window.__revivalDone = true; })"


@dataclass
class Outcome:
    direct: Visit
    before: Visit = field(default_factory=Visit)
    after_reject: list[str] = field(default_factory=list)
    after_reject_reload: Visit = field(default_factory=Visit)
    after_accept_hosts: set[str] = field(default_factory=set)
    accept_errors: list[str] = field(default_factory=list)
    problem: str = ""  # what went wrong on the way, if anything


async def examine(direct_browser: Browser, browser: Browser, name: str) -> Outcome:
    url = f"http://{site_host(name)}{PAGE_PATH}{name}"
    direct_context = await direct_browser.context()
    _, direct = await direct_browser.open(direct_context, url)
    outcome = Outcome(direct)
    try:
        await through_gateway(browser, url, outcome)
    except AssertionError as error:
        outcome.problem = str(error)
    finally:
        # The page without the gateway stays open as long as the others: errors its timers
        # raise later (a setTimeout of 3 s, say) are its own, not the gateway's.
        await direct_context.close()
    return outcome


async def through_gateway(browser: Browser, url: str, outcome: Outcome) -> None:
    reject_context = await browser.context()
    page, before = await browser.open(reject_context, url)
    seen = len(before.hosts_requested)
    outcome.before = before
    await click_choice(page, 1)
    await settle(page)
    outcome.after_reject = [url for _, url in before.hosts_requested[seen:]]
    _, outcome.after_reject_reload = await browser.open(reject_context, url)
    await reject_context.close()

    accept_context = await browser.context()
    page, accepting = await browser.open(accept_context, url)
    await page.evaluate(REVIVAL_WATCH)
    await click_choice(page, 0)
    # Revived scripts load one after another, each after the one before has loaded or failed; the
    # banner says when the last has. What they started then (load handlers, timers) settles after.
    try:
        await page.wait_for_function("window.__revivalDone === true", timeout=30_000)
    except Exception as error:  # noqa: BLE001 - the page may have navigated itself away
        accepting.errors.append(f"revival: {str(error).splitlines()[0]}")
    # Quiet counts from the end of revival: what a revived script starts on a timer (a late onload
    # handler, an async script) must get its chance on a loaded machine too.
    page.settle_mark[0] = time.monotonic()
    await settle(page, quiet=0.5, most=3.0)
    await accept_context.close()
    outcome.after_accept_hosts = accepting.hosts
    outcome.accept_errors = accepting.errors


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    """Every page examined once, several at a time."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    from playwright.async_api import async_playwright

    directory = tmp_path_factory.mktemp("realworld")
    with ThreadedServer(upstream_app()) as upstream:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update({"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_DATABASE_URL": f"sqlite:///{directory / 'c.db'}"})
        down = f"http://127.0.0.1:{closed_port()}"  # the gateway's font fetches stay on the machine
        env["GATEWAY_FONT_MIRRORS"] = ",".join(f"{host}={down}" for host in sorted(FONT_HOSTS))
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--upstream", upstream.url, "--port", str(port)],
            env=env,
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        gateway = f"http://{LOOPBACK}:{port}"
        try:
            wait_for(f"{gateway}/_consent/healthz", process)

            async def run_all() -> dict[str, Outcome]:
                async with async_playwright() as p:
                    launched = []
                    for target in (upstream.port, port):  # without the gateway, then through it
                        launched.append(
                            await p.chromium.launch(
                                executable_path=str(CHROMIUM),
                                headless=True,
                                args=[*CHROMIUM_ARGS, f"--host-resolver-rules={resolver_rules(target)}"],
                            )
                        )
                    direct, through = Browser(launched[0]), Browser(launched[1])
                    limit = asyncio.Semaphore(PARALLEL)

                    async def one(name: str) -> tuple[str, Outcome]:
                        async with limit:
                            return name, await examine(direct, through, name)

                    only = os.environ.get("REALWORLD_ONLY")  # a comma-separated subset, for a person debugging
                    names = [n for n in sorted(SOURCES) if not only or any(part in n for part in only.split(","))]
                    results = await asyncio.gather(*(one(name) for name in names))
                    for chromium in launched:
                        await chromium.close()
                    return dict(results)

            found = asyncio.run(run_all())
            if os.environ.get("REALWORLD_REPORT"):  # for a person looking into a failure
                report = {name: dataclasses.asdict(outcome) for name, outcome in found.items()}
                Path(os.environ["REALWORLD_REPORT"]).write_text(json.dumps(report, indent=1, default=sorted))
            return found
        finally:
            process.kill()
            process.wait(10)


def wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("consent-gateway serve exited")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("consent-gateway serve did not start")


def test_the_corpus_is_what_sources_json_says() -> None:
    import hashlib

    files = sorted(path.name for path in PAGES.glob("*.html"))
    assert files == sorted(SOURCES) and len(files) >= 40
    for name, entry in SOURCES.items():
        assert hashlib.sha256((PAGES / name).read_bytes()).hexdigest() == entry["sha256"], name
        assert entry["repository"].startswith("https://") and entry["licence"] and entry["path"], name


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_nothing_leaves_before_a_choice(outcomes: dict[str, Outcome], name: str) -> None:
    if name not in outcomes:
        pytest.skip("not in REALWORLD_ONLY")
    outcome = outcomes[name]
    assert outcome.direct.stayed, "the page navigates itself away: not a page to test with"
    assert outcome.direct.hosts, "the page should contact third parties when opened without the gateway"
    assert held_back(outcome.before.hosts_requested) == []


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_nothing_leaves_after_reject_all(outcomes: dict[str, Outcome], name: str) -> None:
    if name not in outcomes:
        pytest.skip("not in REALWORLD_ONLY")
    outcome = outcomes[name]
    assert not outcome.problem
    assert held_back([(urlsplit(url).hostname or "", url) for url in outcome.after_reject]) == []
    assert held_back(outcome.after_reject_reload.hosts_requested) == []


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_accept_all_brings_back_the_page_without_a_reload(outcomes: dict[str, Outcome], name: str) -> None:
    if name not in outcomes:
        pytest.skip("not in REALWORLD_ONLY")
    outcome = outcomes[name]
    assert not outcome.problem
    assert sorted(outcome.direct.hosts - outcome.after_accept_hosts - FONT_HOSTS) == []


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_visible_text_and_scripts_are_unharmed(outcomes: dict[str, Outcome], name: str) -> None:
    if name not in outcomes:
        pytest.skip("not in REALWORLD_ONLY")
    outcome = outcomes[name]
    assert outcome.before.text == outcome.direct.text
    known = set(outcome.direct.errors)
    assert [e for e in outcome.before.errors if e not in known] == []
    assert [e for e in outcome.accept_errors if e not in known] == []
