"""The font route against a real local stand-in for the font CDNs (``support.fonts``), through the
middleware and through the reverse proxy: only catalogued hosts, no visitor data upstream, a bounded
cache, the last good copy while the vendor is down, a clear error when there is none."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support.fonts import FAMILY, FONT_PATH, FontCDNStub
from support.helpers import SECRET, ThreadedServer

from gateway import ConsentMiddleware, Settings
from gateway.fonts import FirstPartyFonts
from gateway.metrics.registry import Registry
from gateway.proxy.app import proxy_app
from gateway.settings import SettingsError

GOOGLE_CSS = "fonts.googleapis.com"
GOOGLE_FILES = "fonts.gstatic.com"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
IE11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
VISITOR_IP = "203.0.113.77"
CSS_PATH = "/_consent/fonts/fonts.googleapis.com/css2?family=Stub+Display:wght@400&display=swap"
FILE_PATH = f"/_consent/fonts/fonts.gstatic.com{FONT_PATH}.ttf"
PAGE = (
    "<!doctype html><html><head>"
    '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>'
    '<link href="https://fonts.googleapis.com/css2?family=Stub+Display&amp;display=swap" rel="stylesheet">'
    "</head><body><p>Hallo</p></body></html>"
)


def font_site() -> Starlette:
    async def page(request):
        return HTMLResponse(PAGE)

    return Starlette(routes=[Route("/", page)])


@pytest.fixture
def cdn() -> Iterator[FontCDNStub]:
    with FontCDNStub() as stub:
        yield stub


def settings_for(cdn: FontCDNStub, tmp_path, **overrides) -> Settings:
    values = dict(
        secret_key=SECRET,
        database_url=f"sqlite:///{tmp_path / 'consent.db'}",
        trusted_proxies=("127.0.0.1/32",),
        font_mirrors=tuple(cdn.mirrors(GOOGLE_CSS, GOOGLE_FILES).split(",")),
    )
    return Settings(**(values | overrides))


@pytest.fixture
def gateway(cdn, tmp_path) -> Iterator[ThreadedServer]:
    with ThreadedServer(ConsentMiddleware(font_site(), settings=settings_for(cdn, tmp_path))) as server:
        yield server


def visitor(server: ThreadedServer, user_agent: str = FIREFOX) -> httpx.Client:
    headers = {"User-Agent": user_agent, "X-Forwarded-For": VISITOR_IP, "Cookie": "_ga=GA1.1.1.1; sessie=geheim"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


# ---- served first-party --------------------------------------------------------------------------


def test_a_stylesheet_is_served_with_its_font_files_on_the_gateway(gateway, cdn) -> None:
    with visitor(gateway) as client:
        css = client.get(CSS_PATH)
        font = client.get(FILE_PATH)
    assert css.status_code == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
    assert f"font-family: '{FAMILY}'" in css.text
    assert f'url("/_consent/fonts/fonts.gstatic.com{FONT_PATH}.ttf")' in css.text
    assert "https://fonts.gstatic.com" not in css.text
    assert css.headers["cache-control"] == "public, max-age=86400" and css.headers["vary"] == "User-Agent"
    assert css.headers["x-content-type-options"] == "nosniff" and "set-cookie" not in css.headers
    assert font.status_code == 200 and font.content == cdn.font and font.headers["content-type"] == "font/ttf"
    assert font.headers["cache-control"] == "public, max-age=2592000"
    assert [hit.path for hit in cdn.gateway_hits()] == [CSS_PATH.split("googleapis.com")[1], f"{FONT_PATH}.ttf"]
    assert cdn.browser_hits() == []


def test_nothing_of_the_visitor_reaches_the_font_cdn(gateway, cdn) -> None:
    with visitor(gateway) as client:
        assert client.get(CSS_PATH).status_code == 200
    (hit,) = cdn.gateway_hits()
    sent = {name.lower(): value for name, value in hit.headers.items()}
    assert "cookie" not in sent and "referer" not in sent
    assert not any(VISITOR_IP in value or "203.0.113" in value for value in sent.values())
    assert not {"x-forwarded-for", "forwarded", "x-real-ip"} & set(sent)
    assert "Firefox" not in sent["user-agent"] and "Chrome/" in sent["user-agent"]


def test_each_file_is_fetched_once_and_stylesheets_once_per_browser_family(gateway, cdn) -> None:
    with visitor(gateway) as firefox, visitor(gateway, IE11) as explorer:
        modern = [firefox.get(CSS_PATH).text for _ in range(3)]
        old = explorer.get(CSS_PATH).text
        for _ in range(3):
            assert firefox.get(FILE_PATH).status_code == 200
    assert len(set(modern)) == 1 and ".ttf" in modern[0]
    assert f'url("/_consent/fonts/fonts.gstatic.com{FONT_PATH}.woff")' in old  # Explorer's own CSS
    paths = [hit.path for hit in cdn.gateway_hits()]
    assert len(paths) == 3 and paths.count(f"{FONT_PATH}.ttf") == 1
    assert "Trident/" in cdn.gateway_hits()[1].headers["User-Agent"]


def test_head_answers_without_a_body(gateway) -> None:
    response = httpx.head(gateway.url + FILE_PATH)
    assert response.status_code == 200 and response.content == b"" and response.headers["content-length"] != "0"


# ---- never an open fetcher -----------------------------------------------------------------------


def raw_get(server: ThreadedServer, target: str, method: str = "GET") -> int:
    """The request target exactly as written: no client normalises the dots or escapes away."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/_consent/fonts/evil.example.com/s/x.ttf", 404),
        ("/_consent/fonts/fonts.gstatic.com.evil.example.com/s/x.ttf", 404),
        ("/_consent/fonts/fonts.gstatic.com:8080/s/x.ttf", 404),
        ("/_consent/fonts/user@fonts.gstatic.com/s/x.ttf", 404),
        ("/_consent/fonts/evil.example.com@fonts.gstatic.com/s/x.ttf", 404),
        ("/_consent/fonts/FONTS.GSTATIC.COM/s/x.ttf", 404),
        ("/_consent/fonts/fonts.gstatic.com./s/x.ttf", 404),
        ("/_consent/fonts/127.0.0.1/s/x.ttf", 404),
        ("/_consent/fonts/fonts.gstatic.com", 400),
        ("/_consent/fonts/fonts.gstatic.com/", 400),
        ("/_consent/fonts/fonts.gstatic.com/s/../../etc/passwd", 400),
        ("/_consent/fonts/fonts.gstatic.com/s/%2e%2e/x.ttf", 400),
        ("/_consent/fonts/fonts.gstatic.com/s/%2E/x.ttf", 400),
        ("/_consent/fonts/fonts.gstatic.com/%2F%2Fevil.example.com/x.ttf", 400),
        ("/_consent/fonts/fonts.gstatic.com/s%5C..%5Cx.ttf", 400),
        ("/_consent/fonts/fonts.gstatic.com//evil.example.com/x.ttf", 400),
        ("/_consent/fonts/fonts.gstatic.com/s/x.ttf%00.css", 400),
        ("/_consent/fonts/fonts.googleapis.com/css?family=" + "A" * 3000, 400),
        ("/_consent/fonts/fonts.googleapis.com/css?family=a%20b#frag", 200),  # the fragment is never sent
        ("/_consent/%66onts/fonts.gstatic.com/s/x.ttf", 400),
    ],
)
def test_path_and_host_tricks_are_refused(gateway, cdn, target: str, status: int) -> None:
    assert raw_get(gateway, target) == status
    if status != 200:
        assert cdn.hits == []


