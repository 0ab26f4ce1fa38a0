"""The banner's runtime guard under default-deny, in a real browser (Debian's Chromium through Playwright).

Pages are served by a small Starlette app behind ``ConsentMiddleware`` on a
loopback port, under the host name ``www.leerplein.test`` (Chromium maps it to
127.0.0.1), so that "the same site" means something: ``media.leerplein.test``
is the site's own, ``k-<check>.thirdparty.test`` is a third party. Every other host
name goes to the local HTTPS stub (``tests/stubs.py``), which records each
request; nothing leaves the machine.

The markup of these pages is written so the gateway's rewriter has nothing to
change: what a test holds is added by page code after the banner runs (DOM
calls, ``document.write``, markup as text), or is written directly in the
held form the gateway emits, which only the banner acts on. So these tests
pin down the banner, whatever the server-side rewriter does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support.browser import banner, contacted, requested, settings_layer, settle
from support.helpers import SECRET, ThreadedServer, rows
from support.stubs import TrackerStub

from gateway import ConsentMiddleware, Settings

pytestmark = pytest.mark.browser

SITE = "www.leerplein.test"
# Host names mapped to the test's own servers (everything else goes to the stub).
OWN_HOSTS = (SITE, "school.ucoz.ru", "www.school.co.nz")
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


# ---- fixtures (stub, browser and new_context: tests/e2e/conftest.py) ----------------------


@pytest.fixture(scope="module")
def resolver_rules(stub: TrackerStub) -> str:
    # The first matching rule wins: the site's own names reach the test server (their port
    # is in the URL), every other name reaches the stub.
    own = ", ".join(f"MAP {host} 127.0.0.1" for host in OWN_HOSTS)
    return f"{own}, MAP * 127.0.0.1:{stub.port}, EXCLUDE 127.0.0.1, EXCLUDE localhost"


@pytest.fixture
def new_page(new_context) -> Callable[..., object]:
    """Fresh pages in fresh contexts (the stub's certificate accepted, the stub cleared), closed after the test;
    ``page.errors`` collects the page's uncaught errors."""

    def open_page(**options):
        page = new_context(**options).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        return page

    return open_page


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
    return f"k-{name}.thirdparty.test".lower()


def open_page(new_page, url: str, **options):
    page = new_page(**options)
    page.goto(url)
    banner(page).wait_for(state="visible")
    return page


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
    data-consent, or the outcome of a request API ('held' or 'sent'). Read after a turn of the event
    loop: a style set through CSSOM is neutralised at once, but a detached element is only known
    (and marked) when it is inserted."""
    return page.evaluate(
        "async (U) => { const SVG = 'http://www.w3.org/2000/svg', XLINK = 'http://www.w3.org/1999/xlink'; let el;\n"
        + code
        + "\nawait new Promise(r => setTimeout(r, 0));"
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
        "const s = document.createElementNS(SVG, 'svg'); el = document.createElementNS(SVG, '"
        + tag
        + "');"
        + setter
        + " s.appendChild(el); document.body.appendChild(s);"
    )


KINDS = [
    Kind("script", "el = document.createElement('script'); el.src = U + '/k.js'; document.head.appendChild(el);"),
    Kind(
        "iframe",
        "el = document.createElement('iframe'); el.src = U + '/embed/k.html'; document.body.appendChild(el);",
    ),
    Kind(
        "frame",  # outside a frameset a <frame> loads nothing
        "el = document.createElement('frame'); el.src = U + '/k.html'; document.body.appendChild(el);",
        fetches=False,
    ),
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
        "el = document.createElement('link'); el.rel = 'stylesheet'; el.href = U + '/k.css';"
        " document.head.appendChild(el);",
    ),
    Kind(
        "imagesrcset",
        "el = document.createElement('link'); el.rel = 'preload'; el.as = 'image'; el.imageSrcset = U + '/k.gif 1x';"
        " document.head.appendChild(el);",
    ),
    Kind("video", "el = document.createElement('video'); el.src = U + '/k.mp4'; document.body.appendChild(el);"),
    Kind("poster", "el = document.createElement('video'); el.poster = U + '/k.gif'; document.body.appendChild(el);"),
    Kind("audio", "el = document.createElement('audio'); el.src = U + '/k.mp3'; document.body.appendChild(el);"),
    Kind("new-audio", "el = new Audio(U + '/k.mp3'); window.__audio = el;"),  # never in the document
    Kind("beacon-image", "el = new Image(); el.src = U + '/k.gif';"),  # a pixel, never in the document
    Kind(
        "track",
        "const v = document.createElement('video'); v.crossOrigin = 'anonymous'; el = document.createElement('track');"
        " el.default = true; el.src = U + '/k.vtt'; v.appendChild(el); document.body.appendChild(v);",
    ),
    Kind("object", "el = document.createElement('object'); el.data = U + '/k.html'; document.body.appendChild(el);"),
    Kind("embed", "el = document.createElement('embed'); el.src = U + '/k.html'; document.body.appendChild(el);"),
    Kind(
        "input-image",
        "el = document.createElement('input'); el.type = 'image'; el.src = U + '/k.gif';"
        " document.body.appendChild(el);",
    ),
    Kind("svg-image", svg_child("image", "el.setAttribute('href', U + '/k.gif');")),
    Kind("svg-xlink", svg_child("image", "el.setAttributeNS(XLINK, 'xlink:href', U + '/k.gif');")),
    # Chromium never fetches a cross-origin <use>; the guard holds it all the same.
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
        "el = document.createElement('img'); el.setAttribute('src', '');"
        " el.getAttributeNode('src').value = U + '/k.gif';"
        " document.body.appendChild(el);",
    ),
    Kind(
        "innerHTML",
        "const d = document.createElement('div'); d.innerHTML = '<p>x</p><img src=\"' + U + '/k.gif\">';"
        " document.body.appendChild(d); el = d.querySelector('img');",
    ),
    Kind(
        "insertAdjacentHTML",
        "document.body.insertAdjacentHTML('beforeend',"
        " '<iframe class=\"k-adj\" src=\"' + U + '/embed/k.html\"></iframe>');"
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
        "const h = document.createElement('div'); document.body.appendChild(h);"
        " const r = h.attachShadow({mode: 'open'});"
        " r.innerHTML = '<img src=\"' + U + '/k.gif\">'; el = r.querySelector('img');",
    ),
    Kind(
        "style-attribute",
        "el = document.createElement('div');"
        " el.setAttribute('style', 'width:9px;height:9px;background-image:url(' + U + '/k.gif)');"
        " document.body.appendChild(el);",
    ),
    Kind(
        "cssText",
        "el = document.createElement('div');"
        " el.style.cssText = 'width:9px;height:9px;background:url(\"' + U + '/k.gif\")';"
        " document.body.appendChild(el); document.body.offsetWidth;",
    ),
    Kind(
        "setProperty",
        "el = document.createElement('div'); document.body.appendChild(el);"
        " el.style.width = '9px'; el.style.height = '9px';"
        " el.style.setProperty('background-image', \"image-set('\" + U + \"/k.gif' 1x)\"); document.body.offsetWidth;",
    ),
    Kind(
        "style-property",
        "el = document.createElement('div'); document.body.appendChild(el);"
        " el.style.width = '9px'; el.style.height = '9px';"
        " el.style.backgroundImage = 'url(' + U + '/k.gif)'; await new Promise(r => setTimeout(r, 0));",
    ),
    Kind(
        # As a real analytics tag does it: an empty frame, a document written into it, and its onload
        # adding the script from the frame's own window (prototypes of its own).
        "frame-window",
        "const f = document.createElement('iframe'); f.style.display = 'none'; document.body.appendChild(f);"
        " const d = f.contentWindow.document; d.open('text/html', 'replace');"
        " d.write('<body onload=\\'var s = document.createElement(\"script\"); s.src = \"' + U + '/k.js\";"
        " document.body.appendChild(s); parent.__framed = s;\\'><\\/body>'); d.close();"
        " await new Promise(r => { const wait = () => window.__framed ? r() : setTimeout(wait, 20); wait(); });"
        " el = 'element:' + window.__framed.getAttribute('data-consent');",
    ),
    Kind(
        "frame-fetch",
        "const f = document.createElement('iframe'); document.body.appendChild(f);"
        " el = await f.contentWindow.fetch(U + '/k', {mode: 'no-cors'}).then(() => 'sent', () => 'held');",
        revives=False,
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
    assert page.errors == []


# ---- 2. what may load under strict blocking ----------------------------------------------------------

ADD_SCRIPTS = """(urls) => urls.map(u => {
  const s = document.createElement('script'); s.src = u; document.head.appendChild(s); return s.type;
})"""

# (page host, URLs that load before any choice, URLs that wait for "other")
SAME_SITE = [
    pytest.param(
        SITE,
        [
            "https://cdnjs.cloudflare.com/ajax/libs/k/1.0/k.js",  # essential infrastructure
            "https://www.google.com/recaptcha/api.js",  # essential: host and path prefix
            "https://js.hcaptcha.com/1/api.js",  # essential: *.hcaptcha.com
            "https://cdn.partner.test/lib.js",  # allowed_hosts: a host
            "https://img.partner-cdn.test/lib.js",  # allowed_hosts: *.partner-cdn.test
            "https://partner-cdn.test/lib.js",
            "https://media.leerplein.test/lib.js",  # a subdomain of the same site
            "https://leerplein.test/lib.js",
            "https://static.leerplein-media.test/lib.js",  # one of the site's public_hosts
        ],
        [
            "https://www.google.com/maps/k.js",  # the essential host, outside the essential path
            "https://partner.test/lib.js",  # allowed is cdn.partner.test only
            "https://leerplein.test.k-evil.test/lib.js",  # the site's name as a prefix only
            "https://cdn.partner.test.k-evil.test/lib.js",
        ],
        id="essential, allowed and same site",
    ),
    pytest.param(
        "school.ucoz.ru",  # shared hosting: another subdomain of ucoz.ru is another site
        ["https://cdn.school.ucoz.ru/lib.js"],
        ["https://other.ucoz.ru/lib.js", "https://ucoz.ru/lib.js"],
        id="shared hosting",
    ),
    pytest.param(
        "www.school.co.nz",  # a generic second level under a country code: school.co.nz is the site
        ["https://media.school.co.nz/lib.js", "https://school.co.nz/lib.js"],
        ["https://other.co.nz/lib.js"],
        id="country second level",
    ),
]


def hosts_of(urls: list[str]) -> set[str]:
    return {url.split("/")[2] for url in urls}


@pytest.mark.parametrize("host,loads,waits", SAME_SITE)
def test_essential_allowed_and_same_site_hosts_load_in_strict_mode(new_page, strict, stub, host, loads, waits) -> None:
    page = open_page(new_page, f"http://{host}:{strict.server.port}/")
    settle(page, stub)
    types = page.evaluate(ADD_SCRIPTS, loads + waits)
    assert types == [""] * len(loads) + ["text/plain"] * len(waits)
    reached(stub, hosts_of(loads))
    never(stub, hosts_of(waits) - hosts_of(loads))
    # The host alone decides, except for essential path prefixes.
    assert {hit.path for hit in stub.hits if hit.host == "www.google.com"} <= {"/recaptcha/api.js"}
    assert page.errors == []


# ---- 3. document.write ----------------------------------------------------------------------------------

# What reaches the browser's own document.write: recorded under the banner's override.
SPY_ON_WRITE = """
  window.__written = [];
  const write = Document.prototype.write, writeln = Document.prototype.writeln;
  Document.prototype.write = function () {
    __written.push([].join.call(arguments, '')); return write.apply(this, arguments);
  };
  Document.prototype.writeln = function () {
    __written.push([].join.call(arguments, '') + '\\n'); return writeln.apply(this, arguments);
  };
"""
WRITTEN_HOSTS = {"static.hotjar.com", third("split"), third("end"), third("img")}


def test_document_write_of_trackers_is_held_until_accept_all(new_page, strict, stub) -> None:
    page = new_page()
    page.add_init_script(SPY_ON_WRITE)
    page.goto(strict.url + "/write")
    banner(page).wait_for(state="visible")
    settle(page, stub)
    never(stub, WRITTEN_HOSTS, timeout=0.5)
    assert page.evaluate("window.__stub") is None

    written = page.evaluate("window.__written")
    # One call: a catalogued tracker, held for its category.
    assert (
        '<script data-consent="analytics" type="text/plain"'
        ' data-consent-src="https://static.hotjar.com/c/hotjar-written.js"></script>' in written
    ), written
    # Split inside the tag name: the first half waits for the call that completes it.
    assert "<scr" not in written
    assert (
        '<script data-consent="other" type="text/plain" async'
        ' data-consent-src="https://k-split.thirdparty.test/split.js"></script>' in written
    ), written
    # Split between start and end tag; its own type is kept aside.
    assert (
        '<script data-consent="other" type="text/plain"'
        ' data-consent-src="https://k-end.thirdparty.test/end.js" data-consent-type="text/javascript">' in written
    ), written
    # A tag with nothing to hold is passed on byte for byte; a held srcset lists a local URL too.
    assert "<p id=\"kept\" data-x='1'  class=plain>kept &amp; unchanged</p>\n" in written
    assert (
        '<img data-consent="other" id="written-img" alt=""'
        ' data-consent-srcset="https://k-img.thirdparty.test/w.gif 1x, /local.gif 2x">' in written
    ), written
    assert page.locator("script[type='text/plain'][data-consent]").count() == 3
    assert page.text_content("#kept") == "kept & unchanged"

    accept_all(page)
    reached(stub, WRITTEN_HOSTS)
    page.wait_for_function("(window.__stub || []).length === 3")
    assert sorted(page.evaluate("window.__stub")) == [
        "k-end.thirdparty.test/end.js",
        "k-split.thirdparty.test/split.js",
        "static.hotjar.com/c/hotjar-written.js",
    ]
    assert page.get_attribute("#written-img", "srcset") == "https://k-img.thirdparty.test/w.gif 1x, /local.gif 2x"
    assert page.errors == []


def test_document_write_of_unknown_third_parties_is_left_alone_in_catalogue_mode(new_page, catalogue, stub) -> None:
    page = new_page()
    page.add_init_script(SPY_ON_WRITE)
    page.goto(catalogue.url + "/write")
    banner(page).wait_for(state="visible")
    reached(stub, {third("split"), third("end"), third("img")})
    never(stub, {"static.hotjar.com"}, timeout=0.5)
    written = page.evaluate("window.__written")
    assert '<script src="https://k-end.thirdparty.test/end.js" type="text/javascript">' in written
    ran = sorted(page.evaluate("window.__stub"))
    assert ran == ["k-end.thirdparty.test/end.js", "k-split.thirdparty.test/split.js"]
    assert page.errors == []


# ---- 4. url() in styles -------------------------------------------------------------------------------

STYLES = """(U) => {
  const make = (id) => { const d = document.createElement('div'); d.id = id; return d; };
  const a = make('s-attr');
  a.setAttribute('style', 'width:9px;height:9px;background-image:url("' + U[0] + '/a.gif")');
  document.body.appendChild(a);
  const b = make('s-css'); document.body.appendChild(b);
  b.style.cssText = 'width:9px;height:9px;background:url(' + U[1] + '/b.gif) no-repeat';
  const c = make('s-prop'); document.body.appendChild(c);
  c.style.cssText = 'width:9px;height:9px';
  c.style.setProperty('background-image', 'url(' + U[2] + '/c.gif)');
  // A style update right away: nothing held may be fetched by it.
  document.body.offsetWidth;
  return [a, b, c].map(d => ({
    style: d.getAttribute('style'), held: d.getAttribute('data-consent-style'), consent: d.getAttribute('data-consent'),
    image: getComputedStyle(d).backgroundImage}));
}"""


def test_style_urls_set_by_attribute_and_cssom_wait_for_consent(new_page, strict, stub) -> None:
    hosts = [third("style-a"), third("style-b"), third("style-c")]
    page = open_page(new_page, strict.url + "/")
    settle(page, stub)
    states = page.evaluate(STYLES, [f"https://{host}" for host in hosts])
    for host, state in zip(hosts, states, strict=True):
        assert state["consent"] == "other", state
        assert host in state["held"] and host not in state["style"], state
        assert "9px" in state["style"] and state["image"] == "none", state  # the rest of the style applies
    never(stub, set(hosts))

    accept_all(page)
    reached(stub, set(hosts))
    images = page.evaluate(
        "['s-attr', 's-css', 's-prop'].map(id => getComputedStyle(document.getElementById(id)).backgroundImage)"
    )
    assert all(host in image for host, image in zip(hosts, images, strict=True)), images
    assert page.locator("[data-consent-style]").count() == 0
    assert page.errors == []


# ---- 5. held markup the gateway emits, revived by the banner -----------------------------------------------

HELD_MARKUP = (
    # An external script keeps its src; type and service are the gateway's.
    '<script type="text/plain" data-consent="analytics" data-consent-service="google-analytics"'
    ' data-consent-type="text/javascript" src="https://www.googletagmanager.com/gtag/js?id=G-HELD"></script>'
    '<script type="text/plain" data-consent="marketing">'
    '(window.__revived = window.__revived || []).push("inline");</script>'
    '<svg width="9" height="9"><script type="text/plain" data-consent="other"'
    ' data-consent-href="https://k-svg.thirdparty.test/svg.js"></script>'
    '<image id="h-xlink" width="9" height="9" data-consent="other"'
    ' data-consent-xlink-href="https://k-xlink.thirdparty.test/x.gif"></image></svg>'
    '<img id="h-img" alt="" data-consent="other" data-consent-src="https://k-img.thirdparty.test/i.gif"'
    ' data-consent-srcset="https://k-img.thirdparty.test/i.gif 1x">'
    '<object id="h-object" data-consent="other" data-consent-data="https://k-object.thirdparty.test/o.html"></object>'
    '<video id="h-poster" data-consent="other" data-consent-poster="https://k-poster.thirdparty.test/p.gif"></video>'
    '<video id="h-video"><source data-consent="other" data-consent-src="https://k-source.thirdparty.test/v.mp4"'
    ' type="video/mp4"></video>'
    '<link id="h-preload" rel="preload" as="image" data-consent="other"'
    ' data-consent-imagesrcset="https://k-preload.thirdparty.test/l.gif 1x">'
    '<link id="h-hint" data-consent-rel="preconnect" data-consent="other" href="https://k-hint.thirdparty.test/">'
    '<div id="h-style" style="width:9px;height:9px" data-consent="other"'
    ' data-consent-style="width:9px;height:9px;background-image:url(https://k-style.thirdparty.test/s.gif)"></div>'
    '<iframe id="h-frame" data-consent="other" data-consent-src="https://k-frame.thirdparty.test/embed/f.html"'
    ' srcdoc="&lt;p&gt;placeholder&lt;/p&gt;"></iframe>'
    '<iframe id="h-srcdoc" data-consent="other" data-consent-srcdoc="&lt;p id=original&gt;original&lt;/p&gt;"'
    ' srcdoc="&lt;p&gt;placeholder&lt;/p&gt;"></iframe>'
    # A <style> block: the stand-in without the held URL, then the original in an inert <script>
    # (as the gateway writes it: "</script" in the CSS written "</\\script", which CSS reads the same) ...
    '<style data-consent-standin="" media="all" type="text/css">.h-block{width:9px;height:9px}</style>'
    '<script media="all" data-consent-style="" data-consent-type="text/css" type="text/plain" data-consent="other">'
    ".h-block{width:9px;height:9px;background-image:url('https://k-block.thirdparty.test/b.gif')} /* </\\script> */"
    "</script>"
    '<div class="h-block" id="h-block"></div>'
    # ... or in an inert <style>.
    '<style data-consent-standin="" media="all">.h-sheet{width:9px;height:9px}</style>'
    '<style type="text/plain" data-consent="other" media="all">'
    ".h-sheet{width:9px;height:9px;background-image:url('https://k-sheet.thirdparty.test/b.gif')}</style>"
    '<div class="h-sheet" id="h-sheet"></div>'
)
HELD_HOSTS = {
    "www.googletagmanager.com",
    *(third(name) for name in ("svg", "xlink", "img", "object", "poster", "source", "preload", "style", "frame")),
    *(third(name) for name in ("block", "sheet")),
}


def test_held_markup_of_every_form_is_revived_by_accept_all_and_not_before(new_page, strict, stub) -> None:
    page = open_page(new_page, strict.url + "/")
    settle(page, stub)
    page.evaluate("(markup) => document.body.insertAdjacentHTML('beforeend', markup)", HELD_MARKUP)
    never(stub, HELD_HOSTS | {third("hint")})
    assert page.evaluate("[window.__stub, window.__revived]") == [None, None]
    images = "['h-block', 'h-sheet'].map(id => getComputedStyle(document.getElementById(id)).backgroundImage)"
    assert page.evaluate(images) == ["none", "none"]

    accept_all(page)
    reached(stub, HELD_HOSTS)
    page.wait_for_function("(window.__stub || []).length === 2 && (window.__revived || []).length === 1")
    ran = sorted(page.evaluate("window.__stub"))
    assert ran == ["k-svg.thirdparty.test/svg.js", "www.googletagmanager.com/gtag/js"]
    assert page.evaluate("window.__revived") == ["inline"]
    state = page.evaluate(
        """() => {
      const $ = (id) => document.getElementById(id);
      return {
        xlink: $('h-xlink').getAttributeNS('http://www.w3.org/1999/xlink', 'href'),
        img: [$('h-img').getAttribute('src'), $('h-img').getAttribute('srcset')],
        object: $('h-object').getAttribute('data'),
        poster: $('h-poster').getAttribute('poster'),
        hint: $('h-hint').getAttribute('rel'),
        frame: [$('h-frame').getAttribute('src'), $('h-frame').hasAttribute('srcdoc')],
        srcdoc: $('h-srcdoc').contentDocument.getElementById('original') ? 'original' : $('h-srcdoc').srcdoc,
        style: getComputedStyle($('h-style')).backgroundImage,
        blocks: ['h-block', 'h-sheet'].map(id => getComputedStyle($(id)).backgroundImage),
        styles: [...document.querySelectorAll('style[media=all]')].map(s => [s.type, s.hasAttribute('data-consent')]),
        css: [...document.querySelectorAll('style[media=all]')].map(s => s.textContent.slice(-20)),
        heldStyles: document.querySelectorAll('script[data-consent-style]').length,
        standins: document.querySelectorAll('[data-consent-standin]').length,
        left: [...document.querySelectorAll('[data-consent]')].map(e => e.outerHTML),
      };
    }"""
    )
    assert state["xlink"] == "https://k-xlink.thirdparty.test/x.gif"
    assert state["img"] == ["https://k-img.thirdparty.test/i.gif", "https://k-img.thirdparty.test/i.gif 1x"]
    assert state["object"] == "https://k-object.thirdparty.test/o.html"
    assert state["poster"] == "https://k-poster.thirdparty.test/p.gif"
    assert state["hint"] == "preconnect"
    assert state["frame"] == ["https://k-frame.thirdparty.test/embed/f.html", False]  # the placeholder is gone
    assert state["srcdoc"] == "original"
    assert "k-style.thirdparty.test" in state["style"]
    assert "k-block.thirdparty.test" in state["blocks"][0] and "k-sheet.thirdparty.test" in state["blocks"][1]
    # Fresh <style> blocks in place of the originals (own type kept), the stand-ins gone.
    assert state["styles"] == [["text/css", False], ["", False]] and state["standins"] == state["heldStyles"] == 0
    assert state["css"][0].endswith(" /* </\\script> */")  # the CSS as it was, escape and all
    assert state["left"] == []
    assert page.errors == []


# The classic Google Analytics snippet and many ad tags write their script: revived after the page
# was parsed, such a write must not replace the page.
WRITES_WHEN_REVIVED = (
    '<script type="text/plain" data-consent="analytics">'
    "document.write('<scr' + 'ipt src=\"https://k-late.thirdparty.test/late.js\"></scr' + 'ipt>');"
    "document.write('<p id=\"late\">written late</p>');</script>"
    '<script type="text/plain" data-consent="analytics">'
    "(window.__order = window.__order || []).push((window.__stub || []).join());</script>"
    '<p id="still-here">still here</p>'
)


def test_a_revived_script_that_writes_adds_to_the_page_instead_of_replacing_it(new_page, strict, stub) -> None:
    page = open_page(new_page, strict.url + "/")
    page.evaluate("(markup) => document.body.insertAdjacentHTML('beforeend', markup)", WRITES_WHEN_REVIVED)
    accept_all(page)
    page.wait_for_function("(window.__order || []).length === 1")
    assert page.text_content("h1") == "Les" and page.text_content("#still-here") == "still here"
    # Written where the script stood, and its script ran before the next revived one.
    assert page.evaluate("document.getElementById('late').previousElementSibling.getAttribute('src')") == (
        "https://k-late.thirdparty.test/late.js"
    )
    assert page.evaluate("window.__order") == ["k-late.thirdparty.test/late.js"]
    assert page.errors == []


# A slow async tag (the stub answers after delay_ms) and an ordinary one after it.
ASYNC_THEN_ORDERED = (
    '<script async type="text/plain" data-consent="other"'
    ' data-consent-src="https://k-slow.thirdparty.test/slow.js?delay_ms=1500"></script>'
    '<script type="text/plain" data-consent="other" src="https://k-next.thirdparty.test/next.js"></script>'
    '<script type="text/plain" data-consent="other">window.__stub.push("inline after next");</script>'
)


def test_a_revived_async_script_does_not_hold_up_the_ones_after_it(new_page, strict, stub) -> None:
    page = open_page(new_page, strict.url + "/")
    page.evaluate("(markup) => document.body.insertAdjacentHTML('beforeend', markup)", ASYNC_THEN_ORDERED)
    accept_all(page)
    page.wait_for_function("(window.__stub || []).length === 3")
    # The page never ordered an async script: the others ran while it was still loading.
    assert page.evaluate("window.__stub") == [
        "k-next.thirdparty.test/next.js",
        "inline after next",
        "k-slow.thirdparty.test/slow.js",
    ]
    assert page.errors == []


# Tags that wait for the page's load event (chartbeat's `window.onload = ...`, jQuery-free DOM-ready
# code): revived long after that event, their handlers are called once, and page code hears when
# revival is over.
LATE_LOAD_HANDLERS = (
    '<script type="text/plain" data-consent="other">'
    "window.__late = [];"
    "window.onload = function () { window.__late.push('onload'); };"
    "addEventListener('load', function () { window.__late.push('bare load'); });"
    "window.addEventListener('load', { handleEvent: function (e) { window.__late.push('object ' + e.type); } });"
    "document.addEventListener('DOMContentLoaded', function () { window.__late.push('ready'); });"
    "document.addEventListener('click', function () { window.__late.push('click'); });"
    "</script>"
)


def test_load_handlers_of_revived_scripts_are_called_once_and_revival_is_announced(new_page, strict, stub) -> None:
    page = open_page(new_page, strict.url + "/")
    page.evaluate(
        """() => {
      window.__own = 0;
      window.onload = () => { window.__own += 1; };  // the page's own, already past: not called again
      window.__heard = [];
      document.addEventListener('consent:revived', (e) => window.__heard.push('event ' + e.detail.categories.length));
      consentGateway.on('revived', () => window.__heard.push('handler'));
    }"""
    )
    page.evaluate("(markup) => document.body.insertAdjacentHTML('beforeend', markup)", LATE_LOAD_HANDLERS)
    page.wait_for_timeout(200)
    assert page.evaluate("[window.__late, window.__heard]") == [None, []]

    accept_all(page)
    page.wait_for_function("window.__heard.length === 2 && (window.__late || []).length === 4")
    page.wait_for_timeout(300)  # nothing is called twice
    assert sorted(page.evaluate("window.__late")) == ["bare load", "object load", "onload", "ready"]
    assert page.evaluate("window.__heard") == ["event 4", "handler"]  # functional, analytics, marketing, other
    assert page.evaluate("window.__own") == 0
    # Handlers added by the page itself afterwards, for other events, are left alone.
    page.evaluate("window.addEventListener('resize', () => window.__late.push('resize'))")
    page.wait_for_timeout(100)
    assert page.evaluate("window.__late.length") == 4
    assert page.errors == []


# Cloudflare's Rocket Loader gives every script a type of its own ("<hash>-text/javascript") and starts
# them itself: held for their host, revived with that type, they never load, and must not hold up the rest.
NEVER_LOADS = (
    '<script type="text/plain" data-consent="other" data-consent-type="837bc6f3-text/javascript"'
    ' data-consent-src="https://k-rocket.thirdparty.test/ads.js"></script>'
    '<script type="text/plain" data-consent="other">window.__after = true;</script>'
)


def test_a_revived_script_the_browser_does_not_run_does_not_hold_up_the_rest(new_page, strict, stub) -> None:
    page = open_page(new_page, strict.url + "/")
    page.evaluate("document.addEventListener('consent:revived', () => { window.__done = true; })")
    page.evaluate("(markup) => document.body.insertAdjacentHTML('beforeend', markup)", NEVER_LOADS)
    accept_all(page)
    page.wait_for_function("window.__done === true && window.__after === true")
    assert page.evaluate("document.querySelector('script[src*=k-rocket]').type") == "837bc6f3-text/javascript"
    never(stub, {third("rocket")})
    assert page.errors == []


def test_several_categories_on_one_element_all_have_to_be_granted(new_page, strict, stub) -> None:
    page = open_page(new_page, strict.url + "/")
    page.evaluate(
        """() => document.body.insertAdjacentHTML('beforeend', '<img id="multi" alt=""'
        + ' data-consent="analytics other" data-consent-src="https://k-multi.thirdparty.test/m.gif">')"""
    )
    page.evaluate("consentGateway.accept(['analytics'])")
    never(stub, {third("multi")})
    assert page.get_attribute("#multi", "data-consent") == "analytics other"
    page.evaluate("consentGateway.acceptAll()")
    reached(stub, {third("multi")})
    assert page.errors == []


def test_a_held_refresh_navigates_only_after_consent(new_page, strict, stub) -> None:
    page = open_page(new_page, strict.url + "/")
    page.evaluate(
        """() => { const m = document.createElement('meta'); m.setAttribute('data-consent', 'other');
        m.setAttribute('data-consent-http-equiv', 'refresh');
        m.setAttribute('content', '0;url=https://k-refresh.thirdparty.test/embed/r.html');
        document.head.appendChild(m); }"""
    )
    never(stub, {third("refresh")})
    assert page.url.startswith(strict.url)
    with page.expect_navigation(url="https://k-refresh.thirdparty.test/embed/r.html"):
        banner(page).get_by_role("button", name="Alles accepteren", exact=True).click()


ACTIVE_MARKED = """() => {
  const add = (attrs, code) => {
    const s = document.createElement('script');
    for (const [k, v] of Object.entries(attrs)) s.setAttribute(k, v);
    s.text = code; document.head.appendChild(s);
  };
  const count = "(window.__runs = window.__runs || [])"
    + ".push(document.currentScript ? document.currentScript.id : 'module');";
  add({id: 'bare', 'data-consent': 'analytics'}, count);
  add({id: 'typed', type: 'text/javascript', 'data-consent': 'marketing'}, count);
  add({id: 'language', language: 'JavaScript', 'data-consent': 'analytics'}, count);
  add({id: 'category', 'data-category': 'analytics'}, count);
  add({id: 'klaro', 'data-name': 'hotjar', type: 'application/javascript'}, count);
  add({type: 'module', 'data-consent': 'analytics'}, count);
  add({id: 'inert', type: 'text/plain', 'data-consent': 'analytics'}, count);
  const x = document.createElement('script'); x.setAttribute('data-consent', 'analytics');
  x.src = 'https://media.leerplein.test/active.js'; document.head.appendChild(x);
}"""


def test_active_scripts_marked_for_other_consent_managers_are_not_run_again(new_page, strict, stub) -> None:
    page = open_page(new_page, strict.url + "/")
    page.evaluate(ACTIVE_MARKED)
    page.wait_for_function("(window.__runs || []).length === 6 && (window.__stub || []).length === 1")
    reached(stub, {"media.leerplein.test"})

    accept_all(page)
    page.wait_for_function("window.__runs.includes('inert')")  # the inert one is revived, once
    settle(page, stub)
    ran = sorted(page.evaluate("window.__runs"))
    assert ran == sorted(["bare", "typed", "language", "category", "klaro", "module", "inert"])
    assert page.evaluate("window.__stub") == ["media.leerplein.test/active.js"]
    assert len([hit for hit in stub.hits if hit.host == "media.leerplein.test"]) == 1
    assert page.errors == []


# ---- 6. a banner that works on any page ------------------------------------------------------------------


def test_choice_goes_to_the_gateway_despite_a_base_href_elsewhere(new_page, fresh, stub) -> None:
    page = open_page(new_page, fresh.url + "/base")
    requests: list[tuple[str, str]] = []
    page.on("request", lambda r: requests.append((r.method, r.url)))
    # Relative URLs go where <base> points: a third party, so they wait like one.
    relative = "(() => { const i = new Image(); i.src = 'pixel.gif'; return i.getAttribute('data-consent'); })()"
    assert page.evaluate(relative) == "other"

    banner(page).get_by_role("button", name="Instellingen", exact=True).click()
    layer = settings_layer(page)
    layer.wait_for(state="visible")  # the settings layer came from the gateway too
    with page.expect_request(lambda r: r.method == "POST") as posted:
        layer.get_by_role("button", name="Alles weigeren", exact=True).click()
    assert posted.value.url == fresh.url + "/_consent"
    page.locator("#cg-settings").wait_for(state="detached")

    assert [row["method"] for row in rows(fresh.db_path)] == ["reject_all"]
    assert not [url for _, url in requests if "other.example" in url], requests
    assert "other.example" not in contacted(stub)
    assert page.errors == []


def test_banner_is_clickable_on_a_page_that_hides_its_body(new_page, fresh, stub) -> None:
    page = open_page(new_page, fresh.url + "/hidden")
    assert page.evaluate("document.getElementById('cg-banner').parentNode === document.documentElement")
    banner(page).get_by_role("button", name="Alles weigeren", exact=True).click()  # no force: really clickable
    page.locator("#cg-banner").wait_for(state="detached")
    assert [row["method"] for row in rows(fresh.db_path)] == ["reject_all"]

    page.get_by_role("button", name="Cookie-instellingen").click()
    layer = settings_layer(page)
    layer.wait_for(state="visible")
    layer.get_by_role("button", name="Alles accepteren", exact=True).click()
    layer.wait_for(state="detached")
    assert [row["method"] for row in rows(fresh.db_path)] == ["reject_all", "accept_all"]
    assert page.evaluate("consentGateway.get().categories") == ["functional", "analytics", "marketing", "other"]
    assert page.errors == []
