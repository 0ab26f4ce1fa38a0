"""The banner's runtime guard under default-deny, in a real browser (Debian's Chromium through Playwright).

Pages are served by a small Starlette app behind ``ConsentMiddleware`` on a
loopback port, under the host name ``www.leerplein.test`` (Chromium maps it to
127.0.0.1), so that "the same site" means something: ``media.leerplein.test``
is the site's own, ``k3.thirdparty.test`` is a third party. Every other host
name goes to the local HTTPS stub (``tests/stubs.py``), which records each
request; nothing leaves the machine.

The markup of these pages is written so the gateway's rewriter has nothing to
change: what a test holds is added by page code after the banner runs (DOM
calls, ``document.write``, markup as text), or is written directly in the
held form the gateway emits, which only the banner acts on. So these tests
pin down the banner, whatever the server-side rewriter does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import SECRET, ThreadedServer, chromium, rows
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from stubs import TrackerStub

from gateway import ConsentMiddleware, Settings

pytestmark = pytest.mark.browser

SITE = "www.leerplein.test"
# Host names mapped to the test's own servers (everything else goes to the stub).
OWN_HOSTS = (SITE, "school.ucoz.ru", "www.school.co.nz")
CHROMIUM_SERVICES = {
    "accounts.google.com",
    "update.googleapis.com",
    "clients2.google.com",
    "clientservices.googleapis.com",
    "optimizationguide-pa.googleapis.com",
    "content-autofill.googleapis.com",
    "safebrowsingohttpgateway.googleapis.com",
    "redirector.gvt1.com",
}
ALLOWED = ("cdn.partner.test", "*.partner-cdn.test")

BLANK = """<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Les</title></head>
<body><h1>Les</h1><p>Tekst.</p></body></html>"""

# Tags written as strings, as many real snippets do; no catalogued signature appears in the
# scripts (the host names are cut in two), so the rewriter leaves them as they are.
WRITE_PAGE = """<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Schrijven</title>
<script>
  var hj = 'https://static.hot' + 'jar.com/c/hotjar-written.js';
  document.write('<scr' + 'ipt src="' + hj + '"></scr' + 'ipt>');
</script>
<script>
  document.write('<scr');
  document.write('ipt async src="https://k-split.third' + 'party.test/split.js"></scr' + 'ipt>');
</script>
<script>
  document.write('<script src="https://k-end.third' + 'party.test/end.js" type="text/javascript">');
  document.write('</scr' + 'ipt>');
</script>
<script>
  document.writeln('<p id="kept" data-x=\\'1\\'  class=plain>kept &amp; unchanged</p>');
  document.write('<img id="written-img" alt="" srcset="https://k-img.third' + 'party.test/w.gif 1x, /local.gif 2x">');
</script>
</head><body><h1>Les</h1></body></html>"""

BODY_HIDDEN = """<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Verborgen</title>
<style>body{visibility:hidden!important;opacity:0!important}</style></head>
<body><h1>Les</h1><p>Tekst.</p></body></html>"""

BASE_ELSEWHERE = """<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Base</title>
<base href="https://other.example/"></head><body><h1>Les</h1><p>Tekst.</p></body></html>"""

PAGES = {"/": BLANK, "/write": WRITE_PAGE, "/hidden": BODY_HIDDEN, "/base": BASE_ELSEWHERE}


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stub() -> Iterator[TrackerStub]:
    with TrackerStub() as server:
        yield server


@pytest.fixture(scope="module")
def browser(stub: TrackerStub) -> Iterator[object]:
    # The first matching rule wins: the site's own names reach the test server (their port
    # is in the URL), every other name reaches the stub.
    own = ", ".join(f"MAP {host} 127.0.0.1" for host in OWN_HOSTS)
    rules = f"{own}, MAP * 127.0.0.1:{stub.port}, EXCLUDE 127.0.0.1, EXCLUDE localhost"
    with chromium(rules) as browser:
        yield browser


@pytest.fixture
def new_page(browser, stub: TrackerStub) -> Iterator[Callable[..., object]]:
    """Fresh pages in fresh contexts (the stub's certificate accepted), closed after the test."""
    contexts = []
    stub.clear()

    def open_page(**options):
        context = browser.new_context(ignore_https_errors=True, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        return page

    yield open_page
    for context in contexts:
        context.close()


@dataclass
class Site:
    server: ThreadedServer
    db_path: Path
    host: str = SITE

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.port}"


@contextmanager_fixture := None  # noqa: E305 (placeholder removed below)
