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
from typing import NamedTuple, TypeVar

from starlette.types import Scope

from gateway.net.addresses import anonymise
from gateway.net.request import RequestHead
from gateway.settings import Settings
from gateway.statistics.paths import PageOf, PagePaths
from gateway.statistics.readings import (
    NO_CHOICE,
    agent_of,
    consent_state,
    crawler_of,
    language_of,
    referrer_of,
    site_of_host,
)
from gateway.statistics.tally import MAX_PENDING, StatisticsTally
from gateway.statistics.visitors import DayVisitors

COUNTED_METHODS = frozenset({"GET", "POST"})
NOT_COUNTED_STATUSES = frozenset({204, 205, 206})  # 2xx without a page to show
MEMO_SIZE = 4096  # entries of each memo (header sets, consents, connecting addresses)


class Visit(NamedTuple):
    """What the figures read from a request's headers, worked out once per distinct set of them."""

    site: str
    browser: str | None  # None: a crawler
    device: str
    referrer: str  # "" when none or the site itself
    language: str
    crawler: str  # the crawler family, for a crawler
    hashed: bytes  # browser and site, as the visitor's hash takes them after the address


HeadersKey = tuple[bytes | None, bytes | None, bytes | None, bytes | None]  # host, user agent, referer, language


def read_visit(key: HeadersKey) -> Visit:
    host, user_agent, referer, accept_language = key
    site = site_of_host(host or b"")
    agent = agent_of(user_agent)
    if agent is None:
        return Visit(site, None, "", "", "", crawler_of(user_agent), b"")
    browser, device = agent
    referrer = referrer_of(referer, site) if referer else ""
    return Visit(site, browser, device, referrer, language_of(accept_language), "", f"\n{browser}\n{site}".encode())


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
        self.parameters = settings.statistics_query_parameters  # none: the query string is not read
        self.optional = frozenset(settings.category_names[1:])
        # Memos, each dropped when full: the same headers, consents and peers come back all day.
        self._visits: dict[HeadersKey, Visit] = {}
        self._states: dict[frozenset[str], str] = {}
        self._pages: dict[tuple[str, bytes], PageOf] = {}
        # Who connected, with the forwarding headers, to the anonymised address (``RequestHead.client_address``).
        self._prefixes: dict[tuple[str | None, bytes | None, bytes | None], bytes] = {}

    def count(self, scope: Scope, head: RequestHead, status: int) -> None:
        """Count the page this response answers, when it is a page view."""
        if status != 200 and (not 200 <= status < 300 or status in NOT_COUNTED_STATUSES):
            return
        if scope.get("method") not in COUNTED_METHODS:
            return
        get = head.values.get  # raw header bytes: the memos are keyed by them
        destination = get(b"sec-fetch-dest")
        if destination is not None and destination != b"document":
            return  # fetched by a script or into a frame: part of a page counted already
        visitors = self.visitors
        now = self.clock()
        if now >= visitors.ends:
            visitors.start_day(now)
        headers = (get(b"host"), get(b"user-agent"), get(b"referer"), get(b"accept-language"))
        visit = self._visits.get(headers)
        if visit is None:
            visit = remember(self._visits, headers, read_visit(headers))
        if visit.browser is None:
            self.tally.count_bot((visitors.day, visit.site, visit.crawler))
            return
        page_key = (scope.get("path", "/"), scope.get("query_string", b"") if self.parameters else b"")
        page = self._pages.get(page_key)
        if page is None:
            page = remember(self._pages, page_key, self.paths(*page_key))
        get_prefix = (head.peer, get(b"x-forwarded-for"), get(b"forwarded"))
        prefix = self._prefixes.get(get_prefix)
        if prefix is None:
            prefix = remember(self._prefixes, get_prefix, str(anonymise(head.client_address)).encode())
        consent = scope.get("consent")
        view = (
            visitors.day,
            visit.site,
            page[0],
            page[1],
            visit.referrer,
            visit.browser,
            visit.device,
            visit.language,
            NO_CHOICE if consent is None or consent.id is None else self.consent_state(consent.categories),
            visitors.is_new(prefix + visit.hashed),
        )
        # ``StatisticsTally.count_view``, inlined: this is the one update a page costs.
        views = self.tally.views
        views[view] = views.get(view, 0) + 1
        if len(views) >= MAX_PENDING:
            self.tally.fold()

    def consent_state(self, categories: frozenset[str]) -> str:
        """The state of a decided consent."""
        state = self._states.get(categories)
        if state is None:
            state = remember(self._states, categories, consent_state(True, categories, self.optional))
        return state


K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V) -> V:
    """``value`` kept in ``memo`` under ``key``; a full memo is emptied first."""
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[key] = value
    return value
