"""Group commit: a process's writers turn many waiting records into few transactions.

Callers hand their row to ``GroupCommit.submit`` and wait; the writer commits
the waiting rows in batches of at most ``batch_size``, one transaction each,
and wakes every caller of a batch at once through one shared future. Batches
are capped so that, under load, the callers woken by one commit fill the next
batch while the commit after it is already running: Python work and database
work overlap instead of taking turns. Each caller still returns only after
the transaction holding its own row has committed.

``GroupCommit(depth=N)`` keeps up to N batches in flight, each writer task
taking the next waiting batch: with PostgreSQL the next batch is then already
queued in the server when the one before it commits, instead of being sent
after the answer has come back through the event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any


class BatchDone(asyncio.Future):
    """Settles once for every caller of a batch.

    Cancelling one waiting caller must not cancel the others' future: refusing
    here makes asyncio deliver that caller's cancellation when the batch has
    committed (its row is in the database either way).
    """

    def cancel(self, msg: Any | None = None) -> bool:
        return False


class StoreTimeout(TimeoutError):
    """A write waited longer than the store's timeout (a database that hangs, not one that refuses)."""


class Batch:
    __slots__ = ("rows", "done", "due")

    def __init__(self, due: float) -> None:
        self.rows: list[Any] = []
        self.done = BatchDone()
        self.due = due  # monotonic time after which its callers are told it failed


def settle(batch: Batch, error: BaseException | None) -> None:
    """Wake the batch's callers with ``error`` or success, unless the deadline watch already told them."""
    if not batch.done.done():
        if error is None:
            batch.done.set_result(None)
        else:
            batch.done.set_exception(error)


class DeadlineWatch:
    """Fails batches whose callers have waited past ``timeout`` seconds, with one timer for all of them.

    A database that hangs (PostgreSQL unreachable behind a dead connection, a stuck disk) would keep
    every caller waiting as long as the driver does, half a minute or more; the API answers 503
    after ``timeout`` instead. A batch not yet taken by a writer is dropped from the queue (``drop``),
    so a backlog of writes the callers gave up on is not committed later; one already committing
    may still land (its callers were told it failed: they try again, and a record twice is harmless)."""

    INTERVAL = 0.1

    def __init__(self, timeout: float, drop: Callable[[Batch], bool]) -> None:
        self.timeout = timeout
        self.drop = drop
        self.watched: deque[Batch] = deque()
        self.timer: asyncio.TimerHandle | None = None

    def due(self) -> float:
        return time.monotonic() + self.timeout

    def watch(self, batch: Batch) -> None:
        self.watched.append(batch)
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.INTERVAL, self.check)

    def check(self) -> None:
        self.timer = None
        now = time.monotonic()
        watched = self.watched
        while watched and (watched[0].done.done() or watched[0].due <= now):
            batch = watched.popleft()
            if not batch.done.done():
                dropped = self.drop(batch)
                what = "was not written" if dropped else "may not have been written"
                batch.done.set_exception(
                    StoreTimeout(f"the consent store did not answer in {self.timeout:g} s: {what}")
                )
        if watched:
            self.timer = asyncio.get_running_loop().call_later(self.INTERVAL, self.check)


def unqueue(group: GroupCommit | ThreadedGroupCommit, batch: Batch) -> bool:
    """Take ``batch`` out of ``group``'s queue (it stops filling); False when a writer has it already."""
    if batch is group._filling:
        group._filling = None
    try:
        group._queue.remove(batch)
    except ValueError:
        return False
    return True


