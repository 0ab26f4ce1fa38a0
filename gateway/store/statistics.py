"""The statistics table: cookieless page figures per day and site, rolled up per month when old.

Placeholder with the lead's contract until the store layer lands on main (merge takes main's file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

OTHER = "(other)"
VALUE_LIMIT = 1000
MAX_VALUE = 300
DIMENSIONS = ("total", "path", "group", "referrer", "browser", "device", "language", "consent", "bot")


@dataclass(frozen=True, slots=True)
class Tally:
    """The key of one counter."""

    day: date
    site: str
    dimension: str
    value: str


@dataclass(frozen=True, slots=True)
class Figure:
    """One stored row."""

    day: date  # the day, or the month's first day when span == "month"
    span: str  # "day" or "month"
    site: str
    dimension: str
    value: str
    views: int
    visitors: int
