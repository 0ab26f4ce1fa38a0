"""``consent-gateway db upgrade``, ``records verify`` and ``records purge`` on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from support.records import raw, record, uuid_for

from gateway.store import open_store


def cli(store_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATABASE_URL"] = store_url
    command = [sys.executable, "-m", "gateway.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def write(store_url: str, records: list) -> None:
    async def scenario() -> None:
        store = open_store(store_url)
        await store.open()
        try:
            for item in records:
                await store.record(item)
        finally:
            await store.close()

    asyncio.run(scenario())


def test_db_upgrade_brings_a_new_database_to_the_newest_schema(store_url: str) -> None:
    first = cli(store_url, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("schema upgraded from version 0 to ")
    again = cli(store_url, "db", "upgrade")
    assert again.returncode == 0 and again.stdout.startswith("schema is up to date")


def test_records_verify_names_an_edited_and_a_deleted_record(store_url: str) -> None:
    write(store_url, [record(uuid_for(n), n) for n in range(1, 6)])
    intact = cli(store_url, "records", "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "checked 5 records" in intact.stdout and "OK" in intact.stdout

    raw(store_url, "UPDATE consent_record SET denied = '' WHERE seq = 2")
    raw(store_url, "DELETE FROM consent_record WHERE seq = 4")
    broken = cli(store_url, "records", "verify")
    assert broken.returncode == 1
    lines = [line for line in broken.stdout.splitlines() if line.startswith("TAMPERED")]
    assert len(lines) == 2
    assert f"seq 2 (consent id {uuid_for(2)}): changed" in lines[0]
    assert f"seq 5 (consent id {uuid_for(5)}): records 4..4 before it were deleted" in lines[1]


def test_records_purge_keeps_counts_and_a_verifiable_chain(store_url: str) -> None:
    now = datetime.now(UTC)
    old = [record(uuid_for(n), 0, recorded_at=now - timedelta(days=40, minutes=n)) for n in range(3, 0, -1)]
    write(store_url, [*old, record(uuid_for(9), 0, recorded_at=now)])
    purged = cli(store_url, "records", "purge", "--days", "30")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.startswith("purged 3 records from before ")
    verified = cli(store_url, "records", "verify")
    assert verified.returncode == 0, verified.stdout
    assert "checked 1 records from checkpoint at seq 3" in verified.stdout
    nothing = cli(store_url, "records", "purge", "--days", "30")
    assert nothing.stdout.startswith("nothing to purge")


def test_retention_days_comes_from_the_settings_and_must_be_positive(tmp_path) -> None:
    import pytest

    from gateway.settings import Settings, SettingsError

    assert Settings(secret_key="x" * 32).retention_days == 365
    assert Settings.load(environ={"GATEWAY_RETENTION_DAYS": "30"}, secret_key="x" * 32).retention_days == 30
    with pytest.raises(SettingsError, match="^retention_days:"):
        Settings(secret_key="x" * 32, retention_days=0)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    result = cli(url, "records", "purge", "--days", "0")
    assert result.returncode == 2 and "--days" in result.stderr
