"""Figures about the pages the gateway rewrote, counted once per response.

The rewriter already lists the services it neutralised in a page
(``RewritePolicy.blocked``); this turns that list into counters when the
page is complete, so the per-tag hot path does no metrics work at all.
"""

from __future__ import annotations

from collections.abc import Callable

from .catalogue import Catalogue
from .metrics import Registry
from .rewrite import GENERIC_BEACON_CATEGORY


class PageMetrics:
    """Rewritten pages, and the tracker elements neutralised in them by category and service."""

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
        self.count_blocked_page = self.pages.incrementer(outcome="blocked")
        self.count_clean_page = self.pages.incrementer(outcome="clean")
        self.count_element: dict[str, Callable[[], None]] = {}  # per service id, made on first use

    def count(self, blocked: list[str]) -> None:
        """Count one rewritten page whose neutralised elements are the service ids in ``blocked``."""
        if not blocked:
            self.count_clean_page()
            return
        self.count_blocked_page()
        for service in blocked:
            increment = self.count_element.get(service)
            if increment is None:
                category = self.category_of.get(service, GENERIC_BEACON_CATEGORY)
                increment = self.count_element[service] = self.blocked.incrementer(category=category, service=service)
            increment()
