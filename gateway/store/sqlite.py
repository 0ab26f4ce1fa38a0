"""The embedded consent store: one SQLite file in WAL mode.

Writes go through a single writer that commits waiting rows in batches, one
transaction each, with ``synchronous=FULL`` (group commit, ``batch.py``);
each caller awaits its own row. SQLite work never runs on the event loop: the
writer and the readers each have a thread and a connection. A batch is
inserted in a few multi-row ``INSERT`` statements rather than row by row, so
the writer thread holds the GIL only to bind values and lets the event loop
run while SQLite works. Consent ids the gateway issues (canonical UUID text)
are stored as 16-byte BLOBs, which keeps the id index small; any other id is
stored as its text. The view ``consent_record_view`` shows every id as text.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from functools import cache
from itertools import chain
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

from . import AuditEntry, ConsentRecord, ConsentStore, DaySummary
from .batch import ThreadedGroupCommit

T = TypeVar("T")

COLUMNS = (
    "consent_id",
    "recorded_at",
    "granted",
    "denied",
    "revision",
    "method",
    "language",
    "banner_hash",
    "page_path",
    "ip_prefix",
    "browser",
    "device",
    "gpc",
)

# Each entry brings the schema from version N to N + 1 (PRAGMA user_version).
MIGRATIONS = (
    """
    CREATE TABLE consent_record (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        consent_id TEXT NOT NULL,
        recorded_at REAL NOT NULL,
        granted TEXT NOT NULL,
        denied TEXT NOT NULL,
        revision INTEGER NOT NULL,
        method TEXT NOT NULL,
        language TEXT NOT NULL,
        banner_hash TEXT NOT NULL,
        page_path TEXT NOT NULL,
        ip_prefix TEXT,
        browser TEXT NOT NULL,
        device TEXT NOT NULL,
        gpc INTEGER NOT NULL
    );
    CREATE INDEX consent_record_by_id ON consent_record (consent_id, seq);
    CREATE INDEX consent_record_by_time ON consent_record (recorded_at);
    """,
    """
    CREATE TABLE admin_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    """,
    # Version 3: consent ids that are UUIDs become 16-byte BLOBs (see id_key).
    lambda connection: store_ids_as_blobs(connection),
    """
    CREATE VIEW consent_record_view AS SELECT seq,
        CASE WHEN typeof(consent_id) = 'blob' THEN lower(
            substr(hex(consent_id), 1, 8) || '-' || substr(hex(consent_id), 9, 4) || '-' ||
            substr(hex(consent_id), 13, 4) || '-' || substr(hex(consent_id), 17, 4) || '-' ||
            substr(hex(consent_id), 21)) ELSE consent_id END AS consent_id,
        recorded_at, granted, denied, revision, method, language, banner_hash, page_path, ip_prefix,
        browser, device, gpc
    FROM consent_record;
    """,
)

INSERT = f"INSERT INTO consent_record ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
SELECT = f"SELECT {', '.join(COLUMNS)} FROM consent_record"
EXPORT_BATCH = 500
# Rows per commit at most: small enough that two batches are in flight under
# load (one committing, one filling), large enough to share an fsync widely.
WRITE_BATCH = 512
# A batch goes in as one INSERT of a multiple of this many rows (padded with
# rows of NULLs), so a handful of prepared statements serve every batch size.
INSERT_CHUNK = 64
CACHE_KIB = 32_768  # per connection
CHECKPOINT_PAGES = 10_000  # about 40 MB of WAL between checkpoints
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def id_key(consent_id: str) -> bytes | str:
    """How ``consent_id`` is stored: 16 bytes for a canonical UUID, the text itself for anything else."""
    if UUID_TEXT.fullmatch(consent_id):
        return bytes.fromhex(consent_id.replace("-", ""))
    return consent_id


def id_text(key: bytes | str) -> str:
    if isinstance(key, bytes):
        digits = key.hex()
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
    return key


@cache
def insert_statement(rows: int) -> str:
    """An INSERT of up to ``rows`` rows; rows of NULLs pad a smaller batch and are skipped."""
    one = f"({', '.join('?' for _ in COLUMNS)})"
    return (
        f"INSERT INTO consent_record ({', '.join(COLUMNS)}) "
        f"SELECT * FROM (VALUES {', '.join([one] * rows)}) WHERE column1 IS NOT NULL"
    )


def store_ids_as_blobs(connection: sqlite3.Connection) -> None:
    found = connection.execute("SELECT seq, consent_id FROM consent_record WHERE typeof(consent_id) = 'text'")
    updates = [(key, seq) for seq, text in found.fetchall() if isinstance(key := id_key(text), bytes)]
    connection.executemany("UPDATE consent_record SET consent_id = ? WHERE seq = ?", updates)


def to_row(record: ConsentRecord) -> tuple:
    return (
        id_key(record.consent_id),
        record.recorded_at.timestamp(),
        ",".join(record.granted),
        ",".join(record.denied),
        record.revision,
        record.method,
        record.language,
        record.banner_hash,
        record.page_path,
        record.ip_prefix,
        record.browser,
        record.device,
        int(record.gpc),
    )


def from_row(row: tuple) -> ConsentRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    values["consent_id"] = id_text(values["consent_id"])
    values["recorded_at"] = datetime.fromtimestamp(values["recorded_at"], UTC)
    values["granted"] = tuple(filter(None, values["granted"].split(",")))
    values["denied"] = tuple(filter(None, values["denied"].split(",")))
    values["gpc"] = bool(values["gpc"])
    return ConsentRecord(**values)


def connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=10000")
    # Random consent ids dirty index pages all over the file: a cache that holds
    # the index and fewer, larger checkpoints (each page written back once per
    # checkpoint, not once per few commits) nearly halve the writer's work.
    connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    connection.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    return connection


def migrate(connection: sqlite3.Connection) -> None:
    """Bring the schema up to date; the write lock is taken first so two starting workers don't race."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            if callable(step):
                step(connection)
            else:
                for statement in filter(str.strip, step.split(";")):
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version={number}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class SQLiteStore(ConsentStore):
    """Consent records in a local SQLite file; the default for a single gateway."""

    def __init__(self, path: str | Path, batch_size: int = WRITE_BATCH) -> None:
        self.path = str(path)
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="consent-sqlite-writer")
        self._group = ThreadedGroupCommit(self._insert, batch_size, self._writer_thread)
        self._reader_thread = ThreadPoolExecutor(1, thread_name_prefix="consent-sqlite-reader")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._on(self._writer_thread, connect, self.path)
        await self._on(self._writer_thread, migrate, self._writer)
        self._reader = await self._on(self._reader_thread, connect, self.path)
        self._group.start()

    async def close(self) -> None:
        if self._group.running:
            await self._group.stop()
        for connection, thread in ((self._writer, self._writer_thread), (self._reader, self._reader_thread)):
            if connection is not None:
                await self._on(thread, connection.close)
        self._writer = self._reader = None

    async def record(self, record: ConsentRecord) -> None:
        await self._group.submit(to_row(record))

    def _insert(self, rows: list[tuple]) -> None:
        """One statement in autocommit mode: SQLite inserts and commits the whole batch in one call
        without the GIL, so the event loop keeps running meanwhile."""
        assert self._writer is not None
        size = -(-len(rows) // INSERT_CHUNK) * INSERT_CHUNK
        padding = (size - len(rows)) * len(COLUMNS)
        values = (*chain.from_iterable(rows), *([None] * padding))
        self._writer.execute(insert_statement(size), values)

    async def latest(self, consent_id: str) -> ConsentRecord | None:
        rows = await self._query(f"{SELECT} WHERE consent_id = ? ORDER BY seq DESC LIMIT 1", (id_key(consent_id),))
        return from_row(rows[0]) if rows else None

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        rows = await self._query(f"{SELECT} WHERE consent_id = ? ORDER BY seq", (id_key(consent_id),))
        return [from_row(row) for row in rows]

    async def export(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> AsyncIterator[ConsentRecord]:
        low = since.timestamp() if since else float("-inf")
        high = until.timestamp() if until else float("inf")
        last_seq = 0
        while True:
            rows = await self._query(
                f"SELECT seq, {', '.join(COLUMNS)} FROM consent_record "
                "WHERE seq > ? AND recorded_at >= ? AND recorded_at < ? ORDER BY seq LIMIT ?",
                (last_seq, low, high, EXPORT_BATCH),
            )
            for row in rows:
                yield from_row(row[1:])
            if len(rows) < EXPORT_BATCH:
                return
            last_seq = rows[-1][0]

    async def erase(self, consent_id: str) -> int:
        def delete() -> int:
            assert self._writer is not None
            sql = "DELETE FROM consent_record WHERE consent_id = ?"
            return self._writer.execute(sql, (id_key(consent_id),)).rowcount

        return await self._on(self._writer_thread, delete)

    async def daily_summary(
        self, since: date | None = None, until: date | None = None, revision: int | None = None
    ) -> list[DaySummary]:
        low = datetime.combine(since, time(), UTC).timestamp() if since else float("-inf")
        high = datetime.combine(until, time(), UTC).timestamp() if until else float("inf")
        rows = await self._query(
            "SELECT date(recorded_at, 'unixepoch') AS day, method, granted, denied, count(*) FROM consent_record "
            "WHERE recorded_at >= ? AND recorded_at < ? AND (? IS NULL OR revision = ?) "
            "GROUP BY day, method, granted, denied ORDER BY day",
            (low, high, revision, revision),
        )
        return summarise_days(rows)

    async def record_audit(self, entry: AuditEntry) -> None:
        def insert() -> None:
            assert self._writer is not None
            self._writer.execute(
                "INSERT INTO admin_audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
                (entry.at.timestamp(), entry.actor, entry.action, entry.detail),
            )

        await self._on(self._writer_thread, insert)

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        sql = "SELECT at, actor, action, detail FROM admin_audit ORDER BY seq DESC LIMIT ?"
        rows = await self._query(sql, (limit,))
        return [AuditEntry(datetime.fromtimestamp(row[0], UTC), *row[1:]) for row in rows]

    async def ping(self) -> None:
        await self._query("SELECT 1", ())

    async def _query(self, sql: str, parameters: tuple) -> list[tuple]:
        if self._reader is None:
            raise RuntimeError("the consent store is not open")
        reader = self._reader
        return await self._on(self._reader_thread, lambda: reader.execute(sql, parameters).fetchall())

    @staticmethod
    async def _on(thread: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(thread, function, *args)


def summarise_days(rows: list[tuple]) -> list[DaySummary]:
    """Fold ``(day, method, granted, denied, count)`` groups into one summary per day."""
    days: dict[str, DaySummary] = {}
    for day, method, granted, denied, count in rows:
        summary = days.get(day)
        if summary is None:
            summary = days[day] = DaySummary(date.fromisoformat(day), 0, {}, {}, {})
        object.__setattr__(summary, "total", summary.total + count)
        summary.by_method[method] = summary.by_method.get(method, 0) + count
        for tally, names in ((summary.granted, granted), (summary.denied, denied)):
            for name in filter(None, names.split(",")):
                tally[name] = tally.get(name, 0) + count
    return [days[day] for day in sorted(days)]
