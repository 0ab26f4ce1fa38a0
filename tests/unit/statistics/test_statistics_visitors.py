"""New today: keyed hashes under a random salt of the day, dropped when the day changes."""

from __future__ import annotations

from datetime import date

from gateway.statistics import visitors as visitors_module
from gateway.statistics.visitors import DayVisitors

NOON = 1_764_936_000.0  # 2025-12-05 12:00 UTC


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_visitor_is_new_once_a_day_per_prefix_browser_and_site() -> None:
    visitors = DayVisitors(Clock(NOON))
    assert visitors.day == date(2025, 12, 5)
    assert visitors.is_new(b"203.0.113.0\nFirefox\nwww.cursus.nl")
    assert not visitors.is_new(b"203.0.113.0\nFirefox\nwww.cursus.nl")
    assert visitors.is_new(b"203.0.113.0\nChrome\nwww.cursus.nl")
    assert visitors.is_new(b"203.0.113.0\nFirefox\nwww.andere.nl")
    assert visitors.is_new(b"198.51.100.0\nFirefox\nwww.cursus.nl")


def test_a_new_day_brings_a_new_salt_and_forgets_everyone() -> None:
    clock = Clock(NOON)
    visitors = DayVisitors(clock)
    visitors.is_new(b"203.0.113.0\nFirefox\nwww.cursus.nl")
    salt = visitors._salt
    assert visitors.ends == 1_764_979_200.0  # midnight
    visitors.start_day(visitors.ends)
    assert visitors.day == date(2025, 12, 6)
    assert visitors._salt != salt and len(visitors._seen) == 0 and len(visitors._digests) == 0
    assert visitors.is_new(b"203.0.113.0\nFirefox\nwww.cursus.nl")


def test_the_salt_is_not_in_the_representation() -> None:
    visitors = DayVisitors(Clock(NOON))
    assert visitors._salt.hex() not in repr(visitors) and "salt" not in repr(visitors)


def test_the_seen_set_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(visitors_module, "MAX_SEEN", 3)
    visitors = DayVisitors(Clock(NOON))
    assert [visitors.is_new(f"203.0.113.{i}\nFirefox\ns".encode()) for i in range(5)] == [True] * 3 + [False] * 2
    assert len(visitors._seen) == 3
