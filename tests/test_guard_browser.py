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


def serve(db_path: Path, **options) -> ThreadedServer:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGES[request.url.path])

    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", **options)
    return ThreadedServer(ConsentMiddleware(Starlette(routes=[Route(path, page) for path in PAGES]), settings=settings))


STRICT = {"allowed_hosts": ALLOWED, "public_hosts": ("static.leerplein-media.test",)}


@pytest.fixture(scope="module")
def strict(tmp_path_factory) -> Iterator[Site]:
    """The default: every third party waits, unless essential, allowed or the site's own."""
    db_path = tmp_path_factory.mktemp("strict") / "consent.db"
    with serve(db_path, **STRICT) as server:
        yield Site(server, db_path)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Iterator[Site]:
    """The old behaviour: only catalogued hosts wait."""
    db_path = tmp_path_factory.mktemp("catalogue") / "consent.db"
    with serve(db_path, blocking="catalogue") as server:
        yield Site(server, db_path)


@pytest.fixture
def fresh(tmp_path) -> Iterator[Site]:
    """A strict site of its own, for tests that read the consent records back."""
    db_path = tmp_path / "consent.db"
    with serve(db_path, **STRICT) as server:
        yield Site(server, db_path)


# ---- helpers -------------------------------------------------------------------------------


def third(name: str) -> str:
    """A host no catalogue knows, one per check, so the stub's record says exactly what loaded."""
    return f"k-{name}.thirdparty.test"


def requested(stub: TrackerStub) -> set[str]:
    return {hit.host for hit in stub.hits} - CHROMIUM_SERVICES


def contacted(stub: TrackerStub) -> set[str]:
    return stub.contacted() - CHROMIUM_SERVICES


def banner(page):
    return page.get_by_role("dialog", name="Cookies op deze leeromgeving")


def settings_layer(page):
    return page.get_by_role("dialog", name="Cookie-instellingen")


def open_page(new_page, url: str, **options):
    page = new_page(**options)
    page.goto(url)
    banner(page).wait_for(state="visible")
    return page


def settle(page, stub: TrackerStub, quiet: float = 0.5) -> None:
    """Wait until the page's network is idle and the stub has had nothing new for ``quiet`` seconds."""
    page.wait_for_load_state("networkidle")
    last, since = len(stub.hits), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.05)
        if len(stub.hits) != last:
            last, since = len(stub.hits), time.monotonic()


def never(stub: TrackerStub, hosts: set[str], timeout: float = 1.0) -> None:
    """None of ``hosts`` is contacted within ``timeout`` seconds (returns early, failing, when one is)."""
    stub.wait_for(lambda s: hosts & contacted(s), timeout=timeout)
    assert not hosts & contacted(stub), [(h.host, h.path) for h in stub.hits]


def reached(stub: TrackerStub, hosts: set[str], timeout: float = 5.0) -> None:
    assert stub.wait_for(lambda s: hosts <= requested(s), timeout=timeout), (
        hosts - requested(stub),
        [(h.host, h.path) for h in stub.hits],
    )


def accept_all(page) -> None:
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/_consent")) as answer:
        banner(page).get_by_role("button", name="Alles accepteren", exact=True).click()
    assert answer.value.status == 200


def run(page, code: str, origin: str):
    """Page code that makes something load from ``origin`` (``U``); ``el`` is what it made: its
    data-consent, or the outcome of a request API ('held' or 'sent')."""
    return page.evaluate(
        "async (U) => { const SVG = 'http://www.w3.org/2000/svg', XLINK = 'http://www.w3.org/1999/xlink'; let el;\n"
        + code
        + "\nreturn el instanceof Element ? 'element:' + el.getAttribute('data-consent') : el; }",
        origin,
    )


# ---- 1. every way page code loads something, under strict and catalogue blocking -------------------


@dataclass(frozen=True)
class Kind:
    name: str
    code: str
    fetches: bool = True  # Chromium fetches it when allowed (some, like a cross-origin <use>, never do)
    revives: bool = True  # an element in the document, which the banner brings back with consent


def svg_child(tag: str, setter: str) -> str:
    return (
        "const s = document.createElementNS(SVG, 'svg'); el = document.createElementNS(SVG, '" + tag + "');"
        + setter
        + " s.appendChild(el); document.body.appendChild(s);"
    )


