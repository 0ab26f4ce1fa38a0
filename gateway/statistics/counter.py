"""The page path's hook: ``PageCounter.count``, called once per HTML response the visitor gets.

Called by the page responder (``gateway.pages.responder``) for HTML
responses only, so JSON, images and scripts never reach it; it returns at
once for anything that is no page view (not 2xx, no content, HEAD, a page
fetched by a script or into a frame). A page view costs a few memoised
readings, one keyed hash and one dictionary update (``StatisticsTally``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import Scope

from gateway.consent.state import Consent
from gateway.net.addresses import anonymise
from gateway.net.request import RequestHead
from gateway.settings import Settings
from gateway.statistics.paths import PagePaths
from gateway.statistics.readings import (
    agent_of,
    consent_state,
    crawler_of,
    language_of,
    referrer_of,
    site_of_host,
)
from gateway.statistics.tally import StatisticsTally
from gateway.statistics.visitors import DayVisitors

COUNTED_METHODS = frozenset({"GET", "POST"})
NOT_COUNTED_STATUSES = frozenset({204, 205, 206})  # 2xx without a page to show


class PageCounter:
    """Counts the page views of one worker into ``tally``; ``clock`` is ``time.time`` but for tests."""

    def __init__(
        self, settings: Settings, tally: StatisticsTally | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.tally = tally if tally is not None else StatisticsTally()
        self.clock = clock
        self.visitors = DayVisitors(clock)
        self.paths = PagePaths(
            settings.statistics_groups,  # type: ignore[arg-type]  # settled as StatisticsGroup
            settings.statistics_query_parameters,
            settings.case_sensitive_paths,
        )
        self.optional = frozenset(settings.category_names[1:])
        self._states: dict[tuple[bool, frozenset[str]], str] = {}

    def count(self, scope: Scope, head: RequestHead, status: int) -> None:
        """Count the page this response answers, when it is a page view."""
        if not 200 <= status < 300 or status in NOT_COUNTED_STATUSES or scope.get("method") not in COUNTED_METHODS:
            return
        destination = head.fetch_dest
        if destination is not None and destination != "document":
            return  # fetched by a script or into a frame: part of a page counted already
        visitors = self.visitors
        now = self.clock()
        if now >= visitors.ends:
            visitors.start_day(now)
        day = visitors.day
        site = site_of_host(head.host)
        user_agent = head.user_agent
        agent = agent_of(user_agent)
        if agent is None:
            self.tally.count_bot((day, site, crawler_of(user_agent)))
            return
        browser, device = agent
        path, groups = self.paths(scope.get("path", "/"), scope.get("query_string", b""))
        referer = head.referer
        self.tally.count_view(
            (
                day,
                site,
                path,
                groups,
                referrer_of(referer, site) if referer else "",
                browser,
                device,
                language_of(head.accept_language),
                self.consent_state(scope.get("consent")),
                visitors.is_new(anonymise(head.client_address), browser, site),
            )
        )

    def consent_state(self, consent: Consent | None) -> str:
        if consent is None:
            return consent_state(False, frozenset(), self.optional)
        key = (consent.id is not None, consent.categories)
        state = self._states.get(key)
        if state is None:
            if len(self._states) >= 256:
                self._states.clear()
            state = self._states[key] = consent_state(key[0], key[1], self.optional)
        return state
