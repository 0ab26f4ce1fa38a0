"""The admin's shared state in the store (sign-in attempts, revoked sessions, audit redaction),
against SQLite and the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.store import AuditEntry, ConsentStore

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
WINDOW = NOW - timedelta(minutes=15)


async def test_concurrent_attempts_are_counted_one_at_a_time(store: ConsentStore) -> None:
    keys = ("address 203.0.113.7", "user fg")
    answers = await asyncio.gather(*(store.reserve_login(keys, WINDOW, 10, NOW) for _ in range(50)))
    assert answers.count(True) == 10
    assert not await store.reserve_login(("address 198.51.100.1", "user fg"), WINDOW, 10, NOW)  # the user is full
    assert await store.reserve_login(("address 198.51.100.1", "user other"), WINDOW, 10, NOW)


async def test_old_attempts_fall_out_of_the_window_and_a_success_clears(store: ConsentStore) -> None:
    keys = ("address 203.0.113.7",)
    for _ in range(10):
        assert await store.reserve_login(keys, WINDOW - timedelta(minutes=30), 10, NOW - timedelta(minutes=20))
    assert await store.reserve_login(keys, WINDOW, 10, NOW)  # the ten are older than the window
    await store.clear_logins(keys)
    assert all([await store.reserve_login(keys, WINDOW, 10, NOW) for _ in range(10)])


async def test_revoked_sessions(store: ConsentStore) -> None:
    assert not await store.session_revoked("abc")
    await store.revoke_session("abc", datetime.now(UTC) + timedelta(minutes=30))
    await store.revoke_session("abc", datetime.now(UTC) + timedelta(minutes=30))  # twice is fine
    assert await store.session_revoked("abc") and not await store.session_revoked("abd")


async def test_redact_audit(store: ConsentStore) -> None:
    secret = "0b6f7d0e-3c1a-4f7e-9a51-2d8c4b1e6f90"
    await store.record_audit(AuditEntry(NOW, "fg", "lookup", f"consent {secret}: 2 records"))
    await store.record_audit(AuditEntry(NOW, "fg", "export", "2026-12-01 to 2026-12-05"))
    assert await store.redact_audit(secret, "erased:abc") == 1
    assert [entry.detail for entry in await store.audit_log()] == [
        "2026-12-01 to 2026-12-05",
        "consent erased:abc: 2 records",
    ]
