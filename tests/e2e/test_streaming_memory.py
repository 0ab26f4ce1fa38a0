"""A page that never ends: the rewriter streams it in constant memory (issue 16, point 3).

A 100 MB HTML response, sent in 64 KB chunks with no Content-Length (as a
Moodle report or a long forum export comes), goes through ConsentMiddleware in
a fresh Python process; the process's peak resident memory (VmHWM) may grow by
at most 20 MiB over what it held before the first byte. The body is the kind
of page learners see: paragraphs, images, links, and every so often a tracker
snippet the rewriter has to hold, so the work is real, not a pass-through.
Both identity and gzip (decoded and encoded again on the fly) are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 20 * 1024 * 1024
TOTAL = 100 * 1000 * 1000

PROGRAM = r"""
import asyncio, gzip, json, sys, tempfile, zlib

from gateway import ConsentMiddleware, Settings

TOTAL, ENCODING, MAX_PAGE = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
BLOCK = (
    b'<section class="lesson"><h2>Les</h2><p>' + b"leerling opdracht formule grafiek " * 40 + b"</p>"
    b'<img src="/pluginfile.php/1/afbeelding.png" alt="" width="640" height="360">'
    b'<a href="/course/view.php?id=7">Verder</a></section>\n'
)
TRACKER = (
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123"></script>'
    b'<img src="https://www.facebook.com/tr?id=1&ev=PageView" width="1" height="1">'
    b'<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"></iframe>\n'
)
CHUNK = BLOCK * 40 + TRACKER  # about 64 KB


def vm(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024


SENT = {"trackers": 0}


async def site(scope, receive, send):
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")]
    compressor = None
    if ENCODING == "gzip":
        headers.append((b"content-encoding", b"gzip"))
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    sent = 0
    first = b"<!doctype html><html><head><title>Verslag</title></head><body>\n"
    while sent < TOTAL:
        piece = first + CHUNK
        first = b""
        sent += len(piece)
        SENT["trackers"] += 1
        body = compressor.compress(piece) if compressor else piece
        await send({"type": "http.response.body", "body": body, "more_body": True})
    tail = b"</body></html>"
    body = compressor.compress(tail) + compressor.flush() if compressor else tail
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def main():
    directory = tempfile.mkdtemp()
    settings = Settings(
        secret_key="streaming-test-secret-0123456789",
        database_url=f"sqlite:///{directory}/c.db",
        **({"max_page_size": MAX_PAGE} if MAX_PAGE else {}),
    )
    app = ConsentMiddleware(site, settings=settings)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/verslag", "raw_path": b"/verslag", "query_string": b"",
        "headers": [(b"host", b"leerplein.test"), (b"accept", b"text/html")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
    }
    out = {"bytes": 0, "held": 0, "chunks": 0}
    decoder = None

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        nonlocal decoder
        if message["type"] == "http.response.start":
            decoder = zlib.decompressobj(31) if ENCODING == "gzip" else None
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
            return
        body = message.get("body", b"")
        if decoder is not None:
            body = decoder.decompress(body)
        out["bytes"] += len(body)
        out["held"] += body.count(b'type="text/plain"')
        out["chunks"] += 1

    await app(dict(scope), receive, send)  # a first page: catalogue, templates and store warm
    out.update(bytes=0, held=0, chunks=0)
    SENT["trackers"] = 0
    before = vm("VmRSS")
    await app(dict(scope), receive, send)
    out["growth"] = vm("VmHWM") - before
    out["trackers"] = SENT["trackers"]
    print(json.dumps(out))


asyncio.run(main())
"""


def streamed(encoding: str, max_page_size: int = 0) -> dict:
    run = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(TOTAL), encoding, str(max_page_size)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_100_mb_page_is_rewritten_to_its_end_in_constant_memory(encoding: str) -> None:
    """With ``max_page_size`` above the page's size, every tracker to the last is held."""
    result = streamed(encoding, max_page_size=128 * 1024 * 1024)
    assert result["status"] == 200 and "content-length" not in result["headers"]
    assert result["bytes"] >= TOTAL  # all of it arrived, with the banner and placeholders added
    assert result["held"] == result["trackers"] > 1000  # the scripts kept being held to the end
    assert result["chunks"] > 1000  # streamed, not gathered
    assert result["growth"] < LIMIT, f"peak memory grew by {result['growth'] / 2**20:.1f} MiB"


@pytest.mark.slow
def test_past_the_default_limit_an_uncompressed_page_goes_on_unchanged_in_constant_memory() -> None:
    """``max_page_size`` (32 MiB by default) ends the rewriting, not the page (issue 17, point 5)."""
    result = streamed("identity")
    assert result["status"] == 200 and result["bytes"] >= TOTAL
    assert 0 < result["held"] < result["trackers"] / 2
    assert result["growth"] < LIMIT, f"peak memory grew by {result['growth'] / 2**20:.1f} MiB"
