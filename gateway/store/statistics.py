"""The statistics table: page views and new visitors per day, site and dimension, counted without consent.

The gateway counts pages on the server (``gateway.statistics``) and adds its
counts here in batches. A row says "on 3 March, 41 pages of www.cursus.nl
were viewed under the path /breuken and 17 visitors were new that day"; no
row holds an address, a user agent or anything that tells visitors apart.
Every (day, site, dimension) keeps at most ``VALUE_LIMIT`` distinct values;
later values, and values longer than ``MAX_VALUE``, are counted under
``OTHER``, so a crawler requesting random URLs cannot grow the table without
end. After the retention period, day rows are rolled up into month rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

OTHER = "(other)"
VALUE_LIMIT = 1000  # distinct values per (day, site, dimension), OTHER aside
MAX_VALUE = 300  # characters of a value; longer values are counted under OTHER
MAX_SITE = 253  # a DNS name's length
# What a row counts by. "total" has the one value ""; "bot" counts crawlers' page views (never visitors).
DIMENSIONS = ("total", "path", "group", "referrer", "browser", "device", "language", "consent", "bot")
DAY = "day"
MONTH = "month"


@dataclass(frozen=True, slots=True)
class Tally:
    """The key of one counter: a value of a dimension on a site on a day."""

    day: date
    site: str
    dimension: str
    value: str


@dataclass(frozen=True, slots=True)
class Figure:
    """One stored row: the counts of a day (``span == "day"``) or of a month (its first day)."""

    day: date
    span: str
    site: str
    dimension: str
    value: str
    views: int
    visitors: int


def storable_rows(counts: Mapping[Tally, tuple[int, int]]) -> Iterator[tuple[date, str, str, str, int, int]]:
    """The rows worth adding, in key order (so concurrent writers take their locks in one order).

    Unknown dimensions, empty or over-long sites and empty counts are dropped; an over-long value
    is counted under ``OTHER``."""
    for tally in sorted(counts, key=lambda t: (t.site, t.day, t.dimension, t.value)):
        views, visitors = counts[tally]
        if tally.dimension not in DIMENSIONS or not 0 < len(tally.site) <= MAX_SITE:
            continue
        if views < 0 or visitors < 0 or views + visitors == 0:
            continue
        value = tally.value if len(tally.value) <= MAX_VALUE else OTHER
        yield tally.day, tally.site, tally.dimension, value, views, visitors


def month_of(day: date) -> date:
    """The first day of ``day``'s month: the key of its month row."""
    return day.replace(day=1)
