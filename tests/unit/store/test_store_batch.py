"""Group commit with several batches in flight (``GroupCommit(depth=N)``), without a database."""

from __future__ import annotations

import asyncio

import pytest

from gateway.store.batch import GroupCommit

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
