from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SECRET, Server, site, start_demo
from starlette.testclient import TestClient

from gateway import ConsentMiddleware, Settings


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
