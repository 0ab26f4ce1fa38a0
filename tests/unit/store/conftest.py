"""The opened store every store test runs against (SQLite and the real PostgreSQL, see ``store_url``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.store import ConsentStore, open_store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[ConsentStore]:
    opened = open_store(store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
