"""The page "Statistics": what the gateway counted without consent, added up for a date range and a site.

The store keeps a row per day, site, dimension and value; after the retention
period the day rows of a month are rolled up into one month row (the sum of
those days). This module only adds rows up for the page: the chart's days
and months, the totals, the most frequent values of each dimension and the
share of visitors per consent state. "Visitors" are visitors new on a day,
so the visitors of a range are the sum of its days.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup

from gateway.admin.chart import Series, count_bars
from gateway.admin.export import spreadsheet_safe
from gateway.admin.language import Texts
from gateway.admin.period import Period, PeriodError, read_period
from gateway.store.statistics import DAY, MAX_SITE, MONTH, Figure

MAX_STATISTICS_DAYS = 1100  # about three years: the 25 months of day rows and a year of months before them
TOP = 10  # values shown per dimension
CONSENT_STATES = ("none", "rejected", "partial", "all")
LISTED = ("path", "group", "referrer", "browser", "device", "language")
BY_VIEWS = frozenset({"path", "group", "referrer", "bot"})  # ranked by page views; the rest by visitors
COLUMNS = ("day", "span", "site", "dimension", "value", "views", "visitors")
VIEWS_COLOUR, VISITORS_COLOUR = "#0072B2", "#E69F00"
ROWS_PER_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Count:
    """One value of a dimension over the range: page views, visitors, and its share of the visitors in %."""

    value: str
    views: int
    visitors: int
    share: float = 0.0


@dataclass(frozen=True, slots=True)
class Slot:
    """A bar of the chart: a day (``key`` ``2025-03-01``) or a rolled-up month (``2025-03``)."""

    key: str
    span: str
    views: int
    visitors: int


@dataclass(frozen=True)
class Overview:
    """Everything the page shows of one site (``None``: every site) in one range."""

    period: Period
    sites: tuple[str, ...]
    site: str | None
    days: tuple[Slot, ...]
    months: tuple[Slot, ...]
    views: int
    visitors: int
    top: Mapping[str, tuple[Count, ...]]
    consent: tuple[Count, ...]
    bots: tuple[Count, ...]
    bot_views: int

    @property
    def empty(self) -> bool:
        return self.views == 0 and self.bot_views == 0


def read_filter(query: Mapping[str, str], today: date | None = None) -> tuple[Period, str | None]:
    """``from``/``to`` (the last 30 days by default, at most ``MAX_STATISTICS_DAYS``) and ``site`` (none: all)."""
    period = read_period({name: query.get(name, "") for name in ("from", "to")}, today, MAX_STATISTICS_DAYS)
    site = query.get("site", "").strip().lower()
    if len(site) > MAX_SITE:
        raise PeriodError("error.site", "site: a site is a host name like www.example.nl")
    return period, site or None


def overview(figures: Sequence[Figure], period: Period, sites: Sequence[str], site: str | None) -> Overview:
    """The figures of ``period`` (as ``ConsentStore.statistics`` gives them) added up for the page."""
    totals = [figure for figure in figures if figure.dimension == "total"]
    days, months = chart_slots(totals, period)
    return Overview(
        period=period,
        sites=tuple(sites),
        site=site,
        days=days,
        months=months,
        views=sum(figure.views for figure in totals),
        visitors=sum(figure.visitors for figure in totals),
        top={dimension: top_values(figures, dimension) for dimension in LISTED},
        consent=consent_shares(figures),
        bots=top_values(figures, "bot"),
        bot_views=sum(figure.views for figure in figures if figure.dimension == "bot"),
    )


def chart_slots(totals: Iterable[Figure], period: Period) -> tuple[tuple[Slot, ...], tuple[Slot, ...]]:
    """The day bars and the month bars of the "total" rows.

    Without month rows every day of the range has a bar (quiet days stay empty). Month rows stand
    for days rolled up: the day bars then start at the first day that still has a day row."""
    by_day: dict[date, tuple[int, int]] = {}
    by_month: dict[date, tuple[int, int]] = {}
    for figure in totals:
        into = by_month if figure.span == MONTH else by_day
        views, visitors = into.get(figure.day, (0, 0))
        into[figure.day] = (views + figure.views, visitors + figure.visitors)
    months = tuple(Slot(month.strftime("%Y-%m"), MONTH, *by_month[month]) for month in sorted(by_month))
    if months and not by_day:
        return (), months
    first = min(by_day) if months else period.first
    count = (period.last - first).days + 1
    days = (first + timedelta(days=offset) for offset in range(count))
    return tuple(Slot(day.isoformat(), DAY, *by_day.get(day, (0, 0))) for day in days), months


def top_values(figures: Iterable[Figure], dimension: str, limit: int = TOP) -> tuple[Count, ...]:
    """The ``limit`` most frequent values of ``dimension``, by page views or by visitors (``BY_VIEWS``)."""
    summed = _sums(figures, dimension)
    visitors = sum(counts[1] for counts in summed.values())
    rank = 0 if dimension in BY_VIEWS else 1
    ordered = sorted(summed.items(), key=lambda item: (-item[1][rank], -item[1][1 - rank], item[0]))
    return tuple(Count(value, views, count, percent(count, visitors)) for value, (views, count) in ordered[:limit])


def consent_shares(figures: Iterable[Figure]) -> tuple[Count, ...]:
    """Every consent state, the four known ones first and in their order, with its share of the visitors."""
    summed = _sums(figures, "consent")
    visitors = sum(counts[1] for counts in summed.values())
    states = [*CONSENT_STATES, *sorted(set(summed) - set(CONSENT_STATES))]
    return tuple(
        Count(state, *summed.get(state, (0, 0)), percent(summed.get(state, (0, 0))[1], visitors)) for state in states
    )


def percent(part: int, whole: int) -> float:
    return 100 * part / whole if whole else 0.0


def charts(shown: Overview, texts: Texts) -> tuple[Markup | None, Markup | None]:
    """The day chart and the month chart (``None`` where there are no bars to draw)."""
    tip = texts.plain

    def draw(slots: tuple[Slot, ...], title: str) -> Markup | None:
        if not slots:
            return None
        series = [
            Series(texts.plain("stats.views"), VIEWS_COLOUR, [slot.views for slot in slots]),
            Series(texts.plain("stats.visitors"), VISITORS_COLOUR, [slot.visitors for slot in slots]),
        ]
        keys = [slot.key for slot in slots]
        return count_bars(keys, keys, series, title, lambda **values: tip("stats.chart_tip", **values))

    return draw(shown.days, texts.plain("stats.chart_days")), draw(shown.months, texts.plain("stats.chart_months"))


def csv_rows(figures: Iterable[Figure]) -> Iterator[list[str]]:
    """The stored rows as CSV cells; values and sites came from visitors' requests, so spreadsheet-safe."""
    for figure in figures:
        cells = [figure.day.isoformat(), figure.span, figure.site, figure.dimension, figure.value]
        yield [spreadsheet_safe(cell) for cell in cells] + [str(figure.views), str(figure.visitors)]


def csv_chunks(figures: Sequence[Figure]) -> Iterator[bytes]:
    """The header and the rows, a few hundred per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for index, row in enumerate(csv_rows(figures), start=1):
        writer.writerow(row)
        if index % ROWS_PER_CHUNK == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def csv_filename(period: Period, site: str | None) -> str:
    name = (re.sub(r"[^a-z0-9.-]+", "-", site) or "none") if site else "all-sites"  # ASCII: a header value
    return f"statistics-{name}-{period.first.isoformat()}-to-{period.last.isoformat()}.csv"


def _sums(figures: Iterable[Figure], dimension: str) -> dict[str, tuple[int, int]]:
    summed: dict[str, tuple[int, int]] = {}
    for figure in figures:
        if figure.dimension == dimension:
            views, visitors = summed.get(figure.value, (0, 0))
            summed[figure.value] = (views + figure.views, visitors + figure.visitors)
    return summed


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")
