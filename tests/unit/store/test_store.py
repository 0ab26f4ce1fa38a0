"""The consent store contract, run against SQLite and against the real PostgreSQL (``store_url``)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from support.records import T0, raw, record, uuid_for

from gateway.store import AuditEntry, ConsentStore, open_store
from gateway.store.chain import TamperedError

pytestmark = pytest.mark.anyio


async def test_record_latest_history_export(store: ConsentStore) -> None:
    await store.record(record("a", 0, "accept_all"))
    await store.record(record(uuid_for(1), 1))
    await store.record(record("a", 2, "withdraw"))
    assert (await store.latest("a")).method == "withdraw"
    assert [r.method for r in await store.history("a")] == ["accept_all", "withdraw"]
    assert (await store.history("a"))[0] == record("a", 0, "accept_all")
    assert (await store.latest(uuid_for(1))) == record(uuid_for(1), 1)
    assert await store.latest("nobody") is None
    exported = [r async for r in store.export(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))]
    assert [r.consent_id for r in exported] == [uuid_for(1)]
    assert len([r async for r in store.export()]) == 3


async def test_export_streams_in_batches(store: ConsentStore) -> None:
    await asyncio.gather(*(store.record(record(uuid_for(n), n)) for n in range(1234)))
    exported = [r.consent_id async for r in store.export()]
    assert len(exported) == 1234 and set(exported) == {uuid_for(n) for n in range(1234)}


async def test_closed_store_refuses_instead_of_losing(store_url: str) -> None:
    store = open_store(store_url)
    with pytest.raises(RuntimeError):
        await store.record(record("a"))


async def test_schema_is_at_the_newest_version(store: ConsentStore) -> None:
    version, newest = await store.schema_version()
    assert version == newest >= 1


async def test_erase_makes_the_id_unfindable_and_keeps_the_chain(store: ConsentStore) -> None:
    await store.record(record("a", 0))
    await store.record(record("b", 1))
    await store.record(record("a", 2, "withdraw"))
    assert await store.erase("a") == 2
    assert await store.erase("a") == 0
    assert await store.latest("a") is None and await store.history("a") == []
    assert [r.consent_id async for r in store.export()] == ["b"]
    report = await store.verify()
    assert report.ok and report.checked == 3 and report.erased == 2
    # The choices still count in the day summary: erasure removes the person, not the statistic.
    [day] = await store.daily_summary()
    assert day.total == 3


async def test_two_writers_keep_one_chain(store_url: str) -> None:
    """Two stores on one database (as two gateway processes): every row once, one linear chain."""
    first, second = open_store(store_url), open_store(store_url)
    await first.open()
    await second.open()
    try:
        await asyncio.gather(
            *(first.record(record(uuid_for(n), n)) for n in range(300)),
            *(second.record(record(uuid_for(1000 + n), n)) for n in range(300)),
        )
        report = await first.verify()
        exported = [r.consent_id async for r in second.export()]
    finally:
        await first.close()
        await second.close()
    assert report.ok, report.problems
    assert report.checked == 600 and report.head_seq == 600
    assert sorted(exported) == sorted([uuid_for(n) for n in range(300)] + [uuid_for(1000 + n) for n in range(300)])


@pytest.mark.postgres
async def test_batches_in_flight_together_keep_one_chain_in_seq_order(postgres_url: str) -> None:
    """Small batches, several in flight per store, two stores: the chain is still one line, seq has no gaps."""
    import psycopg

    from gateway.store.postgres import PostgresStore

    stores = [PostgresStore(postgres_url, batch_size=3, depth=4) for _ in range(2)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        await asyncio.gather(*(stores[n % 2].record(record(uuid_for(n), n)) for n in range(400)))
        report = await stores[0].verify()
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    assert report.ok, report.problems
    assert report.checked == 400 and report.head_seq == 400
    with psycopg.connect(postgres_url) as connection:
        seqs = [row[0] for row in connection.execute("SELECT seq FROM consent_record ORDER BY seq")]
    assert seqs == list(range(1, 401))


async def test_awkward_text_comes_back_as_it_was_written(store: ConsentStore) -> None:
    """Quotes, backslashes, braces, commas and the word NULL in every text field (PostgreSQL gets them
    inside array literals), no IP prefix, a time with an offset: stored and read back unchanged."""
    awkward = "a\"b\\c{d},e NULL 'f' é☃"
    written = record(
        awkward,
        recorded_at=datetime(2026, 3, 29, 2, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        granted=("functional", 'x"y'),
        denied=("{z}",),
        method=awkward,
        language='n"l',
        banner_hash="\\x00",
        page_path="/les/{1},2?",
        ip_prefix=None,
        browser="NULL",
        device="",
        gpc=True,
    )
    await store.record(written)
    await store.record(record("plain", ip_prefix="198.51.100.0"))
    back = await store.latest(awkward)
    assert back == replace(written, recorded_at=written.recorded_at.astimezone(UTC))
    assert (await store.latest("plain")).ip_prefix == "198.51.100.0"
    assert (await store.verify()).ok


async def test_verify_names_an_edited_a_deleted_and_an_inserted_record(store_url: str, store: ConsentStore) -> None:
    for n in range(1, 7):
        await store.record(record(uuid_for(n), n))
    assert (await store.verify()).ok
    raw(store_url, "UPDATE consent_record SET method = 'reject_all' WHERE seq = 2")
    raw(store_url, "DELETE FROM consent_record WHERE seq = 4")
    report = await store.verify()
    assert not report.ok
    problems = {problem.seq: problem for problem in report.problems}
    assert sorted(problems) == [2, 5]
    assert "changed" in problems[2].what and problems[2].consent_id == uuid_for(2)
    assert "4..4" in problems[5].what and "deleted" in problems[5].what


async def test_verify_notices_the_newest_records_missing(store_url: str, store: ConsentStore) -> None:
    for n in range(1, 4):
        await store.record(record(uuid_for(n), n))
    raw(store_url, "DELETE FROM consent_record WHERE seq = 3")
    report = await store.verify()
    assert [(p.seq, p.what) for p in report.problems] == [(3, "records 3..3 were deleted")]


async def test_verify_notices_a_forged_copy(store_url: str, store: ConsentStore) -> None:
    for n in range(1, 4):
        await store.record(record(uuid_for(n), n))
    # A record slipped in between, its digest right for its fields but not part of the chain.
    raw(store_url, "UPDATE consent_record SET seq = seq + 10 WHERE seq = 3")
    raw(
        store_url,
        "INSERT INTO consent_record SELECT 3, consent_id, recorded_at, granted, denied, revision, method, language, "
        "banner_hash, page_path, ip_prefix, browser, device, gpc, digest, chain, erased "
        "FROM consent_record WHERE seq = 2",
    )
    report = await store.verify()
    assert [p.seq for p in report.problems] == [3]  # the original, renumbered to 13, still links to it
    assert "inserted" in report.problems[0].what


async def test_purge_turns_old_records_into_day_counts(store_url: str, store: ConsentStore) -> None:
    days = [T0 - timedelta(days=d) for d in (400, 399, 399, 30, 0)]
    choices = [
        ("accept_all", ("functional", "analytics", "marketing"), (), "desktop"),
        ("reject_all", ("functional",), ("analytics", "marketing"), "mobile"),
        ("custom", ("functional", "analytics"), ("marketing",), "mobile"),
    ]
    written = []
    for index in range(60):
        method, granted, denied, device = choices[index % 3]
        moment = days[index % 5] + timedelta(seconds=index)
        written.append(
            record(uuid_for(index), 0, method, granted=granted, denied=denied, device=device, recorded_at=moment)
        )
    for item in sorted(written, key=lambda r: r.recorded_at):
        await store.record(item)
    before = await store.daily_summary()
    cutoff = datetime.combine(date(2026, 11, 1) - timedelta(days=365), datetime.min.time(), UTC)
    old = [r for r in written if r.recorded_at < cutoff]
    assert len(old) == 36

    report = await store.purge(cutoff)

    assert report.deleted == len(old)
    assert await store.latest(old[0].consent_id) is None
    assert len([r async for r in store.export()]) == 60 - len(old)
    # The chart keeps the purged days, with the same counts.
    assert await store.daily_summary() == before
    assert await store.daily_summary(revision=2) == []
    purged_days = await store.daily_summary(until=cutoff.date())
    assert sum(day.total for day in purged_days) == len(old)
    expected = Counter((r.recorded_at.date(), r.method, r.device, ",".join(r.granted)) for r in old)
    assert await aggregate_counts(store_url) == expected
    # Verification starts at the checkpoint the purge left; a second purge has nothing to do.
    verified = await store.verify()
    assert verified.ok and verified.start_seq == len(old) and verified.checked == 60 - len(old)
    assert (await store.purge(cutoff)).deleted == 0


async def aggregate_counts(store_url: str) -> Counter:
    sql = "SELECT day, method, device, granted, count FROM consent_aggregate"
    if store_url.startswith("sqlite:///"):
        connection = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        rows = [(date.fromisoformat(day), *rest) for day, *rest in connection.execute(sql)]
        connection.close()
    else:
        import psycopg

        with psycopg.connect(store_url) as connection:
            rows = connection.execute(sql).fetchall()
    counts: Counter = Counter()
    for day, method, device, granted, count in rows:
        counts[(day, method, device, granted)] += count
    return counts


async def test_purge_refuses_to_hide_a_changed_record(store_url: str, store: ConsentStore) -> None:
    for n in range(1, 4):
        await store.record(record(uuid_for(n), n, recorded_at=T0 - timedelta(days=500) + timedelta(minutes=n)))
    raw(store_url, "UPDATE consent_record SET granted = 'functional' WHERE seq = 2")
    with pytest.raises(TamperedError):
        await store.purge(T0)
    assert len([r async for r in store.export()]) == 3


async def test_daily_summary_and_audit_log(store: ConsentStore) -> None:
    day = datetime(2026, 3, 1, 10, tzinfo=UTC)
    everything = ("functional", "analytics", "marketing")
    await store.record(record(uuid_for(1), 0, "accept_all", recorded_at=day, granted=everything, denied=()))
    moment, only_required, rejected = day + timedelta(seconds=1), ("functional",), ("analytics", "marketing")
    await store.record(record(uuid_for(2), 0, "reject_all", recorded_at=moment, granted=only_required, denied=rejected))
    next_day = day + timedelta(days=1)
    await store.record(record(uuid_for(3), 0, "custom", recorded_at=next_day, revision=2))
    days = await store.daily_summary()
    assert [d.day for d in days] == [date(2026, 3, 1), date(2026, 3, 2)]
    assert days[0].total == 2
    assert days[0].by_method == {"accept_all": 1, "reject_all": 1}
    assert days[0].granted == {"functional": 2, "analytics": 1, "marketing": 1}
    assert days[0].denied == {"analytics": 1, "marketing": 1}
    assert [d.day for d in await store.daily_summary(revision=2)] == [date(2026, 3, 2)]
    assert [d.day for d in await store.daily_summary(since=date(2026, 3, 1), until=date(2026, 3, 2))] == [
        date(2026, 3, 1)
    ]
    await store.record_audit(AuditEntry(day, "admin", "lookup", "one id"))
    await store.record_audit(AuditEntry(day, "admin", "erase", "another id"))
    log = await store.audit_log()
    assert [e.action for e in log] == ["erase", "lookup"] and log[0].at == day


async def test_failing_write_reaches_every_waiting_caller(store_url: str, store: ConsentStore) -> None:
    raw(store_url, "DROP TABLE consent_record")
    results = await asyncio.gather(*(store.record(record(str(n))) for n in range(5)), return_exceptions=True)
    assert all(isinstance(result, Exception) for result in results)
    assert len({type(result) for result in results}) == 1


async def test_retention_task_purges_in_the_background(store: ConsentStore) -> None:
    from gateway.store.retention import RetentionTask

    now = datetime.now(UTC)
    await store.record(record(uuid_for(1), 0, recorded_at=now - timedelta(days=400)))
    await store.record(record(uuid_for(2), 0, recorded_at=now))
    task = RetentionTask(store, retention_days=365, first_delay=0, interval=3600)
    task.start()
    try:
        for _ in range(250):
            if await store.latest(uuid_for(1)) is None:
                break
            await asyncio.sleep(0.02)
    finally:
        await task.stop()
    assert await store.latest(uuid_for(1)) is None
    assert await store.latest(uuid_for(2)) is not None
    assert sum(day.total for day in await store.daily_summary()) == 2


@pytest.mark.postgres
async def test_only_one_process_purges_at_a_time(postgres_url: str) -> None:
    import psycopg

    from gateway.store.postgres import PURGE_LOCK

    store = open_store(postgres_url)
    await store.open()
    try:
        await store.record(record(uuid_for(1), 0, recorded_at=T0 - timedelta(days=500)))
        with psycopg.connect(postgres_url, autocommit=True) as other:  # another gateway, purging right now
            other.execute("SELECT pg_advisory_lock(hashtext(current_schema() || %s))", (PURGE_LOCK,))
            assert (await store.purge(T0)).skipped
            assert await store.latest(uuid_for(1)) is not None
            # Released now, not whenever the server gets round to ending this session.
            other.execute("SELECT pg_advisory_unlock(hashtext(current_schema() || %s))", (PURGE_LOCK,))
        report = await store.purge(T0)
        assert not report.skipped and report.deleted == 1
    finally:
        await store.close()


async def test_processes_starting_together_migrate_once(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        versions = {await store.schema_version() for store in stores}
        await asyncio.gather(*(store.record(record(uuid_for(n), n)) for n, store in enumerate(stores)))
        assert (await stores[0].verify()).checked == 4
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    [(version, newest)] = versions
    assert version == newest


async def test_a_large_purge_goes_in_chunks_and_counts_every_record(monkeypatch, store_url: str) -> None:
    import gateway.store.sqlite

    monkeypatch.setattr(gateway.store.sqlite, "PURGE_CHUNK", 7)
    if store_url.startswith("postgresql:"):  # psycopg is optional: the SQLite run must not import it
        import gateway.store.postgres

        monkeypatch.setattr(gateway.store.postgres, "PURGE_CHUNK", 7)
    store = open_store(store_url)
    await store.open()
    try:
        old = T0 - timedelta(days=500)
        await asyncio.gather(*(store.record(record(uuid_for(n), 0, recorded_at=old)) for n in range(30)))
        await store.record(record(uuid_for(99), 0))
        report = await store.purge(T0 - timedelta(days=1))
        assert report.deleted == 30 and report.through_seq == 30
        assert sum(day.total for day in await store.daily_summary()) == 31
        verified = await store.verify()
        assert verified.ok and verified.start_seq == 30 and verified.checked == 1
    finally:
        await store.close()
