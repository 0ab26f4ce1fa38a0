import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from support.helpers import rows
from support.records import T0, record

from gateway.store import ConsentRecord, open_store
from gateway.store.sqlite import MIGRATIONS

pytestmark = pytest.mark.anyio


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
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


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
        every_client_at_once = httpx.Limits(max_connections=None)
        async with httpx.AsyncClient(base_url=demo_server.url, timeout=30, limits=every_client_at_once) as client:
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


def test_daily_summary_and_audit_log(tmp_path):
    import asyncio
    from datetime import date, timedelta

    from gateway.store import AuditEntry
    from gateway.store.sqlite import SQLiteStore

    def choice(moment, method, granted, denied, revision=1):
        return ConsentRecord(
            f"00000000-0000-4000-8000-{moment.second:012d}",
            moment,
            granted,
            denied,
            revision,
            method,
            "nl",
            "h",
            "/",
            None,
            "Chrome",
            "desktop",
            method == "gpc",
        )

    async def scenario():
        store = SQLiteStore(tmp_path / "c.db")
        await store.open()
        day = datetime(2026, 3, 1, 10, tzinfo=UTC)
        await store.record(choice(day, "accept_all", ("functional", "analytics", "marketing"), ()))
        rejected = ("analytics", "marketing")
        await store.record(choice(day + timedelta(seconds=1), "reject_all", ("functional",), rejected))
        await store.record(choice(day + timedelta(days=1), "custom", ("functional", "analytics"), ("marketing",), 2))
        days = await store.daily_summary()
        only_revision_2 = await store.daily_summary(revision=2)
        first_day = await store.daily_summary(since=date(2026, 3, 1), until=date(2026, 3, 2))
        await store.record_audit(AuditEntry(day, "admin", "lookup", "one id"))
        await store.record_audit(AuditEntry(day, "admin", "erase", "another id"))
        log = await store.audit_log()
        await store.close()
        return days, only_revision_2, first_day, log

    days, only_revision_2, first_day, log = asyncio.run(scenario())
    assert [d.day for d in days] == [date(2026, 3, 1), date(2026, 3, 2)]
    assert days[0].total == 2
    assert days[0].by_method == {"accept_all": 1, "reject_all": 1}
    assert days[0].granted == {"functional": 2, "analytics": 1, "marketing": 1}
    assert days[0].denied == {"analytics": 1, "marketing": 1}
    assert [d.day for d in only_revision_2] == [date(2026, 3, 2)]
    assert [d.day for d in first_day] == [date(2026, 3, 1)]
    assert [e.action for e in log] == ["erase", "lookup"]


async def test_uuid_ids_are_stored_as_16_bytes_and_read_back_as_text(db_path) -> None:
    issued = "3f2c8a4e-9b1d-4c7e-8f00-0123456789ab"
    store = open_store(f"sqlite:///{db_path}")
    await store.open()
    try:
        await store.record(record(issued))
        await store.record(record("not-a-uuid"))
        await store.record(record(issued.upper()))  # not the canonical form: kept as text, found as given
        assert (await store.latest(issued)).consent_id == issued
        assert (await store.latest(issued.upper())).consent_id == issued.upper()
        assert [r.consent_id async for r in store.export()] == [issued, "not-a-uuid", issued.upper()]
    finally:
        await store.close()
    connection = sqlite3.connect(db_path)
    kinds = connection.execute("SELECT typeof(consent_id), length(consent_id) FROM consent_record ORDER BY seq")
    assert kinds.fetchall() == [("blob", 16), ("text", 10), ("text", 36)]
    assert [row["consent_id"] for row in rows(db_path)] == [issued, "not-a-uuid", issued.upper()]


async def test_a_version_2_file_is_migrated_with_its_ids(db_path) -> None:
    from gateway.store.sqlite import COLUMNS, connect, to_row

    issued = "3f2c8a4e-9b1d-4c7e-8f00-0123456789ab"
    old = connect(str(db_path))
    for script in MIGRATIONS[:2]:
        old.executescript(script)
    old.execute("PRAGMA user_version=2")
    text_row = (issued, *to_row(record(issued))[1 : len(COLUMNS)])
    old.execute(f"INSERT INTO consent_record ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", text_row)
    old.close()
    store = open_store(f"sqlite:///{db_path}")
    await store.open()
    try:
        assert (await store.latest(issued)).consent_id == issued
    finally:
        await store.close()
    assert sqlite3.connect(db_path).execute("SELECT typeof(consent_id) FROM consent_record").fetchone() == ("blob",)


async def test_a_cancelled_caller_does_not_cancel_the_others_in_its_batch(db_path) -> None:
    store = open_store(f"sqlite:///{db_path}")
    await store.open()
    try:
        callers = [asyncio.create_task(store.record(record(f"id-{n}", n))) for n in range(50)]
        await asyncio.sleep(0)  # all fifty are waiting on their batch now
        callers[0].cancel()
        results = await asyncio.gather(*callers, return_exceptions=True)
        assert isinstance(results[0], asyncio.CancelledError)
        assert results[1:] == [None] * 49
        # The cancelled caller's row was already on its way: cancelling never loses a committed choice halfway.
        assert len([r async for r in store.export()]) == 50
    finally:
        await store.close()


async def test_batches_are_capped_and_every_row_lands_once(db_path) -> None:
    from gateway.store.sqlite import SQLiteStore

    store = SQLiteStore(db_path, batch_size=7)
    await store.open()
    try:
        await asyncio.gather(*(store.record(record(f"id-{n}", n)) for n in range(100)))
    finally:
        await store.close()
    assert sorted(row["consent_id"] for row in rows(db_path)) == sorted(f"id-{n}" for n in range(100))


async def test_ids_and_values_like_the_padding_are_stored_in_a_padded_batch(db_path) -> None:
    """Batches are padded to a multiple of rows with zeros and the padding is filtered out by its
    first column: a text id "0" and a record without IP prefix must still go in, each exactly once."""
    from dataclasses import replace

    from gateway.store.sqlite import SQLiteStore

    store = SQLiteStore(db_path)
    await store.open()
    try:
        given = [record("0"), replace(record("", 1), ip_prefix=None), record("3f2c8a4e-9b1d-4c7e-8f00-0123456789ab", 2)]
        await asyncio.gather(*(store.record(r) for r in given))  # one batch of 3, padded
        assert [r async for r in store.export()] == given
        assert (await store.verify()).ok
    finally:
        await store.close()
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM consent_record").fetchone() == (3,)
