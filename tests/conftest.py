from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.helpers import SECRET, Server, site, start_demo

from gateway import ConsentMiddleware, Settings
from gateway.store import ConsentStore, open_store

E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests, and any test that drives a browser or nginx, are ``slow``: left out by the quick run."""
    for item in items:
        if E2E in Path(item.path).parents or item.get_closest_marker("browser") or item.get_closest_marker("nginx"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "consent.db"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(ConsentMiddleware(site(), settings=settings), base_url="http://leerplein.test") as test_client:
        yield test_client


@pytest.fixture
def demo_server(db_path: Path) -> Iterator[Server]:
    server = start_demo(db_path)
    yield server
    server.kill()


POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards (parallel runs don't meet)."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}: {error}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            separator = "&" if "?" in POSTGRES_URL else "?"
            yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every store test runs against SQLite and against the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[ConsentStore]:
    """An opened store of each kind (``store_url``), closed after the test."""
    opened = open_store(store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
