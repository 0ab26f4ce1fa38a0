"""First-party analytics in a real browser: gtag.js from the gateway, hits to the gateway, nothing before consent.

Chromium (Debian's, through Playwright) opens a page with the usual GA4
snippet behind ``ConsentMiddleware``. gtag.js is a stub served by a fake
GA4 backend on loopback and fetched by the gateway for ``/_consent/gtag/js``;
like the real one it reads the dataLayer and sends its hit to the transport
URL the gateway's head snippet set. Every other host name resolves to the
tracker stub, so a connection to Google would show there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support.backends import CapturingBackend
from support.browser import contacted
from support.helpers import SECRET, ThreadedServer

from gateway import CollectSettings, ConsentMiddleware, Settings

pytestmark = pytest.mark.browser

MEASUREMENT_ID = "G-BROWSER1"
VISITOR_IP = "203.0.113.77"
# Headless Chromium says "HeadlessChrome", which the gateway drops as a bot: this visitor uses a desktop browser.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.126 Safari/537.36"
)
PAGE = f"""<!doctype html><html lang="nl"><head><title>Les 1</title>
<script async src="https://www.googletagmanager.com/gtag/js?id={MEASUREMENT_ID}"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){{dataLayer.push(arguments);}}
  gtag('js', new Date());
  gtag('config', '{MEASUREMENT_ID}');
</script>
</head><body><h1>Les 1</h1></body></html>"""

# The tag inserted by page code (a loader, a tag manager), not written in the HTML.
DYNAMIC_PAGE = f"""<!doctype html><html lang="nl"><head><title>Les 1</title>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){{dataLayer.push(arguments);}}
  gtag('js', new Date());
  gtag('config', '{MEASUREMENT_ID}');
  var tag = document.createElement('script');
  tag.async = true;
  tag.src = 'https://www.googletagmanager.com/gtag/js?id={MEASUREMENT_ID}';
  document.head.appendChild(tag);
</script>
</head><body><h1>Les 1</h1></body></html>"""

# What matters of gtag.js here: it reads the queued commands, honours transport_url, sends a GA4 hit.
STUB_GTAG = b"""(function () {
  var dl = window.dataLayer = window.dataLayer || [];
  var transport = null, sent = {};
  function send(id) {
    var base = transport || 'https://region1.google-analytics.com';
    var query = 'v=2&tid=' + encodeURIComponent(id) + '&cid=111.222&_uip=198.51.100.99' +
      '&dl=' + encodeURIComponent(location.href) + '&dt=' + encodeURIComponent(document.title);
    fetch(base + '/g/collect?' + query, {method: 'POST', keepalive: true, credentials: 'include',
      body: 'en=page_view\\nen=user_engagement&ep.mail=' + encodeURIComponent('jan@example.nl')});
    window.__gtagSent = (window.__gtagSent || 0) + 1;
  }
  function handle(args) {
    if (!args || typeof args[0] !== 'string') return;
    if (args[0] === 'set' && args[1] && args[1].transport_url) transport = args[1].transport_url;
    if (args[0] === 'config' && !sent[args[1]]) { sent[args[1]] = true; send(args[1]); }
  }
  for (var i = 0; i < dl.length; i++) handle(dl[i]);
  var push = dl.push;
  dl.push = function () {
    for (var j = 0; j < arguments.length; j++) handle(arguments[j]);
    return push.apply(dl, arguments);
  };
  window.__gtagLoaded = true;
})();
"""


MATOMO_SITE = "7"
MATOMO_PAGE = """<!doctype html><html lang="nl"><head><title>Over ons</title>
<script>
  var _paq = window._paq = window._paq || [];
  _paq.push(['trackPageView']);
  _paq.push(['setTrackerUrl', '{matomo}/matomo.php']);
  _paq.push(['setSiteId', '7']);