KINDS = [
    Kind("script", "el = document.createElement('script'); el.src = U + '/k.js'; document.head.appendChild(el);"),
    Kind("iframe", "el = document.createElement('iframe'); el.src = U + '/embed/k.html'; document.body.appendChild(el);"),
    Kind("frame", "el = document.createElement('frame'); el.src = U + '/k.html'; document.body.appendChild(el);", fetches=False),
    Kind("image", "el = new Image(); el.src = U + '/k.gif'; document.body.appendChild(el);"),
    Kind("srcset", "el = document.createElement('img'); el.srcset = U + '/k.gif 1x'; document.body.appendChild(el);"),
    Kind(
        "picture",
        "const p = document.createElement('picture'); el = document.createElement('source');"
        " el.srcset = U + '/k.gif'; p.appendChild(el); p.appendChild(document.createElement('img'));"
        " document.body.appendChild(p);",
    ),
    Kind(
        "media-source",
        "const v = document.createElement('video'); el = document.createElement('source'); el.src = U + '/k.mp4';"
        " v.appendChild(el); document.body.appendChild(v);",
    ),
    Kind(
        "stylesheet",
        "el = document.createElement('link'); el.rel = 'stylesheet'; el.href = U + '/k.css'; document.head.appendChild(el);",
    ),
    Kind(
        "imagesrcset",
        "el = document.createElement('link'); el.rel = 'preload'; el.as = 'image'; el.imageSrcset = U + '/k.gif 1x';"
        " document.head.appendChild(el);",
    ),
    Kind("video", "el = document.createElement('video'); el.src = U + '/k.mp4'; document.body.appendChild(el);"),
    Kind("poster", "el = document.createElement('video'); el.poster = U + '/k.gif'; document.body.appendChild(el);"),
    Kind("audio", "el = document.createElement('audio'); el.src = U + '/k.mp3'; document.body.appendChild(el);"),
    Kind("new-audio", "el = new Audio(U + '/k.mp3'); window.__audio = el;", revives=False),
    Kind(
        "track",
        "const v = document.createElement('video'); v.crossOrigin = 'anonymous'; el = document.createElement('track');"
        " el.default = true; el.src = U + '/k.vtt'; v.appendChild(el); document.body.appendChild(v);",
    ),
    Kind("object", "el = document.createElement('object'); el.data = U + '/k.html'; document.body.appendChild(el);"),
    Kind("embed", "el = document.createElement('embed'); el.src = U + '/k.html'; document.body.appendChild(el);"),
    Kind(
        "input-image",
        "el = document.createElement('input'); el.type = 'image'; el.src = U + '/k.gif'; document.body.appendChild(el);",
    ),
    Kind("svg-image", svg_child("image", "el.setAttribute('href', U + '/k.gif');")),
    Kind("svg-xlink", svg_child("image", "el.setAttributeNS(XLINK, 'xlink:href', U + '/k.gif');")),
    Kind("svg-use", svg_child("use", "el.setAttribute('href', U + '/k.svg#a');"), fetches=False),
    Kind(
        "svg-feimage",
        "const s = document.createElementNS(SVG, 'svg'); const f = document.createElementNS(SVG, 'filter');"
        " f.id = 'fi'; el = document.createElementNS(SVG, 'feImage'); el.setAttribute('href', U + '/k.gif');"
        " f.appendChild(el); s.appendChild(f); const r = document.createElementNS(SVG, 'rect');"
        " r.setAttribute('width', '9'); r.setAttribute('height', '9'); r.setAttribute('filter', 'url(#fi)');"
        " s.appendChild(r); document.body.appendChild(s);",
    ),
    Kind("svg-script", svg_child("script", "el.setAttribute('href', U + '/k.js');")),
    Kind(
        "setAttribute",
        "el = document.createElement('img'); el.setAttribute('src', U + '/k.gif'); document.body.appendChild(el);",
    ),
    Kind(
        "setAttributeNode",
        "el = document.createElement('img'); const a = document.createAttribute('src'); a.value = U + '/k.gif';"
        " el.setAttributeNode(a); document.body.appendChild(el);",
    ),
    Kind(
        "attr-value",
        "el = document.createElement('img'); el.setAttribute('src', ''); el.getAttributeNode('src').value = U + '/k.gif';"
        " document.body.appendChild(el);",
    ),
    Kind(
        "innerHTML",
        "const d = document.createElement('div'); d.innerHTML = '<p>x</p><img src=\"' + U + '/k.gif\">';"
        " document.body.appendChild(d); el = d.querySelector('img');",
    ),
    Kind(
        "insertAdjacentHTML",
        "document.body.insertAdjacentHTML('beforeend', '<iframe class=\"k-adj\" src=\"' + U + '/embed/k.html\"></iframe>');"
        " el = document.querySelector('.k-adj');",
    ),
    Kind(
        "outerHTML",
        "const d = document.createElement('div'); document.body.appendChild(d);"
        " d.outerHTML = '<img class=\"k-outer\" src=\"' + U + '/k.gif\">'; el = document.querySelector('.k-outer');",
    ),
    Kind(
        "contextual-fragment",
        "const f = document.createRange().createContextualFragment('<script src=\"' + U + '/k.js\"></scr' + 'ipt>');"
        " el = f.firstChild; document.head.appendChild(f);",
    ),
    Kind(
        "shadow-root",
        "const h = document.createElement('div'); document.body.appendChild(h); const r = h.attachShadow({mode: 'open'});"
        " r.innerHTML = '<img src=\"' + U + '/k.gif\">'; el = r.querySelector('img');",
        revives=False,
    ),
    Kind(
        "style-attribute",
        "el = document.createElement('div');"
        " el.setAttribute('style', 'width:9px;height:9px;background-image:url(' + U + '/k.gif)'); document.body.appendChild(el);",
    ),
    Kind(
        "cssText",
        "el = document.createElement('div'); el.style.cssText = 'width:9px;height:9px;background:url(\"' + U + '/k.gif\")';"
        " document.body.appendChild(el); document.body.offsetWidth;",
    ),
    Kind(
        "setProperty",
        "el = document.createElement('div'); document.body.appendChild(el); el.style.width = '9px'; el.style.height = '9px';"
        " el.style.setProperty('background-image', \"image-set('\" + U + \"/k.gif' 1x)\"); document.body.offsetWidth;",
    ),
    Kind(
        "style-property",
        "el = document.createElement('div'); document.body.appendChild(el); el.style.width = '9px'; el.style.height = '9px';"
        " el.style.backgroundImage = 'url(' + U + '/k.gif)'; await new Promise(r => setTimeout(r, 0));",
    ),
    Kind(
        "fetch",
        "el = await fetch(U + '/k', {mode: 'no-cors'}).then(() => 'sent', () => 'held');",
        revives=False,
    ),
    Kind(
        "fetch-request",
        "el = await fetch(new Request(U + '/k')).then(() => 'sent', () => 'held');",
        revives=False,
    ),
    Kind(
        "xhr",
        "el = await new Promise(done => { const x = new XMLHttpRequest(); x.open('GET', U + '/k');"
        " x.onload = () => done('sent'); x.onerror = () => done('held'); x.send(); });",
        revives=False,
    ),
    Kind("beacon", "el = navigator.sendBeacon(U + '/k', 'x') ? 'sent' : 'held';", revives=False),
    Kind(
        "event-source",
        "try { const e = new EventSource(U + '/k'); setTimeout(() => e.close(), 3000); el = 'sent'; }"
        " catch (x) { el = x.name === 'SecurityError' ? 'held' : String(x); }",
        revives=False,
    ),
    Kind(
        "websocket",
        "try { const w = new WebSocket(U.replace('https:', 'wss:') + '/k'); w.onerror = () => 0; el = 'sent'; }"
        " catch (x) { el = x.name === 'SecurityError' ? 'held' : String(x); }",
        revives=False,
    ),
]


@pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])
def test_unknown_third_party_waits_in_strict_mode_only(new_page, strict, catalogue, stub, kind: Kind) -> None:
    host = third(kind.name)
    origin = f"https://{host}"
    element = not kind.revives and kind.code.lstrip().startswith("el = await") is False and "sent" not in kind.code

    page = open_page(new_page, strict.url + "/")
    settle(page, stub)
    outcome = run(page, kind.code, origin)
    assert outcome in ("element:other", "held"), outcome
    never(stub, {host})
    if kind.revives:
        # What the guard held comes back with consent.
        accept_all(page)
        if kind.fetches:
            reached(stub, {host})
        else:
            page.wait_for_function("() => !document.querySelector('[data-consent]')")
    assert page.errors == []

    stub.clear()
    page = open_page(new_page, catalogue.url + "/")
    outcome = run(page, kind.code, origin)
    assert outcome in ("element:null", "sent"), outcome
    if kind.fetches:
        reached(stub, {host})
    assert page.errors == [] or element
