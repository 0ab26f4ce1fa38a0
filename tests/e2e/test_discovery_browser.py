"""Cookies a page sets in ``document.cookie`` reach the discovery table, reported by the banner in Chromium.

A small site behind ``ConsentMiddleware`` on a loopback port, under its own
host name (Chromium maps it to 127.0.0.1 and resolves nothing else). Its page
sets two cookies from a script, besides the one its response sets; the
banner, told which names the server knows, reports the others when the page
is left, names only. The next page lists them as known, so they are not
reported again, and the table holds them with source "banner".
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support.helpers import SECRET, ThreadedServer, chromium

from gateway import ConsentMiddleware, Settings
from gateway.store import open_store

pytestmark = pytest.mark.browser

SITE = "www.leerplein.test"
PAGE = """<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Les</title>
<script>
  document.cookie = "course_theme=dark; path=/";
  document.cookie = "_hjSessionUser_42=eyJpZCI6IjEifQ; path=/";
  if (location.pathname === "/les-2") document.cookie = "quiz_step=3; path=/";
</script></head><body><h1>Les</h1><a id="next" href="/les-{next}">Volgende</a></body></html>"""


def site() -> Starlette:
    async def page(request: Request) -> HTMLResponse:
        number = int(request.path_params.get("number", 1))
        response = HTMLResponse(PAGE.replace("{next}", str(number + 1)))
        response.set_cookie("sessionid", "abc")  # a Set-Cookie name, already known from the response
        return response

    return Starlette(routes=[Route("/", page), Route("/les-{number:int}", page)])


def table(database_url: str) -> set[tuple[str, str, str | None, str, int]]:
    async def read():
        store = open_store(database_url)
        await store.open()
        try:
            return await store.discovered(SITE)
        finally:
            await store.close()

    return {(row.kind, row.name, row.service, row.source, row.pages) for row in asyncio.run(read())}


class Recording:
    """The gateway, with the bodies of the banner's reports kept as they arrived."""

    def __init__(self, app) -> None:
        self.app = app
        self.reports: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/discovery/cookies"):
            await self.app(scope, receive, send)
            return

        async def keep(message=None):
            message = await receive()
            self.reports.append(message.get("body", b""))
            return message

        await self.app(scope, keep, send)


def test_the_banner_reports_cookie_names_it_finds(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'consent.db'}"
    middleware = ConsentMiddleware(site(), settings=Settings(secret_key=SECRET, database_url=database_url))
    gateway = Recording(middleware)
    known = middleware.page_rules.known_cookies
    server = ThreadedServer(gateway)
    with server, chromium(f"MAP {SITE} 127.0.0.1:{server.port}, MAP * ~NOTFOUND") as browser:
        page = browser.new_page()
        page.goto(f"http://{SITE}:{server.port}/")
        page.wait_for_timeout(3500)  # 3 s after load the banner reports what it found
        assert wait_until(page, lambda: not known.unknown(SITE, ["course_theme", "_hjSessionUser_42"]))
        page.click("#next")
        page.wait_for_load_state("load")
        listed = page.eval_on_selector("script[data-cookies]", "s => s.getAttribute('data-cookies')")
        page.click("#next")  # left at once: the new name goes out as the page is left
        page.wait_for_load_state("load")
        assert wait_until(page, lambda: not known.unknown(SITE, ["quiz_step"]))
        page.goto("about:blank")
    # Names, never values; the response's own cookie is known from its Set-Cookie.
    reports = [json.loads(body) for body in gateway.reports]
    assert reports[:2] == [{"names": ["course_theme", "_hjSessionUser_42"]}, {"names": ["quiz_step"]}]
    # The third page was answered before the second one's report came in: it may report the name again,
    # which the server, knowing it by then, does not count twice.
    assert reports[2:] in ([], [{"names": ["quiz_step"]}])
    assert set(listed.split()) == {"course_theme", "_hjSessionUser_42", "sessionid"}
    assert table(database_url) == {
        ("cookie", "sessionid", None, "set-cookie", 3),
        ("cookie", "course_theme", None, "banner", 1),
        ("cookie", "_hjSessionUser_42", "hotjar", "banner", 1),
        ("cookie", "quiz_step", None, "banner", 1),
    }


def wait_until(page, condition, seconds: float = 5.0) -> bool:
    for _ in range(int(seconds * 10)):
        if condition():
            return True
        page.wait_for_timeout(100)
    return False
