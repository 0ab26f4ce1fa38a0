"""Page views counted in memory by one worker until the next flush to the store.

A page is counted by adding one to the tally of one plain tuple holding
everything the figures read from it (``ViewKey``): a page costs one
dictionary update, however many dimensions it counts under. ``drain`` turns
the tuples into the store's per-dimension ``Tally`` counts. Memory stays
bounded whatever visitors request: the distinct values of a dimension per
day and site are capped at ``VALUE_LIMIT`` (later ones count as ``OTHER``),
sites per day at ``SITE_LIMIT``, and once ``MAX_PENDING`` distinct tuples
wait, they are folded into their capped per-dimension counts at once.
"""

from __future__ import annotations

from datetime import date

from gateway.store.statistics import MAX_VALUE, OTHER, VALUE_LIMIT, Tally

# (day, site, path, groups, referrer, browser, device, language, consent, new today)
ViewKey = tuple[date, str, str, tuple[str, ...], str, str, str, str, str, bool]
BotKey = tuple[date, str, str]  # (day, site, crawler family)
Counts = dict[tuple[date, str, str, str], list[int]]  # (day, site, dimension, value): [views, visitors]

MAX_PENDING = 10_000  # distinct page tuples held before they are folded into per-dimension counts
SITE_LIMIT = 100  # distinct sites per day and worker; more count as OTHER (a flood of invented Host names)


class ValueLimits:
    """The values each dimension has had per day and site: the first ``VALUE_LIMIT`` count as they
    are, later ones as ``OTHER``. Kept for the newest day only."""

    def __init__(self) -> None:
        self.values: dict[tuple[date, str, str], set[str]] = {}
        self.sites: dict[date, set[str]] = {}

    def site(self, day: date, site: str) -> str:
        known = self.sites.setdefault(day, set())
        return admit(known, site, SITE_LIMIT)

    def value(self, day: date, site: str, dimension: str, value: str) -> str:
        known = self.values.setdefault((day, site, dimension), set())
        return admit(known, value, VALUE_LIMIT)

    def keep_newest_day(self) -> None:
        if len(self.sites) > 1:
            newest = max(self.sites)
            self.sites = {newest: self.sites[newest]}
            self.values = {key: known for key, known in self.values.items() if key[0] == newest}


def admit(known: set[str], value: str, limit: int) -> str:
    """``value`` when it is known or there is room for it, else ``OTHER``."""
    if value in known:
        return value
    if len(known) >= limit or len(value) > MAX_VALUE:
        return OTHER
    known.add(value)
    return value


class StatisticsTally:
    """Pages counted since the last ``drain``, in memory, per worker."""

    def __init__(self) -> None:
        self.views: dict[ViewKey, int] = {}
        self.bots: dict[BotKey, int] = {}
        self.folded: Counts = {}
        self.limits = ValueLimits()

    def count_view(self, key: ViewKey) -> None:
        """Count one page a visitor saw (``ViewKey``)."""
        views = self.views
        views[key] = views.get(key, 0) + 1
        if len(views) >= MAX_PENDING:
            self.fold()

    def count_bot(self, key: BotKey) -> None:
        """Count one page a crawler fetched: a view under ``bot``, never a visitor."""
        bots = self.bots
        bots[key] = bots.get(key, 0) + 1
        if len(bots) >= MAX_PENDING:
            self.fold()

    def __bool__(self) -> bool:
        return bool(self.views or self.bots or self.folded)

    def __len__(self) -> int:
        """Entries held in memory (for the bounds)."""
        return len(self.views) + len(self.bots) + len(self.folded)

    def fold(self) -> None:
        """Turn the page tuples into capped per-dimension counts, kept until the next ``drain``."""
        views, self.views = self.views, {}
        bots, self.bots = self.bots, {}
        limits, folded = self.limits, self.folded
        for (day, site, path, groups, referrer, browser, device, language, consent, new), views_count in views.items():
            visitors = views_count if new else 0
            site = limits.site(day, site)
            add(folded, (day, site, "total", ""), views_count, visitors)
            add(folded, (day, site, "path", limits.value(day, site, "path", path)), views_count, visitors)
            for group in groups:
                add(folded, (day, site, "group", group), views_count, visitors)
            if referrer:
                add(
                    folded,
                    (day, site, "referrer", limits.value(day, site, "referrer", referrer)),
                    views_count,
                    visitors,
                )
            add(folded, (day, site, "browser", limits.value(day, site, "browser", browser)), views_count, visitors)
            add(folded, (day, site, "device", device), views_count, visitors)
            add(folded, (day, site, "language", language), views_count, visitors)
            add(folded, (day, site, "consent", consent), views_count, visitors)
        for (day, site, crawler), views_count in bots.items():
            site = limits.site(day, site)
            add(folded, (day, site, "bot", limits.value(day, site, "bot", crawler)), views_count, 0)

    def drain(self) -> dict[Tally, tuple[int, int]]:
        """Everything counted so far as (views, visitors) per ``Tally``; the tally starts again empty."""
        self.fold()
        folded, self.folded = self.folded, {}
        self.limits.keep_newest_day()
        return {Tally(*key): (views, visitors) for key, (views, visitors) in folded.items()}


def add(counts: Counts, key: tuple[date, str, str, str], views: int, visitors: int) -> None:
    entry = counts.get(key)
    if entry is None:
        counts[key] = [views, visitors]
    else:
        entry[0] += views
        entry[1] += visitors
