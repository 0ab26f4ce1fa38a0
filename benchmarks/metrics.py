"""What the metrics cost per request: the gateway with its counters and histogram, and without.

    python benchmarks/metrics.py [--requests N] [--rounds N]

In-process ASGI calls (no sockets) through ``ConsentMiddleware`` around a
tiny site: a course page with a tracker (rewritten, one element blocked) and
``GET /_consent`` (the API). The baseline is the same gateway with the
latency histogram and the page counters replaced by no-ops, so the
difference is the metrics' own work. Rounds alternate between the two and
the best CPU time of each is kept (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway import ConsentMiddleware, Settings  # noqa: E402

PAGE = (
    b"<!doctype html><html><head><title>Les 1</title>"
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-BENCH00000"></script>'
    b"</head><body>" + b"<p>Formules en grafieken in een werkblad.</p>" * 200 + b"</body></html>"
)


async def site(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(PAGE)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": PAGE})


def scope(path: str) -> dict:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"leerplein.test"), (b"accept", b"text/html")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "scheme": "http",
        "http_version": "1.1",
    }


async def call(app, path: str) -> None:
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    await app(scope(path), receive, send)


async def timed(app, path: str, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        await call(app, path)
    return (time.process_time() - started) / requests * 1e6


class Discarded(list):
    """Stands in for the middleware's pending page latencies: takes them and keeps nothing."""

    def append(self, seconds: float) -> None:
        pass


def without_metrics(app: ConsentMiddleware) -> ConsentMiddleware:
    app.observe_api = lambda seconds: None
    app.page_seconds = Discarded()
    app.page_rules.page_metrics.count = lambda blocked: None
    return app


async def main(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(secret_key="bench-secret-0123456789", database_url=f"sqlite:///{directory}/c.db")
        with_metrics = ConsentMiddleware(site, settings=settings)
        baseline = without_metrics(ConsentMiddleware(site, settings=settings))
        for app in (with_metrics, baseline):
            await app.components.open_store()
        best: dict[tuple[str, str], float] = {}
        for _ in range(rounds):
            for path in ("/les", "/_consent"):
                for name, app in (("no metrics", baseline), ("metrics", with_metrics)):
                    cost = await timed(app, path, requests)
                    best[(path, name)] = min(best.get((path, name), cost), cost)
        for app in (with_metrics, baseline):
            await app.components.close_store()
    print(f"{'request':<12} {'no metrics µs':>14} {'metrics µs':>11} {'extra µs':>9} {'ratio':>6}")
    for path in ("/les", "/_consent"):
        off, on = best[(path, "no metrics")], best[(path, "metrics")]
        print(f"{path:<12} {off:>14.1f} {on:>11.1f} {on - off:>9.1f} {on / off:>6.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.rounds))
