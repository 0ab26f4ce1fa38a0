"""What counting page statistics costs: the hook per page, and the page and JSON paths with statistics off and on.

    python benchmarks/counting.py [--calls N] [--rounds R] [--requests N]

The issue's goals: counting adds at most 2 us per page, and nothing
measurable to the JSON path. Three tables, everything in-process (no
sockets, nothing leaves the process):

1. The hook's recording call, ``PageCounter.count``, against a baseline
   loop that does the same work around it (a fresh ``RequestHead`` per
   request, as the middleware makes one) and calls a function that returns
   at once. ``--calls`` requests per round from a pool of 2,000 visitors
   (addresses, browsers, languages, referrers, consent states) over 300
   paths; the median of ``--rounds`` rounds, in us per call (and the best
   round, the one least disturbed on a shared machine). Rows: a page
   view, a crawler's page, and a response the hook turns away (a 404).
2. The page path (page cache on, a 20 KB course page) through
   ``ConsentMiddleware``, statistics off and on, request by request in turn.
3. The JSON path the same way: the hook is never reached (the relay lets
   non-HTML responses pass before anything of the pages is made).
"""

from __future__ import annotations

import argparse
import asyncio
import random
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
from gateway.consent.state import Consent  # noqa: E402
from gateway.net.request import RequestHead  # noqa: E402
from gateway.statistics.counter import PageCounter  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
HOST = b"www.leerplein.nl"
AGENTS = [
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    b"Version/17.5 Mobile/15E148 Safari/604.1",
    b"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/126.0 Mobile Safari/537.36",
]
BOT = b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
LANGUAGES = [b"nl-NL,nl;q=0.9,en;q=0.8", b"en-GB,en;q=0.9", b"de-DE", b"es-ES"]
REFERRERS = [None, None, b"https://www.google.com/", b"https://www.leerplein.nl/cursus", b"https://duckduckgo.com/"]
STATES = [
    Consent(None, frozenset({"functional"}), 1),
    Consent("a", frozenset({"functional"}), 1),
    Consent("b", frozenset({"functional", "analytics", "marketing", "other"}), 1),
]


def settings(directory: Path, on: bool = True) -> Settings:
    return Settings(
        secret_key=SECRET,
        database_url=f"sqlite:///{directory / 'consent.db'}",
        statistics=on,
        statistics_query_parameters=("id",),
        statistics_groups=({"name": "Breuken", "paths": ["/cursus/breuken/*"]},),
    )


def scopes(count: int, user_agent: bytes | None = None) -> list[dict]:
    """Requests of 2,000 visitors over 300 paths, in a random order."""
    rng = random.Random(19)
    made = []
    for _ in range(count):
        visitor = rng.randrange(2000)
        headers = [
            (b"host", HOST),
            (b"accept", b"text/html"),
            (b"user-agent", user_agent or AGENTS[visitor % len(AGENTS)]),
            (b"accept-language", LANGUAGES[visitor % len(LANGUAGES)]),
            (b"sec-fetch-dest", b"document"),
        ]
        referrer = REFERRERS[visitor % len(REFERRERS)]
        if referrer is not None:
            headers.append((b"referer", referrer))
        path = f"/cursus/breuken/les-{rng.randrange(300)}"
        made.append(
            {
                "type": "http",
                "method": "GET",
                "path": path,
                "query_string": b"id=3&sesskey=x" if visitor % 3 == 0 else b"",
                "headers": headers,
                "client": (f"198.{visitor // 250}.{visitor % 250}.{visitor % 7}", 50000),
                "consent": STATES[visitor % len(STATES)],
            }
        )
    return made


def noop(scope: dict, head: RequestHead, status: int) -> None:
    return None


def round_of(hook, requests: list[dict], status: int) -> float:
    """Microseconds per request of one pass over ``requests``."""
    started = time.perf_counter()
    for scope in requests:
        hook(scope, RequestHead(scope, ()), status)
    return (time.perf_counter() - started) / len(requests) * 1e6


def hook_costs(directory: Path, calls: int, rounds: int) -> None:
    counter = PageCounter(settings(directory))
    cases = {
        "page view": (scopes(calls), 200),
        "crawler's page": (scopes(calls, BOT), 200),
        "404 page (turned away)": (scopes(calls), 404),
    }
    print(f"\n== the hook: us per call, median of {rounds} rounds of {calls} calls")
    print(f"{'case':<26}{'baseline':>10}{'counting':>10}{'cost':>8}{'best base':>11}{'best count':>12}{'cost':>8}")
    for name, (requests, status) in cases.items():
        round_of(counter.count, requests, status)  # warm: the memoised readings, the seen set
        baseline, counting = [], []
        for index in range(rounds):
            for hook in (noop, counter.count) if index % 2 else (counter.count, noop):
                (baseline if hook is noop else counting).append(round_of(hook, requests, status))
                counter.tally.drain()
        base, cost = statistics.median(baseline), statistics.median(counting)
        low, low_cost = min(baseline), min(counting)
        print(
            f"{name:<26}{base:>10.2f}{cost:>10.2f}{cost - base:>+8.2f}"
            f"{low:>11.2f}{low_cost:>12.2f}{low_cost - low:>+8.2f}"
        )


def html_site(body: bytes):
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
            (b"etag", b'"v1"'),
        ],
    }

    async def app(scope, receive, send) -> None:
        await send(dict(start, headers=list(start["headers"])))
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app


def json_site():
    body = b'{"les": 1, "voortgang": 0.5}'
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
    }

    async def app(scope, receive, send) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app


async def receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: dict) -> None:
    pass


async def path_costs(directory: Path, requests: int) -> None:
    print(f"\n== through ConsentMiddleware: us per request, statistics off / on, median of {requests}")
    print(f"{'path':<26}{'off':>10}{'on':>10}{'cost':>8}")
    pool = scopes(1000)
    for name, app in (("page (cached 20 KB)", html_site(course_page(20_000))), ("JSON", json_site())):
        setups = {}
        for on in (False, True):
            (directory / f"{name[:4]}-{on}").mkdir(exist_ok=True)
            setups[on] = ConsentMiddleware(app, settings=settings(directory / f"{name[:4]}-{on}", on))
        times: dict[bool, list[float]] = {False: [], True: []}
        for index in range(requests + 50):
            for on in (False, True) if index % 2 else (True, False):
                scope = dict(pool[index % len(pool)], headers=list(pool[index % len(pool)]["headers"]))
                scope.pop("consent")
                started = time.perf_counter()
                await setups[on](scope, receive, send)
                if index >= 50:  # the first 50 warm the page cache and the memos
                    times[on].append(time.perf_counter() - started)
        off, on_ = (statistics.median(times[flag]) * 1e6 for flag in (False, True))
        print(f"{name:<26}{off:>10.2f}{on_:>10.2f}{on_ - off:>+8.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000, help="hook calls per round (default 20000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case (default 7)")
    parser.add_argument("--requests", type=int, default=5000, help="requests per setup and path (default 5000)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        hook_costs(Path(temporary), arguments.calls, arguments.rounds)
        await path_costs(Path(temporary), arguments.requests)
    print("\nGoals: the hook adds at most 2 us per page; the JSON path shows no cost (it never reaches the hook).")


if __name__ == "__main__":
    asyncio.run(main())
