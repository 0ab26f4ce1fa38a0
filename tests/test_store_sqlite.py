import asyncio
import sqlite3
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from helpers import rows

from gateway.store import ConsentRecord, open_store

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def record(consent_id: str, minutes: int = 0, method: str = "accept_all") -> ConsentRecord:
    return ConsentRecord(
        consent_id=consent_id,
        recorded_at=T0 + timedelta(minutes=minutes),
        granted=("functional", "analytics"),
        denied=("marketing",),
        revision=1,
        method=method,
        language="nl",
        banner_hash="0123456789abcdef",
        page_path="/cursus/les-1",
        ip_prefix="203.0.113.0",
        browser="Firefox",
        device="desktop",
        gpc=False,
    )


async def test_record_latest_history_export_erase(db_path) -> None:
    store = open_store(f"sqlite:///{db_path}")
    await store.open()
    try:
        await store.record(record("a", 0, "accept_all"))
        await store.record(record("b", 1))
        await store.record(record("a", 2, "withdraw"))
        assert (await store.latest("a")).method == "withdraw"
        assert [r.method for r in await store.history("a")] == ["accept_all", "withdraw"]
        assert (await store.history("a"))[0] == record("a", 0, "accept_all")
        assert await store.latest("nobody") is None
        exported = [r async for r in store.export(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))]
        assert [r.consent_id for r in exported] == ["b"]
        assert len([r async for r in store.export()]) == 3
        assert await store.erase("a") == 2
        assert await store.history("a") == []
        assert [r["consent_id"] for r in rows(db_path)] == ["b"]
    finally:
        await store.close()


async def test_export_streams_in_batches(db_path) -> None:
    store = open_store(f"sqlite:///{db_path}")
    await store.open()
    try:
        await asyncio.gather(*(store.record(record(f"id-{n}", n)) for n in range(1234)))
        exported = [r.consent_id async for r in store.export()]
        assert len(exported) == 1234 and len(set(exported)) == 1234
    finally:
        await store.close()


async def test_wal_and_full_sync(db_path) -> None:
    store = open_store(f"sqlite:///{db_path}")
    await store.open()
    await store.close()
    connection = sqlite3.connect(db_path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 1


async def test_closed_store_refuses_instead_of_losing(db_path) -> None:
    store = open_store(f"sqlite:///{db_path}")
    with pytest.raises(RuntimeError):
        await store.record(record("a"))


async def test_failing_write_reaches_every_waiting_caller(db_path) -> None:
    store = open_store(f"sqlite:///{db_path}")
    await store.open()
    try:
        # Another process drops the table under us: each waiting request must hear about it.
        outside = sqlite3.connect(db_path)
        outside.execute("DROP TABLE consent_record")
        outside.commit()
        outside.close()
        results = await asyncio.gather(*(store.record(record(str(n))) for n in range(5)), return_exceptions=True)
        assert all(isinstance(result, sqlite3.OperationalError) for result in results)
    finally:
        await store.close()


def test_200_concurrent_posts_are_all_durable_even_after_sigkill(demo_server) -> None:
    """Every choice the server acknowledged is on disk, even if the process dies right after."""

    async def post_all() -> list[dict]:
        async with httpx.AsyncClient(base_url=demo_server.url, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.post("/_consent", json={"action": "custom", "categories": ["analytics"]}) for _ in range(200))
            )
        assert [r.status_code for r in responses] == [200] * 200
        return [r.json() for r in responses]

    answers = asyncio.run(post_all())
    demo_server.kill()  # SIGKILL: no shutdown, no flush
    stored = rows(demo_server.db_path)
    assert len(stored) == 200
    assert {row["consent_id"] for row in stored} == {answer["id"] for answer in answers}

    async def read_back() -> None:
        store = open_store(f"sqlite:///{demo_server.db_path}")
        await store.open()
        try:
            for answer in answers:
                latest = await store.latest(answer["id"])
                assert latest is not None and latest.granted == ("functional", "analytics")
        finally:
            await store.close()

    asyncio.run(read_back())


async def test_exported_records_serialise_for_a_privacy_officer(db_path) -> None:
    import json

    store = open_store(f"sqlite:///{db_path}")
    await store.open()
    try:
        await store.record(record("a", 5))
        [exported] = [r.as_dict() async for r in store.export()]
    finally:
        await store.close()
    assert json.loads(json.dumps(exported))["recorded_at"] == "2026-11-01T12:05:00.000000Z"
    assert exported["granted"] == ["functional", "analytics"] and exported["gpc"] is False
