"""The crawl: breadth-first over one site's pages, a line per page, the findings into the store.

Start URLs are grouped by host; each host is one site and one crawl. A link
is followed only to the same host (and port) as the start; robots.txt is
asked before every page; at most ``pages`` pages are fetched. A page that
cannot be read is skipped with its reason and the crawl goes on. Each
sighting counts once per page read, so ``pages`` in the table means the
same as for live discovery; the run is recorded as a ``ScanRun``.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter, deque
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO, TypeVar
from urllib.parse import urlsplit

from gateway.app import load_catalogue
from gateway.discovery.tally import site_name
from gateway.scan.browser import CHROMIUM, ChromiumFetcher, playwright_available
from gateway.scan.page import Visit, page_address, same_host
from gateway.scan.robots import Robots
from gateway.scan.static import StaticFetcher
from gateway.settings import Settings
from gateway.store import ConsentStore, open_store
from gateway.store.discovery import COOKIE, ScanRun, Sighting
from gateway.trackers.catalogue import Catalogue
from gateway.trackers.thirdparty import ThirdParties

T = TypeVar("T")
VISIT_GRACE = 5.0  # seconds beyond the page timeouts before a visit counts as hung
CLOSE_GRACE = 5.0


class Fetcher(Protocol):
    mode: str

    async def visit(self, url: str) -> Visit: ...

    async def close(self) -> None: ...


@dataclass
class ScanOptions:
    """What ``consent-gateway scan`` was asked to do."""

    urls: list[str]
    pages: int = 50
    timeout: float = 15.0
    site: str | None = None  # record under this site name instead of each start URL's host
    static: bool = False  # static HTML even when Chromium is there
    chromium: Path | None = None  # the browser to run; /usr/bin/chromium when not given
    chromium_args: tuple[str, ...] = ()


@dataclass
class SiteScan:
    """One site's crawl as it goes: the frontier, what was read and what was found."""

    site: str
    starts: list[str]
    limit: int
    queue: deque[str] = field(default_factory=deque)
    queued: set[str] = field(default_factory=set)
    fetched: int = 0
    read: int = 0
    skipped: int = 0
    counts: Counter[Sighting] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.follow(self.starts)

    def follow(self, links: Iterable[str]) -> None:
        for link in links:
            if link not in self.queued and any(same_host(link, start) for start in self.starts):
                self.queued.add(link)
                self.queue.append(link)


def group_by_host(urls: Iterable[str]) -> dict[str, list[str]] | str:
    """Start URLs by host; the first URL that is no http(s) URL, as an error text."""
    groups: dict[str, list[str]] = {}
    for url in urls:
        address = page_address(url)
        if address is None:
            return f"not an http:// or https:// URL: {url!r}"
        groups.setdefault(urlsplit(address).netloc.lower(), []).append(address)
    return groups


async def scan(settings: Settings, options: ScanOptions, out: TextIO | None = None) -> int:
    """Crawl every site of ``options.urls`` and record what was found; the command's exit status.

    Progress goes to ``out`` (standard output when not given)."""
    out = out if out is not None else sys.stdout
    groups = group_by_host(options.urls)
    if isinstance(groups, str):
        print(f"consent-gateway: {groups}", file=sys.stderr)
        return 2
    catalogue = load_catalogue(settings)
    store = open_store(settings.database_url)
    await store.open()
    try:
        for starts in groups.values():
            site = site_name(options.site or urlsplit(starts[0]).hostname or "")
            await scan_site(SiteScan(site, starts, options.pages), settings, catalogue, store, options, out)
    finally:
        await store.close()
    return 0


async def scan_site(
    crawl: SiteScan, settings: Settings, catalogue: Catalogue, store: ConsentStore, options: ScanOptions, out: TextIO
) -> None:
    third_parties = ThirdParties(
        catalogue,
        strict=settings.blocking == "strict",
        allowed_hosts=settings.allowed_hosts,
        site_hosts=(*settings.site_hosts, crawl.site),
    )
    fetcher, why = await open_fetcher(crawl.starts[0], third_parties, options)
    print(f"Scanning {crawl.site} from {', '.join(crawl.starts)}: {why}", file=out, flush=True)
    try:
        reading = read_robots(crawl.starts[0], fetcher, third_parties, options.timeout)
        robots = await within(reading, 2 * options.timeout)
        if robots is None:
            robots = Robots.unreachable(f"no answer in {2 * options.timeout:g} s")
        print(robots.note, file=out, flush=True)
        await walk(crawl, fetcher, robots, catalogue, out, options.timeout)
    finally:
        await within(fetcher.close(), options.timeout + CLOSE_GRACE)
    finished = datetime.now(UTC)
    if crawl.counts:
        await store.add_sightings(crawl.counts, finished, "scan")
    await store.record_scan(ScanRun(crawl.site, finished, crawl.read, fetcher.mode))
    summarise(crawl, fetcher.mode, out)


