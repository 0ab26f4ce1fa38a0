"""CPU time per consent request inside the gateway, without HTTP server or load generator.

Drives ``gateway.demo:demo_app`` (SQLite store in a temporary file) directly
through ASGI, 50 requests at a time like wrk's 50 connections, and reports
process CPU time per request (event loop plus the store's writer thread) for
``GET /_consent`` without a cookie (the baseline), ``POST /_consent``
(reject_all, no cookie: a new record each time) and ``GET /_consent`` carrying a
signed consent cookie. Best of ``--rounds`` rounds of ``--requests`` each: CPU
time is less sensitive to other load than rates, the minimum less still.

To compare two checkouts, run it from each with its own ``PYTHONPATH``:

    PYTHONPATH=$PWD python benchmarks/consent_cpu.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

SECRET_KEY = "benchmark-secret-0123456789abcdef"
USER_AGENT = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHOICE = b'{"action":"reject_all","categories":[]}'
CONCURRENCY = 50


def scope(method: str, cookie: bytes | None) -> dict:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", USER_AGENT)]
    if method == "POST":
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(CHOICE)).encode())]
    if cookie:
        headers.append((b"cookie", cookie))
    return {
        "type": "http",
        "method": method,
        "path": "/_consent",
        "raw_path": b"/_consent",
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "http_version": "1.1",
        "root_path": "",
        "asgi": {"version": "3.0"},
    }


async def call(app, method: str, cookie: bytes | None) -> None:
    body_sent = False

    async def receive() -> dict:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": CHOICE if method == "POST" else b"", "more_body": False}
        await asyncio.sleep(3600)  # a client that stays connected
        return {"type": "http.disconnect"}

    statuses = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope(method, cookie), receive, send)
    if statuses != [200]:
        raise SystemExit(f"{method} /_consent answered {statuses}")


async def cpu_per_request(app, method: str, cookie: bytes | None, requests: int, rounds: int) -> float:
    async def batch(count: int) -> None:
        for _ in range(0, count, CONCURRENCY):
            await asyncio.gather(*(call(app, method, cookie) for _ in range(CONCURRENCY)))

    await batch(500)  # warm caches
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        await batch(requests)
        best = min(best, time.process_time() - started)
    return best / requests


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        os.environ["GATEWAY_DATABASE_URL"] = f"sqlite:///{Path(workdir) / 'cpu.db'}"
        os.environ["GATEWAY_SECRET_KEY"] = SECRET_KEY
        from gateway.consent.state import Consent, new_consent_id
        from gateway.demo import demo_app

        app = demo_app()
        await app.components.open_store()
        try:
            revision = app.settings.revision
            given = Consent(new_consent_id(), frozenset({"functional"}), revision, time.time(), "reject_all")
            cookie = f"{app.settings.cookie_name}={app.components.codec.dumps(given)}".encode()
            cases = [
                ("GET /_consent, no cookie (baseline)", "GET", None),
                ("POST /_consent reject_all", "POST", None),
                ("GET /_consent with a consent cookie", "GET", cookie),
            ]
            print(f"CPU per request, best of {args.rounds} x {args.requests} (load average {os.getloadavg()[0]:.2f})")
            baseline = None
            for label, method, with_cookie in cases:
                seconds = await cpu_per_request(app, method, with_cookie, args.requests, args.rounds)
                baseline = baseline or seconds
                print(f"  {label:<40} | {seconds * 1e6:8.1f} us | {seconds / baseline:5.2f}x")
        finally:
            await app.components.close_store()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is shown (default 5)")
    asyncio.run(main(parser.parse_args()))