def test_only_get_and_head(gateway, cdn) -> None:
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        assert raw_get(gateway, FILE_PATH, method) == 405
    assert cdn.hits == []


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/s/evil.js", "text/javascript"),
        ("/s/evil.svg", "image/svg+xml"),
        ("/s/page.html", "text/html"),
        ("/s/bytes.bin", "application/octet-stream"),  # bytes are a font only with a font's extension
    ],
)
def test_only_css_and_fonts_are_served(gateway, cdn, path: str, content_type: str) -> None:
    cdn.types[path] = content_type
    response = httpx.get(f"{gateway.url}/_consent/fonts/fonts.gstatic.com{path}")
    assert response.status_code == 502 and response.json()["error"] == "font_unavailable"


def test_a_font_file_host_serves_no_css_and_a_stylesheet_host_no_fonts(gateway, cdn) -> None:
    assert httpx.get(f"{gateway.url}/_consent/fonts/fonts.gstatic.com/css2?family=X").status_code == 502
    cdn.types["/s/x.woff2"] = "font/woff2"
    assert httpx.get(f"{gateway.url}/_consent/fonts/fonts.googleapis.com/s/x.woff2").status_code == 502
    assert httpx.get(f"{gateway.url}/_consent/fonts/fonts.gstatic.com/s/x.woff2").status_code == 200