class GroupCommit:
    """The writers of one store in one process: ``depth`` tasks, each committing one batch at a time.

    Batches may commit in any order when ``depth`` > 1; the store's ``commit`` must give them
    their place (PostgreSQL's ``append_consent_records`` does, under its lock)."""

    def __init__(
        self,
        commit: Callable[[list[Any]], Awaitable[None]],
        batch_size: int,
        name: str,
        depth: int = 1,
        timeout: float = 2.0,
    ) -> None:
        if batch_size < 1 or depth < 1:
            raise ValueError("batch_size and depth must be positive")
        self.commit = commit
        self.deadlines = DeadlineWatch(timeout, self._unqueue)
        self.failure: tuple[float, BaseException] | None = None  # when and how the latest commit failed
        self.batch_size = batch_size
        self.name = name
        self.depth = depth
        self._queue: deque[Batch] = deque()
        self._filling: Batch | None = None
        self._wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not self._closing

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._closing = False
        self._tasks = [
            asyncio.create_task(self._write_forever(), name=f"{self.name}-{number}") for number in range(self.depth)
        ]

    async def stop(self) -> None:
        """Commit what was handed over, then end the writers: nobody waits forever."""
        if not self._tasks:
            return
        self._closing = True
        assert self._wakeup is not None
        self._wakeup.set()
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*tasks)

    async def submit(self, row: Any) -> None:
        """Returns once ``row`` is committed; raises what the commit raised."""
        if not self._tasks or self._closing:
            raise RuntimeError("the consent store is not open")
        batch = self._filling
        if batch is None or len(batch.rows) >= self.batch_size:
            batch = self._filling = Batch(self.deadlines.due())
            self._queue.append(batch)
            self.deadlines.watch(batch)
            self._wakeup.set()  # type: ignore[union-attr]
        batch.rows.append(row)
        await batch.done

    def _unqueue(self, batch: Batch) -> bool:
        """Take a batch out of the queue if no writer has it yet; was it taken out?"""
        return unqueue(self, batch)

    async def _write_forever(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = self._queue.popleft()
            if batch is self._filling:
                self._filling = None
            try:
                await self.commit(batch.rows)
            except Exception as error:  # every caller of the batch learns its row was not stored
                self.failure = (time.monotonic(), error)
                settle(batch, error)
            else:
                self.failure = None
                settle(batch, None)


class ThreadedGroupCommit:
    """Group commit for a blocking database driver (sqlite3): the writer thread takes the next batch itself.

    The thread does not wait for the event loop between commits: as soon as
    one batch is committed it takes whatever rows are waiting and commits
    them, and tells the loop about the finished batch through
    ``call_soon_threadsafe``. The loop only appends rows and wakes callers.
    ``commit`` runs on ``executor`` (one thread), between the store's other
    writes on that thread.
    """

    # Batches committed per turn on the executor before other writes (erase, audit) get theirs.
    TURN = 8

    def __init__(
        self, commit: Callable[[list[Any]], None], batch_size: int, executor: Any, timeout: float = 2.0
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.commit = commit
        self.deadlines = DeadlineWatch(timeout, self._unqueue)
        self.failure: tuple[float, BaseException] | None = None  # when and how the latest commit failed
        self.batch_size = batch_size
        self.executor = executor
        self._lock = threading.Lock()
        self._queue: deque[Batch] = deque()
        self._filling: Batch | None = None
        self._draining = False
        self._open = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._open

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._open = True

    async def stop(self) -> None:
        """Commit what was handed over, then return: nobody waits forever."""
        self._open = False
        while True:
            with self._lock:
                busy = self._draining or bool(self._queue)
            if not busy:
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0)  # let the last batches' callers be woken

    def submit(self, row: Any) -> asyncio.Future[None]:
        """Hands ``row`` to the writer; the answer settles once it is committed, with what the commit raised.

        A plain function returning the batch's shared future, not a coroutine: this runs once per
        record, and every awaiting layer less is measurable at tens of thousands of rows a second."""
        if not self._open:
            raise RuntimeError("the consent store is not open")
        drain = False
        with self._lock:
            batch = self._filling
            if batch is None or len(batch.rows) >= self.batch_size:
                batch = self._filling = Batch(self.deadlines.due())
                self._queue.append(batch)
                self.deadlines.watch(batch)
                if not self._draining:
                    self._draining = drain = True
            batch.rows.append(row)
        if drain:
            # Not at once: after the callbacks the loop already has ready, so the rows of
            # requests that arrived together go into one batch instead of the first alone.
            self._loop.call_soon(self.executor.submit, self._drain)  # type: ignore[union-attr]
        return batch.done

    def _unqueue(self, batch: Batch) -> bool:
        """Take a batch out of the queue if the writer thread has not taken it; was it taken out?"""
        with self._lock:
            return unqueue(self, batch)

    def _drain(self) -> None:
        """On the writer thread: commit waiting batches, a turn at a time."""
        assert self._loop is not None
        for _ in range(self.TURN):
            with self._lock:
                if not self._queue:
                    self._draining = False
                    return
                batch = self._queue.popleft()
                if batch is self._filling:
                    self._filling = None
            try:
                self.commit(batch.rows)
            except Exception as error:  # every caller of the batch learns its row was not stored
                self.failure = (time.monotonic(), error)
                self._loop.call_soon_threadsafe(settle, batch, error)
            else:
                self.failure = None
                self._loop.call_soon_threadsafe(settle, batch, None)
        self.executor.submit(self._drain)
