"""Figures about the pages the gateway rewrote, counted once per response.

The rewriter already lists the services it neutralised in a page
(``RewritePolicy.blocked``); this turns that list into counters when the
page is complete, so the per-tag hot path does no metrics work at all.
"""

from __future__ import annotations

from gateway.metrics.registry import Registry
from gateway.trackers.catalogue import Catalogue
from gateway.trackers.thirdparty import GENERIC_BEACON_CATEGORY, OTHER_CATEGORY, UNKNOWN_SERVICE, WEB_BEACON


class PageMetrics:
    """Rewritten pages, and the tracker elements neutralised in them by category and service.

    A page is counted by adding one to the tally of its tuple of neutralised
    services; the tallies go into the counters when the metrics are read.
    Most pages come from the page cache with the same tuple, so a page costs
    one dictionary update however many trackers it had.
    """

    def __init__(self, registry: Registry, catalogue: Catalogue) -> None:
        self.pages = registry.counter(
            "gateway_pages_rewritten_total", "HTML pages rewritten, by whether trackers were neutralised.", ["outcome"]
        )
        self.blocked = registry.counter(
            "gateway_blocked_elements_total",
            "Tracker elements neutralised, by category and service.",
            ["category", "service"],
        )
        self.category_of = {service.id: service.category for service in catalogue.services}
        # Elements of no catalogued service count under one label each, never one per host.
        self.category_of.update({WEB_BEACON: GENERIC_BEACON_CATEGORY, UNKNOWN_SERVICE: OTHER_CATEGORY})
        self.pages.incrementer(outcome="blocked")  # both samples start at 0
        self.pages.incrementer(outcome="clean")
        self.tallies: dict[tuple[str, ...], int] = {}
        registry.before_render(self.flush)

    def count(self, blocked: tuple[str, ...]) -> None:
        """Count one rewritten page whose neutralised elements are the service ids in ``blocked``."""
        tallies = self.tallies
        tallies[blocked] = tallies.get(blocked, 0) + 1

    def flush(self) -> None:
        """Move the tallies into the counters."""
        tallies, self.tallies = self.tallies, {}
        for blocked, pages in tallies.items():
            self.pages.inc(pages, outcome="blocked" if blocked else "clean")
            for service in blocked:
                category = self.category_of.get(service, GENERIC_BEACON_CATEGORY)
                self.blocked.inc(pages, category=category, service=service)
