"""The background task that moves a worker's tally into the store: every few seconds, and on shutdown.

One batch per source per flush (``ConsentStore.add_sightings``), so the
page path never waits for the database. A flush that fails is logged and
its counts dropped: they are statistics, and holding them would let memory
grow while the store is down. Now and then the task also reads the cookie
names every worker has recorded, so the banner stops reporting them here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from gateway.discovery.cookies import KnownCookies
from gateway.discovery.tally import Tally
from gateway.store.discovery import COOKIE
from gateway.store.record import ConsentStore

log = logging.getLogger("gateway.discovery")

FLUSH_INTERVAL = 5.0  # seconds between two flushes
REFRESH_INTERVAL = 300.0  # seconds between two readings of the known cookie names


class DiscoveryTask:
    """Flushes ``tally`` into ``store`` every ``interval`` seconds and when stopped."""

    def __init__(
        self,
        store: ConsentStore,
        tally: Tally,
        known: KnownCookies,
        interval: float = FLUSH_INTERVAL,
        refresh: float = REFRESH_INTERVAL,
    ) -> None:
        self.store = store
        self.tally = tally
        self.known = known
        self.interval = interval
        self.refresh = refresh
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="discovery-flush")

    async def stop(self) -> None:
        """Stop the task and flush what is left (the store is still open)."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def flush(self) -> None:
        """Add everything tallied so far to the store, one batch per source."""
        if not self.tally:
            return
        now = datetime.now(UTC)
        for source, counts in self.tally.drain().items():
            try:
                await self.store.add_sightings(counts, now, source)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("discovery: %d sightings from %s could not be stored", len(counts), source)
                continue
            for sighting in counts:
                if sighting.kind == COOKIE:
                    self.known.add(sighting.site, (sighting.name,))

    async def load_known(self) -> None:
        """Read the cookie names recorded for every site (by every worker) into ``known``."""
        try:
            rows = await self.store.discovered()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("discovery: the known cookie names could not be read")
            return
        by_site: dict[str, list[str]] = {}
        for row in rows:
            if row.kind == COOKIE:
                by_site.setdefault(row.site, []).append(row.name)
        for site, names in by_site.items():
            self.known.add(site, names)

    async def _run(self) -> None:
        await self.load_known()
        since_refresh = 0.0
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()
            since_refresh += self.interval
            if since_refresh >= self.refresh:
                since_refresh = 0.0
                await self.load_known()
