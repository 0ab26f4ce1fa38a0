"""Plain helpers for the browser tests (the fixtures are in ``tests/e2e/conftest.py``): which hosts the
tracker stub heard from, the banner's two dialogs, waiting for a page to go quiet, and axe-core."""

from __future__ import annotations

import time
from pathlib import Path

from support.stubs import TrackerStub

# Loopback addresses the tests use for their own servers keep their real address and port.
LOOPBACK = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost")

# Chromium's own service hosts: the browser may open a connection to these by itself.
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


def contacted(stub: TrackerStub) -> set[str]:
    """Every tracker host the browser connected to or sent a request to."""
    return stub.contacted() - CHROMIUM_SERVICES


def requested(stub: TrackerStub) -> set[str]:
    return {hit.host for hit in stub.hits} - CHROMIUM_SERVICES


def banner(page):
    return page.get_by_role("dialog", name="Cookies op deze leeromgeving")


def settings_layer(page):
    return page.get_by_role("dialog", name="Cookie-instellingen")


def settle(page, stub: TrackerStub, quiet: float = 0.5) -> None:
    """Wait until the page's network is idle and the stub has had nothing new for ``quiet`` seconds."""
    page.wait_for_load_state("networkidle")
    last, since = len(stub.hits), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.05)
        if len(stub.hits) != last:
            last, since = len(stub.hits), time.monotonic()


def axe_violations(page, axe: Path, selector: str | None = None, min_passes: int = 5) -> list[dict]:
    """axe-core's violations (WCAG 2.x A/AA and best practices: axe's defaults) for one element, or the
    whole document when ``selector`` is None. ``axe`` is the script (``axe_script()``); it is added to the
    page, so a page with a CSP needs a context with ``bypass_csp=True``. Fails unless axe passed at least
    ``min_passes`` rules, so that an empty selector or a page not yet drawn cannot pass."""
    page.add_script_tag(path=str(axe))
    result = page.evaluate(
        """async (selector) => {
          const r = await axe.run(selector === null ? document : document.querySelector(selector));
          return {passes: r.passes.length, violations: r.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))};
        }""",
        selector,
    )
    assert result["passes"] >= min_passes, result
    return result["violations"]
