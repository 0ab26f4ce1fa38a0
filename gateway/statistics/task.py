"""The background task that moves a worker's page counts into the store, and rolls old days into months.

Every few seconds, and on shutdown, the tally goes to the store in one batch
(``ConsentStore.add_statistics``), so the page path never waits for the
database. A flush that fails is logged and its counts dropped: they are
statistics, and holding them would let memory grow while the store is down.
A minute after start and every ``ROLL_UP_INTERVAL`` the day rows older than
``statistics_retention_days`` become month rows (``roll_up_statistics``);
with several workers or instances each does it, which the store makes safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from gateway.statistics.tally import StatisticsTally
from gateway.store.record import ConsentStore

log = logging.getLogger("gateway.statistics")

FLUSH_INTERVAL = 5.0  # seconds between two flushes
ROLL_UP_INTERVAL = 6 * 3600.0  # seconds between two roll-ups of old days into months
FLUSH_TIMEOUT = 30.0  # seconds a flush may take before its counts are given up
STOP_TIMEOUT = 10.0  # seconds the last flush of a stopping task may take
ROLL_UP_DELAY = 60.0  # seconds after start before the first roll-up: start-up belongs to the visitors
ROLL_UP_TIMEOUT = 120.0  # seconds a roll-up may take; a store that hangs does not keep a connection for ever


class StatisticsTask:
    """Flushes ``tally`` into ``store`` every ``interval`` seconds and when stopped; rolls up old days."""

    def __init__(
        self,
        store: ConsentStore,
        tally: StatisticsTally,
        retention_days: int,
        interval: float = FLUSH_INTERVAL,
        roll_up_interval: float = ROLL_UP_INTERVAL,
        clock: Callable[[], float] = time.time,
        roll_up_delay: float = ROLL_UP_DELAY,
    ) -> None:
        self.store = store
        self.tally = tally
        self.retention_days = retention_days
        self.interval = interval
        self.roll_up_interval = roll_up_interval
        self.roll_up_delay = roll_up_delay
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="statistics-flush")

    async def stop(self) -> None:
        """Stop the task and flush what is left (the store is still open).

        The task is asked to stop, not cancelled: a cancel in the middle of a flush would lose the
        counts it had drained. One that does not finish within ``STOP_TIMEOUT`` is cancelled."""
        if self._task is not None:
            task, self._task = self._task, None
            self._stopping.set()
            if task.get_loop() is not asyncio.get_running_loop():
                task.cancel()  # started under another event loop (a test client's), which may be gone
            elif not task.done():
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, STOP_TIMEOUT)
        await self.flush()

    async def flush(self) -> None:
        """Add everything counted so far to the store, in one batch."""
        if not self.tally:
            return
        counts = self.tally.drain()
        try:
            await asyncio.wait_for(self.store.add_statistics(counts), FLUSH_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("statistics: %d counts could not be stored", len(counts))

    def cutoff(self) -> date:
        """The first day kept as day rows: earlier days become month rows."""
        today = datetime.fromtimestamp(self.clock(), UTC).date()
        return today - timedelta(days=self.retention_days)

    async def roll_up(self) -> int:
        """Roll the day rows older than the retention into month rows; the number of rows rolled."""
        try:
            rolled = await asyncio.wait_for(self.store.roll_up_statistics(self.cutoff()), ROLL_UP_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("statistics: old days could not be rolled up into months")
            return 0
        if rolled:
            log.info("statistics: %d day rows rolled up into months", rolled)
        return rolled

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        roll_up_at = loop.time() + self.roll_up_delay
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            await self.flush()
            if loop.time() >= roll_up_at and not self._stopping.is_set():
                roll_up_at = loop.time() + self.roll_up_interval
                await self.roll_up()
