"""Group commit with several batches in flight (``GroupCommit(depth=N)``) and write deadlines, without a database."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.store.batch import GroupCommit, StoreTimeout, ThreadedGroupCommit

pytestmark = pytest.mark.anyio


class Recorder:
    """A commit function that holds every batch until told to let it through."""

    def __init__(self) -> None:
        self.started: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail: set[int] = set()

    async def commit(self, rows: list[int]) -> None:
        self.started.append(list(rows))
        await self.release.wait()
        if self.fail & set(rows):
            raise RuntimeError(f"batch {rows} failed")


async def test_up_to_depth_batches_are_in_flight_and_the_rest_wait_together() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.commit, batch_size=100, name="test", depth=2)
    group.start()
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    second = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(group.submit(n)) for n in range(3, 8)]
    await asyncio.sleep(0.01)
    assert recorder.started == [[1], [2]]  # two in flight; the third batch fills while they commit
    recorder.release.set()
    await asyncio.gather(first, second, *waiting)
    assert recorder.started == [[1], [2], [3, 4, 5, 6, 7]]
    await group.stop()


async def test_a_failing_batch_fails_only_its_own_callers() -> None:
    recorder = Recorder()
    recorder.fail = {2}
    group = GroupCommit(recorder.commit, batch_size=1, name="test", depth=3)
    group.start()
    callers = [asyncio.create_task(group.submit(n)) for n in range(1, 5)]
    await asyncio.sleep(0.01)
    recorder.release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert [isinstance(result, RuntimeError) for result in results] == [False, True, False, False]
    await group.stop()


async def test_stop_commits_what_was_handed_over_by_every_writer() -> None:
    recorder = Recorder()
    recorder.release.set()
    group = GroupCommit(recorder.commit, batch_size=2, name="test", depth=3)
    group.start()
    callers = [asyncio.create_task(group.submit(n)) for n in range(20)]
    await asyncio.sleep(0)
    await group.stop()
    await asyncio.gather(*callers)
    assert sorted(row for batch in recorder.started for row in batch) == list(range(20))
    assert not group.running
    with pytest.raises(RuntimeError):
        await group.submit(99)


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError):
        GroupCommit(lambda rows: None, batch_size=1, name="test", depth=0)  # type: ignore[arg-type,return-value]


# ---- deadlines: a store that hangs fails its callers in time ---------------------------------------


async def test_a_hanging_commit_fails_its_callers_after_the_timeout_and_drops_queued_batches() -> None:
    recorder = Recorder()  # never released: the database hangs
    group = GroupCommit(recorder.commit, batch_size=2, name="test", depth=1, timeout=0.3)
    group.start()
    calls = [asyncio.create_task(group.submit(n)) for n in range(4)]  # batch [0, 1] commits, [2, 3] waits
    done, pending = await asyncio.wait(calls, timeout=2)
    assert not pending
    assert all(isinstance(call.exception(), StoreTimeout) for call in calls)
    assert "was not written" in str(calls[2].exception())  # never handed to the database
    assert "may not have been written" in str(calls[0].exception())  # the database has it
    recorder.release.set()  # the hung commit ends after all: nothing breaks, the dropped batch stays dropped
    await asyncio.sleep(0.05)
    assert recorder.started == [[0, 1]]
    await group.stop()


async def test_a_hanging_thread_commit_fails_its_callers_and_a_late_answer_is_ignored() -> None:
    release = threading.Event()
    committed: list[list[int]] = []

    def commit(rows: list[int]) -> None:
        release.wait(5)
        committed.append(list(rows))

    executor = ThreadPoolExecutor(1)
    group = ThreadedGroupCommit(commit, batch_size=10, executor=executor, timeout=0.3)
    group.start()
    with pytest.raises(StoreTimeout):
        await asyncio.wait_for(group.submit(1), 2)
    release.set()
    await group.stop()  # the late answer settles nothing twice
    assert committed == [[1]]
    executor.shutdown()
