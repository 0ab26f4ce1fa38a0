"""Consent records and admin set-ups that tests and benchmarks share: record factories, a store
seeded behind the gateway's back, the admin's credentials."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.testclient import TestClient

from gateway import ConsentMiddleware, Settings
from gateway.admin.passwords import hash_password
from gateway.store import ConsentRecord, open_store
from gateway.store.discovery import ScanRun, Sighting
from gateway.store.sqlite import SQLiteStore
from support.helpers import SECRET, site

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def record(consent_id: str, minutes: int = 0, method: str = "accept_all", **changes) -> ConsentRecord:
    fields = dict(
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
    return ConsentRecord(**(fields | changes))


def uuid_for(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def raw(store_url: str, sql: str) -> None:
    """Change the database behind the store's back, as a stray script or a bad restore would."""
    if store_url.startswith("sqlite:///"):
        connection = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        connection.execute(sql)
        connection.commit()
        connection.close()
    else:
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as connection:
            connection.execute(sql)


ADMIN = "/_consent/admin"
PASSWORD = "een-lang-geheim-wachtwoord"
PASSWORD_HASH = hash_password(PASSWORD, iterations=1000)  # few rounds: the tests sign in often
TOKEN = "admin-token-0123456789abcdef"
ALICE = "0b6f7d0e-3c1a-4f7e-9a51-2d8c4b1e6f90"
BOB = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def record_on(consent_id: str, when: str, method: str = "accept_all", revision: int = 1) -> ConsentRecord:
    granted = {
        "accept_all": ("functional", "analytics", "marketing"),
        "custom": ("functional", "analytics"),
        "gpc": ("functional", "analytics"),
    }.get(method, ("functional",))
    denied = tuple(c for c in ("functional", "analytics", "marketing") if c not in granted)
    return record(consent_id, method=method, recorded_at=at(when), granted=granted, denied=denied, revision=revision)


def seed(db_path: Path, records: list[ConsentRecord]) -> None:
    """Write records through a store of our own, as earlier visitors would have."""

    async def write() -> None:
        store = SQLiteStore(db_path)
        await store.open()
        try:
            for item in records:
                await store.record(item)
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as thread:  # its own thread: Playwright's event loop may be running in this one
        thread.submit(asyncio.run, write()).result()


def add_sightings(
    store_url: str,
    site: str,
    sightings: list[tuple[str, str, str | None, int]],
    seen_at: datetime = T0,
    scan: ScanRun | None = None,
) -> None:
    """Fill the discovery table as pages (and a scan) would: ``(kind, name, service, pages)`` per row."""

    async def write() -> None:
        store = open_store(store_url)
        await store.open()
        try:
            counts = {Sighting(site, kind, name, service): pages for kind, name, service, pages in sightings}
            await store.add_sightings(counts, seen_at, "page")
            if scan is not None:
                await store.record_scan(scan)
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as thread:  # its own thread, as in seed
        thread.submit(asyncio.run, write()).result()


# What the demo's pages load, as discovery records it: (kind, host, service).
DEMO_SERVICES = (
    ("script", "www.googletagmanager.com", "google-analytics"),
    ("iframe", "www.googletagmanager.com", "google-tag-manager"),
    ("script", "connect.facebook.net", "meta-pixel"),
    ("script", "snap.licdn.com", "linkedin-insight"),
    ("script", "static.hotjar.com", "hotjar"),
    ("iframe", "www.youtube.com", "youtube"),
)


def seed_discovery(db_path: Path, site: str = "127.0.0.1", found=DEMO_SERVICES) -> None:
    """The discovery table of a gateway's SQLite file filled for ``site``, as its pages would fill it."""
    add_sightings(f"sqlite:///{db_path}", site, [(kind, name, service, 1) for kind, name, service in found])


def audit(db_path: Path) -> list[dict]:
    connection = sqlite3.connect(db_path)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute("SELECT * FROM admin_audit ORDER BY seq")]
    finally:
        connection.close()


def admin_settings(db_path: Path, **overrides) -> Settings:
    # English where the browser names no language (test clients send no Accept-Language): the tests read English.
    values = {"admin_user": "fg", "admin_password_hash": PASSWORD_HASH, "default_language": "en", **overrides}
    return Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", **values)


ADMIN_ORIGIN = "http://leerplein.test"


@contextmanager
def signed_in(settings: Settings) -> Iterator[TestClient]:
    """A client of the gateway (in front of ``support.helpers.site``) signed in to the admin as "fg"."""
    with TestClient(ConsentMiddleware(site(), settings=settings), base_url=ADMIN_ORIGIN) as client:
        form = client.get(f"{ADMIN}/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        data = {"csrf": csrf, "user": "fg", "password": PASSWORD, "next": ADMIN}
        response = client.post(f"{ADMIN}/login", data=data, headers={"origin": ADMIN_ORIGIN}, follow_redirects=False)
        assert response.status_code == 303
        yield client
