"""aiohttp is imported when a feature that needs it is first used, never for pages and form posts."""

from __future__ import annotations

import subprocess
import sys

from support import REPOSITORY
from support.helpers import SECRET

PAGES_AND_POSTS = """
import sys
from starlette.testclient import TestClient
import gateway.cli  # everything the command imports
from gateway.proxy.app import proxy_app

app = proxy_app(sys.argv[1])
with TestClient(app) as client:
    statuses = [client.get("/").status_code, client.post("/les", data={"a": "1"}).status_code,
                client.head("/").status_code, client.post("/_consent", json={"action": "reject_all"}).status_code]
print(statuses, "aiohttp" in sys.modules)
"""

FIRST_READ = """
import sys
from gateway.http.lazy import lazy_module

colorsys = lazy_module("colorsys")
before = "colorsys" in sys.modules
hue = colorsys.rgb_to_hsv(1.0, 0.0, 0.0)[0]
print(before, "colorsys" in sys.modules, hue, repr(colorsys))
"""


def run(code: str, *args: str, **environment: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **environment},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_lazy_module_is_imported_on_its_first_read() -> None:
    assert run(FIRST_READ) == "False True 0.0 <module 'colorsys', imported>"


def test_pages_and_posts_through_the_proxy_never_load_aiohttp(tmp_path) -> None:
    from starlette.responses import PlainTextResponse
    from support.helpers import ThreadedServer

    async def site(scope, receive, send) -> None:
        if scope["type"] == "http":
            await PlainTextResponse("les")(scope, receive, send)

    with ThreadedServer(site) as upstream:
        output = run(
            PAGES_AND_POSTS,
            upstream.url,
            GATEWAY_SECRET_KEY=SECRET,
            GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'consent.db'}",
        )
    assert output == "[200, 200, 200, 200] False"
