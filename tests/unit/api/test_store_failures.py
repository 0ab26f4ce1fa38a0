"""A store that fails or hangs: consent writes answer 503 within ``store_timeout``, ``/healthz`` within
a second, and the health check notices a store that reads but cannot write."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from support.helpers import SECRET, ThreadedServer, site

from gateway import ConsentMiddleware, Settings

CHOICE = {"action": "accept_all"}


def visitor(server: ThreadedServer, timeout: float) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"origin": server.url}, timeout=timeout)


def writer(app: ConsentMiddleware):
    """The SQLite store's writer connection (white box: the test plays the disk)."""
    return app.components.store._writer


def test_a_full_disk_is_a_503_and_health_says_failing(db_path) -> None:
    app = ConsentMiddleware(site(), settings=Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}"))
    with ThreadedServer(app) as server, visitor(server, timeout=10) as client:
        assert client.post("/_consent", json=CHOICE).status_code == 200
        assert client.get("/_consent/healthz").json() == {"status": "ok"}
        connection = writer(app)
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")  # not one page more: SQLITE_FULL
        statuses = [client.post("/_consent", json=CHOICE).status_code for _ in range(200)]
        full = statuses.index(503)  # the last free room of the file's pages fills first
        assert set(statuses[full:]) == {503} and set(statuses[:full]) <= {200}
        health = client.get("/_consent/healthz")
        assert health.status_code == 503 and health.json()["status"] == "failing"
        connection.execute("PRAGMA max_page_count = 1073741823")  # space again
        assert client.post("/_consent", json=CHOICE).status_code == 200
        assert client.get("/_consent/healthz").status_code == 200


def test_a_read_only_database_fails_the_health_check_without_any_visitor_write(db_path) -> None:
    app = ConsentMiddleware(site(), settings=Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}"))
    with ThreadedServer(app) as server:
        assert httpx.get(server.url + "/_consent/healthz").status_code == 200
        writer(app).execute("PRAGMA query_only = ON")
        health = httpx.get(server.url + "/_consent/healthz")
        assert health.status_code == 503 and health.json()["status"] == "failing"


class Blackhole:
    """A TCP relay to PostgreSQL that can stop passing bytes while keeping every connection open:
    a server that hangs (a dead network path), not one that refuses."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.passing = threading.Event()
        self.passing.set()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self.pipe, args=(source, sink), daemon=True).start()

    def pipe(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.passing.wait()  # held: the bytes go nowhere until the path comes back
            try:
                sink.sendall(data)
            except OSError:
                return


@pytest.fixture
def blackhole(postgres_url: str) -> Iterator[tuple[Blackhole, str]]:
    hole = Blackhole(("127.0.0.1", 5432))
    yield hole, postgres_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{hole.port}/")
    hole.passing.set()
    hole.listener.close()


@pytest.mark.postgres
def test_postgresql_that_hangs_is_a_503_in_seconds_not_half_a_minute(blackhole) -> None:
    hole, url = blackhole
    settings = Settings(secret_key=SECRET, database_url=url, store_timeout=1.0)
    # A client that gives up after 6 s: the 30 to 40 s hangs of before fail this test.
    with ThreadedServer(ConsentMiddleware(site(), settings=settings)) as server, visitor(server, timeout=6) as client:
        assert client.post("/_consent", json=CHOICE).status_code == 200
        hole.passing.clear()
        write = client.post("/_consent", json=CHOICE)
        assert write.status_code == 503 and write.json()["error"] == "store_unavailable"
        health = client.get("/_consent/healthz")
        assert health.status_code == 503 and health.json() == {"status": "failing", "store": "timeout"}
        hole.passing.set()
        recovered = [client.post("/_consent", json=CHOICE).status_code for _ in range(20)]
        assert recovered[-1] == 200  # it comes back by itself