</script>
<script async src="{matomo}/matomo.js"></script>
</head><body><h1>Over ons</h1></body></html>"""
# Matomo's own snippet: the script element is made by page code, after consent.
MATOMO_DYNAMIC_PAGE = """<!doctype html><html lang="nl"><head><title>Over ons</title>
<script>
  var _paq = window._paq = window._paq || [];
  _paq.push(['trackPageView']);
  (function() {{
    var u = "{matomo}/";
    _paq.push(['setTrackerUrl', u + 'matomo.php']);
    _paq.push(['setSiteId', '7']);
    var d = document, g = d.createElement('script'), s = d.getElementsByTagName('script')[0];
    g.async = true; g.src = u + 'matomo.js'; s.parentNode.insertBefore(g, s);
  }})();
</script>
</head><body><h1>Over ons</h1></body></html>"""

# What matters of matomo.js here: it applies the queued commands and sends the page view to the tracker URL.
STUB_MATOMO = b"""(function () {
  var tracker = null, site = null, queue = window._paq || [];
  for (var i = 0; i < queue.length; i++) {
    if (queue[i][0] === 'setTrackerUrl') tracker = queue[i][1];
    if (queue[i][0] === 'setSiteId') site = queue[i][1];
  }
  var query = 'idsite=' + site + '&rec=1&action_name=' + encodeURIComponent(document.title) +
    '&url=' + encodeURIComponent(location.href) + '&_id=0123456789abcdef&uid=learner-9';
  fetch(tracker + '?' + query, {method: 'GET', credentials: 'include'});
  window.__matomoSent = tracker;
})();
"""


@pytest.fixture
def ga4() -> Iterator[CapturingBackend]:
    with CapturingBackend(script=STUB_GTAG) as backend:
        yield backend


@pytest.fixture
def matomo() -> Iterator[CapturingBackend]:
    with CapturingBackend(script=STUB_MATOMO) as backend:
        yield backend


@pytest.fixture
def site(db_path, ga4: CapturingBackend, matomo: CapturingBackend) -> Iterator[ThreadedServer]:
    async def page(request):
        return HTMLResponse(DYNAMIC_PAGE if request.query_params.get("dynamic") else PAGE)

    async def matomo_page(request):
        template = MATOMO_DYNAMIC_PAGE if request.query_params.get("dynamic") else MATOMO_PAGE
        return HTMLResponse(template.format(matomo=matomo.url))

    settings = Settings(
        secret_key=SECRET,
        database_url=f"sqlite:///{db_path}",
        trusted_proxies=("127.0.0.1/32",),  # the browser's X-Forwarded-For stands for a proxy in front
        collect=CollectSettings(
            ga4_measurement_ids=(MEASUREMENT_ID,),
            ga4_endpoint=ga4.url + "/g/collect",
            ga4_script_url=ga4.url + "/gtag/js",
            matomo_url=matomo.url + "/",
            matomo_site_ids=(MATOMO_SITE,),
        ),
    )
    routes = [Route("/cursus/les-1", page), Route("/over-ons", matomo_page)]
    app = ConsentMiddleware(Starlette(routes=routes), settings=settings)
    with ThreadedServer(app) as server:
        yield server


def visitor(new_context):
    """A context of a desktop browser behind a proxy that says where it came from."""
    return new_context(user_agent=USER_AGENT, extra_http_headers={"X-Forwarded-For": VISITOR_IP})


@pytest.mark.parametrize("dynamic", [False, True], ids=["script tag", "inserted by page code"])
def test_ga4_hits_go_first_party_and_arrive_anonymised_only_after_consent(
    new_context, stub, ga4, site, dynamic
) -> None:
    page = visitor(new_context).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.url + "/cursus/les-1?email=jan%40example.nl&token=geheim123&les=1" + ("&dynamic=1" * dynamic))
    page.get_by_role("dialog", name="Cookies op deze leeromgeving").wait_for(state="visible")
    page.wait_for_load_state("networkidle")

    # Before consent: the tag is held (and already points at the gateway), a hit sent anyway is dropped.
    held = "script[type='text/plain'][data-consent-service='google-analytics']"
    first_party = f"[src='/_consent/gtag/js?id={MEASUREMENT_ID}']"
    assert page.locator(held if dynamic else held + first_party).count() == 1
    status = page.evaluate(
        f"fetch('/_consent/g/collect?v=2&tid={MEASUREMENT_ID}&dl=' + encodeURIComponent(location.href),"
        " {method: 'POST', body: 'en=page_view'}).then(r => r.status)"
    )
    assert status == 204
    time.sleep(0.5)
    assert ga4.captured == []  # no script fetched, no hit forwarded

    page.evaluate("consentGateway.acceptAll()")
    page.wait_for_function("window.__gtagLoaded === true && window.__gtagSent === 1")
    hits = ga4.wait_for(1)
    assert len(hits) == 1, ga4.captured
    [hit] = hits
    query = dict(hit.query)
    assert query["tid"] == MEASUREMENT_ID and query["_uip"] == "203.0.113.0"
    assert query["dl"] == f"{site.url}/cursus/les-1?les=1" + ("&dynamic=1" * dynamic)
    sources = page.evaluate("Array.from(document.scripts, s => s.src).filter(s => s.includes('gtag/js'))")
    assert sources == [f"{site.url}/_consent/gtag/js?id={MEASUREMENT_ID}"]
    assert [dict(line)["en"] for line in hit.body_lines()] == ["page_view", "user_engagement"]
    assert dict(hit.body_lines()[1])["ep.mail"] == "[email]"
    assert hit.header("user-agent") == "Mozilla/5.0 (Linux) Chrome/126.0"
    raw = ga4.all_bytes()
    for secret in (b"203.0.113.77", b"198.51.100.99", b"jan@example.nl", b"jan%40example.nl", b"geheim123"):
        assert secret not in raw, secret
    # The script came through the gateway: Chromium never talked to Google.
    assert [c.path for c in ga4.captured if c.path.endswith("/gtag/js")] == ["/gtag/js"]
    assert not contacted(stub), stub.contacted()
    assert errors == []


@pytest.mark.parametrize("dynamic", [False, True], ids=["script tag", "matomo snippet"])
def test_matomo_js_and_its_hits_go_first_party(new_context, matomo, site, dynamic) -> None:
    page = visitor(new_context).new_page()
    page.goto(site.url + "/over-ons?email=jan%40example.nl" + ("&dynamic=1" if dynamic else ""))
    page.get_by_role("dialog", name="Cookies op deze leeromgeving").wait_for(state="visible")
    held = "script[type='text/plain'][data-consent-service='matomo']"
    assert page.locator(held if dynamic else f"{held}[src='/_consent/matomo.js']").count() == 1
    page.wait_for_load_state("networkidle")
    assert matomo.captured == []

    page.evaluate("consentGateway.acceptAll()")
    page.wait_for_function("window.__matomoSent !== undefined")
    assert page.evaluate("window.__matomoSent") == site.url + "/_consent/matomo.php"
    sources = page.evaluate("Array.from(document.scripts, s => s.src).filter(s => s.includes('matomo.js'))")
    assert sources == [site.url + "/_consent/matomo.js"]
    [hit] = matomo.wait_for(1)
    query = dict(hit.query)
    assert hit.path == "/matomo.php" and query["idsite"] == MATOMO_SITE and query["_id"] == "0123456789abcdef"
    assert query["url"] == site.url + "/over-ons" + ("?dynamic=1" if dynamic else "")
    assert "uid" not in query and "cip" not in query
    assert hit.header("user-agent") == "Mozilla/5.0 (Linux) Chrome/126.0"
    assert b"203.0.113" not in matomo.all_bytes() and b"example.nl" not in matomo.all_bytes()
    # Only the gateway talked to Matomo: one script fetch and the forwarded hit, no browser request.
    assert sorted(c.path for c in matomo.captured) == ["/matomo.js", "/matomo.php"]
    assert all(c.header("cookie") is None and c.header("referer") is None for c in matomo.captured)
