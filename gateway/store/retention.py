"""Retention: records older than the period become daily counts, then go.

``purge`` (each store implements it) takes the oldest records up to the cut-off
(a prefix in ``seq`` order, so the tamper-evidence chain keeps one checkpoint
where it now starts), checks their chain, adds them to per-day aggregates
(counts per revision, method, device class and granted/denied categories)
and deletes them, all in one transaction. Aggregates are kept for good;
``daily_summary`` reads them beside the live records.

``RetentionTask`` runs that once a day inside a gateway process; with
several processes, the store makes sure only one purges at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from gateway.store.record import ConsentStore, DaySummary

log = logging.getLogger("gateway.retention")

DAY = 24 * 3600.0


@dataclass(frozen=True)
class PurgeReport:
    """What one purge did; ``skipped`` when another process was purging at the time."""

    cutoff: datetime
    deleted: int = 0
    through_seq: int = 0  # the checkpoint left behind (0: nothing purged)
    skipped: bool = False


def cutoff_for(retention_days: int, now: datetime | None = None) -> datetime:
    """Start of the UTC day ``retention_days`` before today: whole days are purged, never half of one."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return datetime.combine(today - timedelta(days=retention_days), time(), UTC)


def summarise_days(rows: list[tuple]) -> list[DaySummary]:
    """Fold ``(day, method, granted, denied, count)`` groups into one summary per day, oldest first.

    ``day`` is an ISO date text or a ``date``; the same day may come from live
    records and from aggregates, and is added up.
    """
    days: dict[date, DaySummary] = {}
    for day, method, granted, denied, count in rows:
        key = day if isinstance(day, date) else date.fromisoformat(day)
        summary = days.get(key)
        if summary is None:
            summary = days[key] = DaySummary(key, 0, {}, {}, {})
        object.__setattr__(summary, "total", summary.total + count)
        summary.by_method[method] = summary.by_method.get(method, 0) + count
        for tally, names in ((summary.granted, granted), (summary.denied, denied)):
            for name in filter(None, names.split(",")):
                tally[name] = tally.get(name, 0) + count
    return [days[key] for key in sorted(days)]


class RetentionTask:
    """Purges ``store`` once a day (the first time ``first_delay`` seconds after start-up)."""

    def __init__(
        self, store: ConsentStore, retention_days: int, first_delay: float = 60.0, interval: float = DAY
    ) -> None:
        self.store = store
        self.retention_days = retention_days
        self.first_delay = first_delay
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="consent-retention")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay)
        while True:
            try:
                report = await self.store.purge(cutoff_for(self.retention_days))
            except asyncio.CancelledError:
                raise
            except Exception:  # the gateway keeps serving; the next day tries again
                log.exception("consent record purge failed")
            else:
                if report.deleted:
                    log.info("purged %d consent records older than %s", report.deleted, report.cutoff.date())
            await asyncio.sleep(self.interval)