async def read_robots(start: str, fetcher: Fetcher, third_parties: ThirdParties, timeout: float) -> Robots:
    """robots.txt, fetched over plain HTTP in either mode (as crawlers do, not by the browser)."""
    if isinstance(fetcher, StaticFetcher):
        return await Robots.read(start, fetcher.fetch)
    plain = StaticFetcher(start, third_parties, timeout)
    try:
        return await Robots.read(start, plain.fetch)
    finally:
        await plain.close()


async def within(work: Awaitable[T], seconds: float) -> T | None:
    """``work``'s result, or ``None`` when it takes longer than ``seconds``: then it is left running, not
    awaited (a browser call that hangs may not end when cancelled either), so the scan goes on."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.add_done_callback(lambda finished: finished.cancelled() or finished.exception())
        task.cancel()
        return None
    return task.result()


async def walk(
    crawl: SiteScan, fetcher: Fetcher, robots: Robots, catalogue: Catalogue, out: TextIO, timeout: float
) -> None:
    """Breadth-first: every page of one depth before the next, until the queue or the page limit runs out."""
    while crawl.queue and crawl.fetched < crawl.limit:
        url = crawl.queue.popleft()
        if not robots.allows(url):
            print(f"        skipped {url}: disallowed by robots.txt", file=out, flush=True)
            continue
        crawl.fetched += 1
        deadline = 3 * timeout + VISIT_GRACE  # the head, the load and reading the page, each bounded by timeout
        visit = await within(fetcher.visit(url), deadline) or Visit(url, skipped=f"no answer in {deadline:g} s")
        position = f"[{crawl.fetched:>3}/{crawl.limit}]"
        if visit.skipped:
            crawl.skipped += 1
            print(f"{position} skipped {url}: {visit.skipped}", file=out, flush=True)
            continue
        crawl.read += 1
        count(crawl, visit, catalogue)
        print(
            f"{position} {visit.status} {url}: {len({s[1] for s in visit.seen})} third-party hosts, "
            f"{len(visit.cookies)} cookies",
            file=out,
            flush=True,
        )
        crawl.follow(visit.links)


def count(crawl: SiteScan, visit: Visit, catalogue: Catalogue) -> None:
    """One page read: each of its sightings once."""
    for kind, host, service in visit.seen:
        crawl.counts[Sighting(crawl.site, kind, host, service)] += 1
    for name in visit.cookies:
        found = catalogue.service_of_cookie(name)
        crawl.counts[Sighting(crawl.site, COOKIE, name, found.id if found is not None else None)] += 1


async def open_fetcher(start: str, third_parties: ThirdParties, options: ScanOptions) -> tuple[Fetcher, str]:
    """Chromium when it can run here, else static HTML; and the line that says which, and why."""
    executable = options.chromium or CHROMIUM
    if options.static:
        why = "--static asked for"
    elif not playwright_available():
        why = "Playwright is not installed (pip install 'consent-gateway[scan]')"
    elif not executable.exists():
        why = f"no Chromium at {executable} (--chromium PATH)"
    else:
        browser = ChromiumFetcher(start, third_parties, options.timeout, executable, options.chromium_args)
        try:
            await browser.open()
        except Exception as error:  # a browser that does not start: the scan goes on without it
            await browser.close()
            why = f"Chromium did not start ({str(error).strip().splitlines()[0][:120]})"
        else:
            return browser, f"mode chromium ({executable}): scripts run, requests to other sites are noted and aborted"
    return StaticFetcher(start, third_parties, options.timeout), f"mode static HTML only ({why}): no script runs"


def summarise(crawl: SiteScan, mode: str, out: TextIO) -> None:
    hosts = {s.name: s.service for s in crawl.counts if s.kind != COOKIE}
    cookies = {s.name: s.service for s in crawl.counts if s.kind == COOKIE}
    unknown = sorted(host for host, service in hosts.items() if service is None)
    print(
        f"Done ({mode}): {crawl.read} pages read, {crawl.skipped} skipped; "
        f"{len(hosts)} third-party hosts ({len(hosts) - len(unknown)} catalogued, {len(unknown)} unknown), "
        f"{len(cookies)} cookies ({sum(1 for s in cookies.values() if s is None)} unknown)",
        file=out,
        flush=True,
    )
    if unknown:
        print("Unknown hosts: " + ", ".join(unknown), file=out, flush=True)
