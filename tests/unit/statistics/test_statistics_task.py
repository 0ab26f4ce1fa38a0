"""The flush task: two workers sharing one store add up exactly; old days roll up into months; failures are logged."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime

import pytest

from gateway.statistics.tally import StatisticsTally
from gateway.statistics.task import StatisticsTask
from gateway.store import ConsentStore
from gateway.store.statistics import Tally

pytestmark = pytest.mark.anyio
SITE = "www.cursus.nl"
DAY = date(2026, 3, 3)


def view(path: str, new: bool) -> tuple:
    return (DAY, SITE, path, ("Breuken",), "", "Firefox", "desktop", "nl", "none", new)


async def test_two_workers_on_one_store_add_up_exactly(store: ConsentStore) -> None:
    workers = [StatisticsTally(), StatisticsTally()]
    tasks = [StatisticsTask(store, tally, 762, interval=0.01) for tally in workers]
    for task in tasks:
        task.start()
    for n in range(400):
        workers[n % 2].count_view(view(f"/les-{n % 7}", n % 3 == 0))
        if n % 50 == 0:
            await asyncio.sleep(0.02)  # flushes in between, of both workers
    for task in tasks:
        await task.stop()
    figures = {(f.dimension, f.value): (f.views, f.visitors) for f in await store.statistics(DAY, DAY, SITE)}
    assert figures[("total", "")] == (400, 134)
    assert figures[("group", "Breuken")] == (400, 134)
    assert sum(views for (dimension, _), (views, _) in figures.items() if dimension == "path") == 400
    assert figures[("path", "/les-0")] == (58, len([n for n in range(0, 400, 7) if n % 3 == 0]))


async def test_old_days_roll_up_into_months(store: ConsentStore) -> None:
    old, recent = date(2023, 1, 5), date(2026, 3, 1)
    await store.add_statistics({Tally(old, SITE, "total", ""): (3, 2), Tally(recent, SITE, "total", ""): (1, 1)})
    now = datetime(2026, 3, 3, 12, tzinfo=UTC).timestamp()
    task = StatisticsTask(store, StatisticsTally(), 762, clock=lambda: now)
    assert task.cutoff() == date(2024, 1, 31)
    assert await task.roll_up() == 1
    spans = {(f.day, f.span): (f.views, f.visitors) for f in await store.statistics(old, recent, SITE)}
    assert spans == {(date(2023, 1, 1), "month"): (3, 2), (recent, "day"): (1, 1)}


async def test_the_running_task_rolls_up_after_its_delay(store: ConsentStore) -> None:
    await store.add_statistics({Tally(date(2023, 1, 5), SITE, "total", ""): (3, 2)})
    now = datetime(2026, 3, 3, 12, tzinfo=UTC).timestamp()
    task = StatisticsTask(store, StatisticsTally(), 762, interval=0.01, clock=lambda: now, roll_up_delay=0.02)
    task.start()
    await asyncio.sleep(0.2)
    await task.stop()
    assert [f.span for f in await store.statistics(date(2023, 1, 1), date(2023, 1, 31), SITE)] == ["month"]


class BrokenStore:
    async def add_statistics(self, counts) -> None:
        raise OSError("disk full")

    async def roll_up_statistics(self, before) -> int:
        raise OSError("disk full")


async def test_a_failing_store_is_logged_and_the_counts_dropped(caplog: pytest.LogCaptureFixture) -> None:
    tally = StatisticsTally()
    tally.count_view(view("/", True))
    task = StatisticsTask(BrokenStore(), tally, 762)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, "gateway.statistics"):
        await task.flush()
        assert await task.roll_up() == 0
    assert not tally
    assert "could not be stored" in caplog.text and "rolled up" in caplog.text