def test_fonts_labelled_as_bytes_are_served_by_their_extension(gateway, cdn) -> None:
    cdn.types["/s/x.woff2"] = "application/octet-stream"
    response = httpx.get(f"{gateway.url}/_consent/fonts/fonts.gstatic.com/s/x.woff2")
    assert response.status_code == 200 and response.headers["content-type"] == "font/woff2"


def test_other_hosts_in_a_vendor_stylesheet_are_neutralised(gateway, cdn) -> None:
    cdn.types["/css"] = "text/css"
    cdn.bodies["/css"] = (
        b'@import url("https://p.counter.example/p.css?k=1");'
        b"@font-face{font-family:X;src:url(https://fonts.gstatic.com/s/x.woff2),url(data:font/woff2;base64,AA==)}"
        b"@font-face{font-family:Y;src:url(../s/y.woff2)}"
    )
    css = httpx.get(f"{gateway.url}/_consent/fonts/fonts.googleapis.com/css").text
    assert "counter.example" not in css and "@import none" in css
    assert 'url("/_consent/fonts/fonts.gstatic.com/s/x.woff2")' in css and "url(data:font/woff2;base64,AA==)" in css
    assert 'url("/_consent/fonts/fonts.googleapis.com/s/y.woff2")' in css  # relative to the vendor's URL


def test_a_vendor_that_fails_with_nothing_kept_is_a_clear_502(gateway, cdn) -> None:
    cdn.css_status = 500
    response = httpx.get(gateway.url + CSS_PATH)
    assert response.status_code == 502 and response.json()["error"] == "font_unavailable"
    cdn.stop()
    response = httpx.get(gateway.url + FILE_PATH)
    assert response.status_code == 502 and response.headers["cache-control"] == "no-store"


# ---- the cache -----------------------------------------------------------------------------------


@pytest.fixture
def fonts(cdn, tmp_path) -> FirstPartyFonts:
    return FirstPartyFonts(settings_for(cdn, tmp_path), Registry())


def fetch(fonts: FirstPartyFonts, host: str, path: str):
    return fonts.cache.get(host, f"{fonts.hosts.origins[host]}{path}", f"https://{host}{path}", FIREFOX)


@pytest.mark.anyio
async def test_the_last_good_copy_is_served_while_the_vendor_is_down(fonts, cdn) -> None:
    fonts.cache.cache.ttl = 0.05
    first = await fetch(fonts, GOOGLE_CSS, "/css2?family=Stub+Display")
    await asyncio.sleep(0.1)
    cdn.css_status = 503
    assert (await fetch(fonts, GOOGLE_CSS, "/css2?family=Stub+Display")).body == first.body
    cdn.stop()
    await asyncio.sleep(0.1)
    assert (await fetch(fonts, GOOGLE_CSS, "/css2?family=Stub+Display")).body == first.body
    await fonts.stop()


@pytest.mark.anyio
async def test_the_cache_is_bounded_by_entries_and_bytes(fonts, cdn) -> None:
    cache = fonts.cache.cache
    cache.max_entries = 3
    for index in range(6):
        await fetch(fonts, GOOGLE_FILES, f"/s/font{index}.ttf")
    assert len(cache.entries) == 3 and cache.size == 3 * len(cdn.font)
    assert list(cache.entries)[-1].endswith("/s/font5.ttf")  # the most recent stay
    cache.max_bytes = 2 * len(cdn.font)
    await fetch(fonts, GOOGLE_FILES, "/s/font6.ttf")
    assert len(cache.entries) == 2 and cache.size <= cache.max_bytes
    cdn.font = b"x" * (cache.max_bytes + 1)  # larger than the whole cache: served, not kept
    big = await fetch(fonts, GOOGLE_FILES, "/s/big.ttf")
    assert len(big.body) == cache.max_bytes + 1 and not any(k.endswith("big.ttf") for k in cache.entries)
    await fonts.stop()


