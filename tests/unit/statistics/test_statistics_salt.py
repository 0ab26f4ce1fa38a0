"""The day salt and the visitors it hashed leave no trace: no file, table or log holds them after a run."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from support.statistics import FIREFOX, browse, gateway, make_settings, read_figures, today

from gateway.statistics.counter import PageCounter


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def postgres_texts(database_url: str) -> list[bytes]:
    """Every text and binary value of every table of the test's schema."""
    import psycopg

    values: list[bytes] = []
    with psycopg.connect(database_url) as connection:
        columns = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND data_type IN ('text', 'character varying', 'bytea', 'json', 'jsonb', 'ARRAY')"
        ).fetchall()
        for table, column in columns:
            for (value,) in connection.execute(f'SELECT "{column}"::text FROM "{table}"'):
                if value is not None:
                    values.append(value.encode())
    return values


def test_the_salt_is_in_no_file_table_or_log(store_url: str, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    salts: list[bytes] = []
    with gateway(make_settings(store_url), interval=0.05) as (client, app):
        counter = app.components.page_rules.statistics
        browse(client, app)
        salts.append(counter.visitors._salt)
        counter.visitors.start_day(counter.visitors.ends)  # a second day's salt, the first dropped
        browse(client, app)
        salts.append(counter.visitors._salt)
        asyncio.run(asyncio.sleep(0.2))
    assert read_figures(store_url, today())  # something was written
    stored = [path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()]  # the run's data directory
    if store_url.startswith("postgres"):
        stored += postgres_texts(store_url)
    assert any(b"Breuken" in blob for blob in stored)  # the table's contents were searched
    logged = caplog.text.encode()
    for salt in salts:
        for form in (salt, salt.hex().encode(), salt.hex().upper().encode(), repr(salt).encode()):
            assert not any(form in blob for blob in stored)
            assert form not in logged


def test_the_day_change_drops_the_salt_and_the_seen_set(tmp_path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'c.db'}")
    with gateway(settings) as (client, app):
        clock = Clock(app.components.page_rules.statistics.visitors.ends - 1)  # a second to midnight
        # the page rules hand each response to their counter: one with a clock of the test's
        counter = app.page_rules.statistics = PageCounter(settings, app.components.statistics.tally, clock)
        first_day, salt = counter.visitors.day, counter.visitors._salt
        client.get("/", headers={"x-forwarded-for": "198.51.100.7", "user-agent": FIREFOX})
        client.get("/", headers={"x-forwarded-for": "198.51.100.7", "user-agent": FIREFOX})
        clock.now += 1
        client.get("/", headers={"x-forwarded-for": "198.51.100.7", "user-agent": FIREFOX})
        assert counter.visitors.day == first_day + timedelta(days=1)
        assert counter.visitors._salt != salt and len(counter.visitors._seen) == 1
    first = read_figures(settings.database_url, first_day)
    second = read_figures(settings.database_url, first_day + timedelta(days=1))
    assert first[("total", "")] == (2, 1)
    assert second[("total", "")] == (1, 1)  # new again on the new day
