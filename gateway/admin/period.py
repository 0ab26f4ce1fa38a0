"""The date range and revision an admin page is filtered by, read from the query string."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

DEFAULT_DAYS = 30
MAX_DAYS = 400
# Days outside these cannot overflow a range's arithmetic (``until``, the default ``from``).
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)


class PeriodError(ValueError):
    """A filter the admin cannot use: ``key`` names the message (in the admin's locale files), ``values``
    fill it in; the exception's own text is the English one."""

    def __init__(self, key: str, english: str, **values: object) -> None:
        super().__init__(english)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Period:
    """UTC days ``first`` to ``last``, both included, optionally of one policy revision."""

    first: date
    last: date
    revision: int | None = None

    @property
    def until(self) -> date:
        """The day after ``last``: stores take half-open ranges."""
        return self.last + timedelta(days=1)

    @property
    def since_time(self) -> datetime:
        return datetime.combine(self.first, time(), UTC)

    @property
    def until_time(self) -> datetime:
        return datetime.combine(self.until, time(), UTC)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range((self.last - self.first).days + 1)]

    def query(self) -> dict[str, str]:
        """The query-string form, for links that keep the filter."""
        values = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        if self.revision is not None:
            values["revision"] = str(self.revision)
        return values


def read_period(query: Mapping[str, str], today: date | None = None, max_days: int = MAX_DAYS) -> Period:
    """``from``/``to`` (YYYY-MM-DD, both included) and ``revision``; the last 30 days by default."""
    today = today or datetime.now(UTC).date()
    last = _day(query, "to") or today
    first = _day(query, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise PeriodError("period.order", "from: must not be after 'to'")
    if (last - first).days + 1 > max_days:
        raise PeriodError("period.span", f"from: a range may span at most {max_days} days", days=max_days)
    raw_revision = query.get("revision", "").strip()
    if raw_revision and (not raw_revision.isdigit() or int(raw_revision) < 1):
        raise PeriodError("period.revision", "revision: must be a whole number of 1 or higher")
    return Period(first, last, int(raw_revision) if raw_revision else None)


def _day(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
        if not EARLIEST <= day <= LATEST:
            raise ValueError(raw)
        return day
    except ValueError:
        shown = repr(raw[:40])
        raise PeriodError(
            "period.date", f"{name}: {shown} is not a date like 2025-03-31", field=name, value=shown
        ) from None