@pytest.mark.anyio
async def test_a_file_over_the_size_limit_is_refused(fonts, cdn) -> None:
    fonts.cache.cache.max_size = 100
    cdn.font = b"x" * 101
    with pytest.raises(Exception, match="font0"):
        await fetch(fonts, GOOGLE_FILES, "/s/font0.ttf")
    await fonts.stop()


# ---- pages, settings, both modes -----------------------------------------------------------------


def test_the_page_links_the_gateway_and_drops_the_hint(gateway) -> None:
    html = httpx.get(gateway.url + "/").text
    assert 'href="/_consent/fonts/fonts.googleapis.com/css2?family=Stub+Display&amp;display=swap"' in html
    assert 'data-first-party-rel="preconnect"' in html
    assert "data-consent-href" not in html


def test_with_first_party_fonts_off_the_cdn_waits_for_consent(cdn, tmp_path) -> None:
    settings = settings_for(cdn, tmp_path, first_party_fonts=False)
    with ThreadedServer(ConsentMiddleware(font_site(), settings=settings)) as server:
        html = httpx.get(server.url + "/").text
        assert httpx.get(server.url + CSS_PATH).status_code == 404
    assert 'data-consent-href="https://fonts.googleapis.com/css2' in html and "/_consent/fonts/" not in html


def test_the_reverse_proxy_serves_fonts_first_party(cdn, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    monkeypatch.setenv("GATEWAY_FONT_MIRRORS", cdn.mirrors(GOOGLE_CSS, GOOGLE_FILES))
    with ThreadedServer(font_site()) as site, ThreadedServer(proxy_app(site.url)) as proxy:
        html = httpx.get(proxy.url + "/").text
        css = httpx.get(proxy.url + CSS_PATH)
        font = httpx.get(proxy.url + FILE_PATH)
    assert 'href="/_consent/fonts/fonts.googleapis.com/css2?family=Stub+Display&amp;display=swap"' in html
    assert css.status_code == 200 and font.content == cdn.font
    assert len(cdn.gateway_hits()) == 2 and cdn.browser_hits() == []


def test_settings(tmp_path) -> None:
    loaded = Settings.load(environ={"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_FIRST_PARTY_FONTS": "false"})
    assert loaded.first_party_fonts is False and Settings(secret_key=SECRET).first_party_fonts is True
    for bad in ("fonts.gstatic.com", "fonts.gstatic.com=ftp://x", "=https://x.example"):
        with pytest.raises(SettingsError, match="font_mirrors"):
            Settings(secret_key=SECRET, font_mirrors=(bad,))
    with pytest.raises(SettingsError, match="not a font host"):
        FirstPartyFonts(Settings(secret_key=SECRET, font_mirrors=("www.example.com=https://x.example",)), Registry())


def test_a_policy_that_allowed_the_font_cdn_allows_the_gateway_copy(cdn, tmp_path) -> None:
    policy = "default-src 'none'; style-src https://fonts.googleapis.com; font-src https://fonts.gstatic.com data:"

    async def page(request):
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": policy})

    app = ConsentMiddleware(Starlette(routes=[Route("/", page)]), settings=settings_for(cdn, tmp_path))
    with ThreadedServer(app) as server:
        sent = httpx.get(server.url + "/").headers["content-security-policy"]
    directives = {part.split()[0]: part.split()[1:] for part in sent.split("; ")}
    assert "'self'" in directives["style-src"] and "'self'" in directives["font-src"]
    assert directives["default-src"] == ["'none'"]  # nothing else opened up


def test_the_catalogue_fonts_section_is_checked() -> None:
    from gateway.trackers.catalogue import _font_cdn, font_cdns

    cdns = font_cdns()
    assert {"google-fonts", "bunny-fonts"} <= {cdn.id for cdn in cdns} and len({c.id for c in cdns}) == len(cdns)
    google = next(cdn for cdn in cdns if cdn.id == "google-fonts")
    assert google.stylesheet_hosts == ("fonts.googleapis.com",) and google.file_hosts == ("fonts.gstatic.com",)
    good = {"id": "x", "name": "X", "vendor": "X", "stylesheet_hosts": ["css.x.example"], "file_hosts": ["f.x.example"]}
    for bad in ({**good, "file_hosts": ["*.x.example"]}, {**good, "stylesheet_hosts": ["CSS.x.example"]}, {"id": "x"}):
        with pytest.raises(ValueError, match="fonts"):
            _font_cdn(bad, "catalogue.json fonts[0]")
