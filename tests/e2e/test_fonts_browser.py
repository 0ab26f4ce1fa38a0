"""First-party fonts in a real browser: the page looks the same through the gateway, and the browser
never contacts the font CDN.

A static site links a Google-Fonts-style stylesheet for "Stub Display" (a real, distinctive font file:
DejaVu Serif Bold Italic, against a monospace fallback). Chromium maps ``fonts.googleapis.com`` and
``fonts.gstatic.com`` to the HTTPS side of the font CDN stand-in (``support.fonts``); the gateway
(``consent-gateway serve``) fetches through its plain-HTTP side (``GATEWAY_FONT_MIRRORS``), so the
stand-in tells the visitor's browser from the gateway. Three screenshots of the same text:

1. the page opened directly, the CDN reachable: the font from the CDN;
2. through the gateway, no consent given: the font from the gateway, not one browser request or
   TLS handshake to a font host; pixel-identical to 1;
3. the control, through a gateway with ``first_party_fonts`` off: the stylesheet waits for consent
   and the fallback shows, so the font visibly matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fonts import FAMILY, FontCDNStub
from support.helpers import Gateway
from support.stubs import StaticSite

pytestmark = pytest.mark.browser

FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-BoldItalic.ttf")
FONT_HOSTS = ("fonts.googleapis.com", "fonts.gstatic.com")
PAGE = f"""<!doctype html><html lang=nl><head><meta charset=utf-8><title>Les 1</title>
<link rel="preconnect" href="https://fonts.googleapis.com">
<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>
<link href="https://fonts.googleapis.com/css2?family={FAMILY.replace(" ", "+")}&amp;display=swap" rel="stylesheet">
<style>
  body {{ margin: 0; background: #fff; }}
  #sample {{ font: 44px '{FAMILY}', monospace; color: #123; margin: 0; padding: 12px; width: 720px; }}
</style>
</head><body><p id="sample">Lettertype Qg&amp;Rx 0123<br>Leren op afstand</p></body></html>"""
# The same text with the stylesheet added by page code after load, the way a web font loader adds it.
LOADER = PAGE.split("<link", 1)[0] + PAGE.split("<style>", 1)[1].join(("<style>", "")).replace(
    "</head>",
    f"""<script>
addEventListener("load", function () {{
  var hint = document.createElement("link");
  hint.setAttribute("rel", "preconnect");
  hint.setAttribute("href", "https://fonts.gstatic.com");
  document.head.appendChild(hint);
  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = "https://fonts.googleapis.com/css2?family={FAMILY.replace(" ", "+")}&display=swap";
  document.head.appendChild(link);
}});
</script></head>""",
)
FONT_LOADED = f"""async () => {{
  await document.fonts.ready;
  return [...document.fonts].some(f => f.family.replace(/["']/g, "") === "{FAMILY}" && f.status === "loaded");
}}"""


@pytest.fixture(scope="module")
def cdn() -> Iterator[FontCDNStub]:
    if not FONT_FILE.is_file():
        pytest.fail(f"{FONT_FILE} is missing: install Debian's fonts-dejavu-extra")
    with FontCDNStub(font=FONT_FILE.read_bytes()) as stub:
        yield stub


@pytest.fixture(scope="module")
def site() -> Iterator[StaticSite]:
    with StaticSite("127.0.0.2", {"/": PAGE, "/loader": LOADER}) as server:
        yield server


@pytest.fixture(scope="module")
def resolver_rules(cdn: FontCDNStub) -> str:
    """The font hosts go to the CDN stand-in (the browser itself is in tests/e2e/conftest.py; no tracker stub)."""
    return ", ".join(f"MAP {host} 127.0.0.1:{cdn.tls_port}" for host in FONT_HOSTS)


def gateway(site: StaticSite, cdn: FontCDNStub, workdir: Path, **env: str) -> Gateway:
    workdir.mkdir()
    return Gateway(site.origin, workdir, env={"GATEWAY_FONT_MIRRORS": cdn.mirrors(*FONT_HOSTS), **env})


def screenshot(browser, url: str, links: list[str] | None = None) -> tuple[bytes, bool]:
    """The sample text as the visitor sees it, once its fonts have settled; and whether Stub Display loaded.
    ``links`` gets the href of every <link> the page ends up with."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 800, "height": 600})
    try:
        page = context.new_page()
        page.goto(url, wait_until="networkidle")
        loaded = page.evaluate(FONT_LOADED)
        if links is not None:
            links += page.evaluate("() => [...document.querySelectorAll('link')].map(l => l.href)")
        return page.locator("#sample").screenshot(animations="disabled"), loaded
    finally:
        context.close()


def test_fonts_through_the_gateway_look_the_same_and_never_reach_the_cdn(browser, cdn, site, tmp_path) -> None:
    cdn.clear()
    direct, direct_loaded = screenshot(browser, site.origin + "/")
    assert direct_loaded, "the stand-in did not serve the font to the browser"
    assert {hit.host for hit in cdn.browser_hits()} == set(FONT_HOSTS)

    served = gateway(site, cdn, tmp_path / "on")
    try:
        cdn.clear()
        first_party, first_party_loaded = screenshot(browser, served.url + "/")
    finally:
        served.stop()
    assert first_party_loaded
    assert cdn.browser_hits() == [] and cdn.handshakes == []  # not even a preconnect
    assert sorted(hit.path.split("?")[0] for hit in cdn.gateway_hits()) == ["/css2", "/s/stubdisplay/v1/stub.ttf"]
    assert first_party == direct, "the page's typography changed through the gateway"

    held = gateway(site, cdn, tmp_path / "off", GATEWAY_FIRST_PARTY_FONTS="false")
    try:
        cdn.clear()
        fallback, fallback_loaded = screenshot(browser, held.url + "/")
    finally:
        held.stop()
    assert not fallback_loaded and cdn.browser_hits() == []  # held until consent, as before this feature
    assert fallback != direct, "the control shows no difference: the font would not matter"


def test_a_stylesheet_that_page_code_adds_later_comes_from_the_gateway_too(browser, cdn, site, tmp_path) -> None:
    cdn.clear()
    direct, direct_loaded = screenshot(browser, site.origin + "/loader")
    assert direct_loaded and {hit.host for hit in cdn.browser_hits()} == set(FONT_HOSTS)

    served = gateway(site, cdn, tmp_path / "on")
    try:
        cdn.clear()
        links: list[str] = []
        first_party, loaded = screenshot(browser, served.url + "/loader", links)
    finally:
        served.stop()
    assert loaded and first_party == direct
    assert cdn.browser_hits() == [] and cdn.handshakes == []
    assert sorted(links) == [
        f"{served.url}/_consent/fonts/fonts.googleapis.com/css2?family=Stub+Display&display=swap",
        f"{served.url}/_consent/fonts/fonts.gstatic.com/",
    ]
