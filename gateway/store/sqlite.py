"""The embedded consent store: one SQLite file in WAL mode.

Writes go through a single writer thread that commits waiting rows in
batches (group commit, ``batch.py``) with ``synchronous=FULL``; each caller
awaits its own row. SQLite work never runs on the event loop: the writer and
the readers each have a thread and a connection. A batch goes in as one
multi-row ``INSERT`` in autocommit mode, so the writer holds the GIL only to
bind values, and SQLite inserts and commits while the event loop runs.

The rows are linked into the tamper-evidence chain (``chain.py``) from the
chain head this writer saw last; the ``INSERT`` inserts nothing when the head
has moved (another process sharing the file wrote), and the batch is then
linked again under the write lock. Consent ids the gateway issues (canonical
UUID text) are stored as 16-byte BLOBs, which keeps the id index small; any
other id is stored as its text. The view ``consent_record_view`` shows the
live (not erased) records with every id as text.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time as clock
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from functools import cache
from hashlib import sha256
from pathlib import Path
from typing import Any, TypeVar

from gateway.store.batch import ThreadedGroupCommit
from gateway.store.chain import (
    EPOCH,
    GENESIS,
    ONE_MICROSECOND,
    ChainReport,
    StoredRecord,
    TamperedError,
    digest,
    encode_fields,
    link,
    verify_records,
)
from gateway.store.discovery import SITE_LIMIT, Discovered, ScanRun, Sighting, storable
from gateway.store.record import RECORD_COLUMNS, AuditEntry, ConsentRecord, ConsentStore, DaySummary
from gateway.store.retention import PurgeReport, summarise_days
from gateway.store.statistics import DAY, MONTH, OTHER, VALUE_LIMIT, Figure, Tally, month_of, storable_rows

T = TypeVar("T")

COLUMNS = RECORD_COLUMNS

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
    # Version 5: tamper evidence (chain.py), erasure that keeps the chain, retention aggregates.
    """
    ALTER TABLE consent_record ADD COLUMN digest BLOB;
    ALTER TABLE consent_record ADD COLUMN chain BLOB;
    ALTER TABLE consent_record ADD COLUMN erased INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE chain_checkpoint (
        seq INTEGER PRIMARY KEY,
        chain BLOB NOT NULL,
        purged_at REAL NOT NULL,
        deleted INTEGER NOT NULL
    );
    CREATE TABLE consent_aggregate (
        day TEXT NOT NULL,
        revision INTEGER NOT NULL,
        method TEXT NOT NULL,
        device TEXT NOT NULL,
        granted TEXT NOT NULL,
        denied TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (day, revision, method, device, granted, denied)
    ) WITHOUT ROWID;
    DROP VIEW consent_record_view;
    CREATE VIEW consent_record_view AS SELECT seq,
        CASE WHEN typeof(consent_id) = 'blob' THEN lower(
            substr(hex(consent_id), 1, 8) || '-' || substr(hex(consent_id), 9, 4) || '-' ||
            substr(hex(consent_id), 13, 4) || '-' || substr(hex(consent_id), 17, 4) || '-' ||
            substr(hex(consent_id), 21)) ELSE consent_id END AS consent_id,
        recorded_at, granted, denied, revision, method, language, banner_hash, page_path, ip_prefix,
        browser, device, gpc
    FROM consent_record WHERE erased = 0;
    """,
    lambda connection: chain_existing_records(connection),
    # Version 6: discovery (discovery.py).
    """
    CREATE TABLE discovered (
        site TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        service TEXT,
        pages INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (site, kind, name)
    ) WITHOUT ROWID;
    CREATE TABLE scan_run (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        site TEXT NOT NULL,
        finished_at REAL NOT NULL,
        pages INTEGER NOT NULL,
        mode TEXT NOT NULL
    );
    """,
    # Version 7: the health check's write probe (one row, rewritten).
    "CREATE TABLE health_probe (id INTEGER PRIMARY KEY, at REAL NOT NULL);",
    # Version 8: the admin's sign-in attempts and revoked sessions, shared by every worker.
    """
    CREATE TABLE login_attempt (key TEXT NOT NULL, at REAL NOT NULL);
    CREATE INDEX login_attempt_by_key ON login_attempt (key, at);
    CREATE TABLE revoked_session (id TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID;
    """,
    # Version 9: statistics counted without consent (statistics.py); day is ISO text, so it sorts.
    """
    CREATE TABLE statistic (
        site TEXT NOT NULL,
        day TEXT NOT NULL,
        span TEXT NOT NULL,
        dimension TEXT NOT NULL,
        value TEXT NOT NULL,
        views INTEGER NOT NULL,
        visitors INTEGER NOT NULL,
        PRIMARY KEY (site, day, span, dimension, value)
    ) WITHOUT ROWID;
    CREATE INDEX statistic_by_day ON statistic (day, span);
    """,
)

STORED_COLUMNS = (*COLUMNS, "digest", "chain")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM consent_record"
LIVE = "erased = 0"
# The chain value the next record links to: the newest record's, or, when
# retention has deleted every record, the last checkpoint's.
HEAD = (
    "coalesce((SELECT chain FROM consent_record ORDER BY seq DESC LIMIT 1), "
    "(SELECT chain FROM chain_checkpoint ORDER BY seq DESC LIMIT 1), zeroblob(32))"
)
VERIFY_BATCH = 2000
PURGE_CHUNK = 10_000  # records per purge transaction: bounds how long writers wait for the lock
EXPORT_BATCH = 500
# Rows per commit at most: small enough that two batches are in flight under
# load (one committing, one filling), large enough to share an fsync widely.
WRITE_BATCH = 512
# A batch goes in as one INSERT of a multiple of this many rows (padded with
# rows of NULLs), so a handful of prepared statements serve every batch size.
INSERT_CHUNK = 64
PAD = 0  # the value of every parameter of a padding row
CACHE_KIB = 32_768  # per connection
CHECKPOINT_PAGES = 10_000  # about 40 MB of WAL between checkpoints
# A new row goes in only while its site has room; an existing one is counted on (discovery.py).
ADD_SIGHTING = f"""
    INSERT INTO discovered (site, kind, name, service, pages, first_seen, last_seen, source)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7 WHERE (SELECT count(*) FROM discovered WHERE site = ?1) < {SITE_LIMIT}
        OR EXISTS (SELECT 1 FROM discovered WHERE site = ?1 AND kind = ?2 AND name = ?3)
    ON CONFLICT (site, kind, name) DO UPDATE SET pages = pages + excluded.pages,
        last_seen = max(last_seen, excluded.last_seen), service = excluded.service
"""
DISCOVERED = "SELECT site, kind, name, service, pages, first_seen, last_seen, source FROM discovered"
# A value goes in as itself while its (site, day, dimension) has room or already has it, else as OTHER.
ADD_STATISTIC = f"""
    INSERT INTO statistic (site, day, span, dimension, value, views, visitors)
    SELECT ?1, ?2, '{DAY}', ?3, CASE
        WHEN EXISTS (SELECT 1 FROM statistic WHERE site = ?1 AND day = ?2 AND span = '{DAY}' AND dimension = ?3
                     AND value = ?4)
            OR (SELECT count(*) FROM statistic WHERE site = ?1 AND day = ?2 AND span = '{DAY}' AND dimension = ?3
                AND value != '{OTHER}') < {VALUE_LIMIT}
        THEN ?4 ELSE '{OTHER}' END, ?5, ?6
    WHERE true
    ON CONFLICT (site, day, span, dimension, value) DO UPDATE SET
        views = views + excluded.views, visitors = visitors + excluded.visitors
"""
FIGURES = "SELECT day, span, site, dimension, value, views, visitors FROM statistic"
FIGURES_BETWEEN = f"(span = '{DAY}' AND day BETWEEN ?1 AND ?2 OR span = '{MONTH}' AND day BETWEEN ?3 AND ?2)"
ROLL_UP = f"""
    INSERT INTO statistic (site, day, span, dimension, value, views, visitors)
    SELECT site, substr(day, 1, 8) || '01', '{MONTH}', dimension, value, sum(views), sum(visitors)
    FROM statistic WHERE span = '{DAY}' AND day < ?1 GROUP BY site, substr(day, 1, 8), dimension, value
    ON CONFLICT (site, day, span, dimension, value) DO UPDATE SET
        views = views + excluded.views, visitors = visitors + excluded.visitors
"""
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def id_key(consent_id: str) -> bytearray | str:
    """How ``consent_id`` is stored: 16 bytes for a canonical UUID, the text itself for anything else.

    Blobs are handed to sqlite3 as ``bytearray``, never ``bytes``: the module binds a bytearray
    directly but sends ``bytes`` (and ``None``) through its adapter lookup first, about five times
    the cost, which with three blobs a record was a fifth of the writer's time."""
    if UUID_TEXT.fullmatch(consent_id):
        return bytearray.fromhex(consent_id.replace("-", ""))
    return consent_id


def id_text(key: bytes | bytearray | str) -> str:
    if isinstance(key, (bytes, bytearray)):
        digits = key.hex()
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
    return key


@cache
def insert_statement(rows: int) -> str:
    """An INSERT of up to ``rows`` rows; rows of zeros (``PAD``) fill a smaller batch and are skipped.

    A consent id is a blob or text, never the integer 0, so padding rows are told apart by their first
    column; integers bind several times cheaper than NULLs. The last parameter is the chain head the
    rows were linked to: when another process extended the chain meanwhile, nothing is inserted
    (rowcount 0)."""
    one = f"({', '.join('?' for _ in STORED_COLUMNS)})"
    return (
        f"INSERT INTO consent_record ({', '.join(STORED_COLUMNS)}) "
        f"SELECT * FROM (VALUES {', '.join([one] * rows)}) WHERE column1 IS NOT {PAD} AND ? = {HEAD}"
    )


def store_ids_as_blobs(connection: sqlite3.Connection) -> None:
    found = connection.execute("SELECT seq, consent_id FROM consent_record WHERE typeof(consent_id) = 'text'")
    updates = [(key, seq) for seq, text in found.fetchall() if isinstance(key := id_key(text), bytearray)]
    connection.executemany("UPDATE consent_record SET consent_id = ? WHERE seq = ?", updates)


def chain_existing_records(connection: sqlite3.Connection) -> None:
    """Records written before version 5 join the chain in the order they were written."""
    previous = GENESIS
    found = connection.execute(f"SELECT seq, {', '.join(COLUMNS)} FROM consent_record ORDER BY seq").fetchall()
    updates = []
    for seq, *values in found:
        record_digest = digest(from_row(tuple(values)))
        previous = link(previous, record_digest)
        updates.append((record_digest, previous, seq))
    connection.executemany("UPDATE consent_record SET digest = ?, chain = ? WHERE seq = ?", updates)


def to_row(record: ConsentRecord) -> tuple:
    """The stored columns but the chain, which the writer adds in commit order."""
    recorded_at = record.recorded_at
    granted = ",".join(record.granted)
    denied = ",".join(record.denied)
    consent_id = record.consent_id
    texts = (record.revision, record.method, record.language, record.banner_hash, record.page_path)
    texts += (record.ip_prefix, record.browser, record.device)
    gpc = record.gpc
    microseconds = (recorded_at - EPOCH) // ONE_MICROSECOND
    encoded = encode_fields(consent_id, microseconds, granted, denied, *texts, gpc)  # chain.canonical
    return (
        id_key(consent_id),
        recorded_at.timestamp(),
        granted,
        denied,
        *texts,
        1 if gpc else 0,
        bytearray(sha256(encoded).digest()),  # see id_key: bytearray binds cheaper than bytes
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
    connection.execute("PRAGMA busy_timeout=10000")
    use_wal(connection)
    connection.execute("PRAGMA synchronous=FULL")
    # Random consent ids dirty index pages all over the file: a cache that holds
    # the index and fewer, larger checkpoints (each page written back once per
    # checkpoint, not once per few commits) nearly halve the writer's work.
    connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    connection.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    return connection


def use_wal(connection: sqlite3.Connection, deadline: float = 10.0) -> None:
    """Switch the file to write-ahead logging. Workers opening a new file at once contend for it,
    and SQLite answers "database is locked" at once there instead of waiting the busy timeout
    (seen with four stores opening together): try again for up to ``deadline`` seconds."""
    give_up = clock.monotonic() + deadline
    pause = 0.005
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or clock.monotonic() + pause > give_up:
                raise
        clock.sleep(pause)
        pause = min(pause * 2, 0.2)


def migrate(connection: sqlite3.Connection) -> tuple[int, int]:
    """Bring the schema up to date; the write lock is taken first so two starting workers don't race.

    Returns the versions before and after."""
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
    return version, max(version, len(MIGRATIONS))


def moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class SQLiteStore(ConsentStore):
    """Consent records in a local SQLite file; the default for a single gateway."""

    def __init__(self, path: str | Path, batch_size: int = WRITE_BATCH, timeout: float = 2.0) -> None:
        self.path = str(path)
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="consent-sqlite-writer")
        self._reader_thread = ThreadPoolExecutor(1, thread_name_prefix="consent-sqlite-reader")
        self._group = ThreadedGroupCommit(self._insert, batch_size, self._writer_thread, timeout)
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._head = GENESIS  # the chain value this writer last linked to; checked on every insert

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

    async def upgrade(self) -> tuple[int, int]:
        def upgrade() -> tuple[int, int]:
            connection = connect(self.path)
            try:
                return migrate(connection)
            finally:
                connection.close()

        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return await asyncio.get_running_loop().run_in_executor(None, upgrade)

    async def schema_version(self) -> tuple[int, int]:
        rows = await self._query("PRAGMA user_version", ())
        return rows[0][0], len(MIGRATIONS)

    async def record(self, record: ConsentRecord) -> None:
        await self._group.submit(to_row(record))

    def _insert(self, rows: list[tuple]) -> None:
        """One statement in autocommit mode: SQLite inserts and commits the whole batch in one call
        without the GIL, so the event loop keeps running meanwhile.

        The rows are linked to the head this writer saw last; if another process
        wrote since, the statement inserts nothing and the batch is linked again
        under the write lock."""
        assert self._writer is not None
        size = -(-len(rows) // INSERT_CHUNK) * INSERT_CHUNK
        padding = [PAD] * ((size - len(rows)) * len(STORED_COLUMNS))
        values, head = self._linked(rows, self._head)
        if self._writer.execute(insert_statement(size), (*values, *padding, self._head)).rowcount == len(rows):
            self._head = head
            return
        with transaction(self._writer):
            start = self._writer.execute(f"SELECT {HEAD}").fetchone()[0]
            values, head = self._linked(rows, start)
            self._writer.execute(insert_statement(size), (*values, *padding, start))
        self._head = head

    @staticmethod
    def _linked(rows: list[tuple], head: bytes) -> tuple[list, bytes]:
        values: list = []
        extend, append, hash_of = values.extend, values.append, sha256
        for row in rows:
            head = hash_of(head + row[-1]).digest()  # chain.link, inlined: this runs once per row
            extend(row)
            append(bytearray(head))  # see id_key
        return values, head

    async def latest(self, consent_id: str) -> ConsentRecord | None:
        sql = f"{SELECT} WHERE consent_id = ? AND {LIVE} ORDER BY seq DESC LIMIT 1"
        rows = await self._query(sql, (id_key(consent_id),))
        return from_row(rows[0]) if rows else None

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        rows = await self._query(f"{SELECT} WHERE consent_id = ? AND {LIVE} ORDER BY seq", (id_key(consent_id),))
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
                f"WHERE seq > ? AND recorded_at >= ? AND recorded_at < ? AND {LIVE} ORDER BY seq LIMIT ?",
                (last_seq, low, high, EXPORT_BATCH),
            )
            for row in rows:
                yield from_row(row[1:])
            if len(rows) < EXPORT_BATCH:
                return
            last_seq = rows[-1][0]

    async def erase(self, consent_id: str) -> int:
        def redact() -> int:
            assert self._writer is not None
            sql = (
                "UPDATE consent_record SET consent_id = '', page_path = '', ip_prefix = NULL, erased = 1 "
                f"WHERE consent_id = ? AND {LIVE}"
            )
            return self._writer.execute(sql, (id_key(consent_id),)).rowcount

        return await self._on(self._writer_thread, redact)

    async def daily_summary(
        self, since: date | None = None, until: date | None = None, revision: int | None = None
    ) -> list[DaySummary]:
        low = datetime.combine(since, time(), UTC).timestamp() if since else float("-inf")
        high = datetime.combine(until, time(), UTC).timestamp() if until else float("inf")
        live = await self._query(
            "SELECT date(recorded_at, 'unixepoch') AS day, method, granted, denied, count(*) FROM consent_record "
            "WHERE recorded_at >= ? AND recorded_at < ? AND (? IS NULL OR revision = ?) "
            "GROUP BY day, method, granted, denied",
            (low, high, revision, revision),
        )
        purged = await self._query(
            "SELECT day, method, granted, denied, sum(count) FROM consent_aggregate "
            "WHERE day >= ? AND day < ? AND (? IS NULL OR revision = ?) GROUP BY day, method, granted, denied",
            (since.isoformat() if since else "", until.isoformat() if until else "9999", revision, revision),
        )
        return summarise_days(live + purged)

    async def purge(self, cutoff: datetime) -> PurgeReport:
        """In transactions of at most ``PURGE_CHUNK`` records, each its own turn on the writer thread,
        so other processes' writes and this process's batches get the lock in between."""
        deleted = through_seq = 0
        while True:
            chunk_deleted, chunk_through = await self._on(self._writer_thread, self._purge_chunk, cutoff)
            if not chunk_deleted:
                return PurgeReport(cutoff, deleted, through_seq)
            deleted += chunk_deleted
            through_seq = chunk_through

    def _purge_chunk(self, cutoff: datetime) -> tuple[int, int]:
        assert self._writer is not None
        with transaction(self._writer) as db:
            start_seq, start_chain = self._checkpoint(db)
            first_kept = db.execute(
                "SELECT min(seq) FROM consent_record WHERE recorded_at >= ?", (cutoff.timestamp(),)
            ).fetchone()[0]
            newest = db.execute("SELECT max(seq) FROM consent_record").fetchone()[0] or 0
            through = min(newest if first_kept is None else first_kept - 1, start_seq + PURGE_CHUNK)
            if through <= start_seq:
                return 0, start_seq
            report = self._verify_range(db, start_seq, start_chain, through)
            if not report.ok:
                raise TamperedError(report)
            db.execute(
                "INSERT INTO consent_aggregate (day, revision, method, device, granted, denied, count) "
                "SELECT date(recorded_at, 'unixepoch'), revision, method, device, granted, denied, count(*) "
                "FROM consent_record WHERE seq <= ? GROUP BY 1, 2, 3, 4, 5, 6 "
                "ON CONFLICT (day, revision, method, device, granted, denied) "
                "DO UPDATE SET count = count + excluded.count",
                (through,),
            )
            deleted = db.execute("DELETE FROM consent_record WHERE seq <= ?", (through,)).rowcount
            db.execute(
                "INSERT INTO chain_checkpoint (seq, chain, purged_at, deleted) VALUES (?, ?, ?, ?)",
                (report.head_seq, report.head, clock.time(), deleted),
            )
        return deleted, report.head_seq

    async def verify(self) -> ChainReport:
        def verify() -> ChainReport:
            # Its own connection: one read transaction (a consistent snapshot) without holding up readers.
            connection = connect(self.path)
            try:
                connection.execute("BEGIN")
                start_seq, start_chain = self._checkpoint(connection)
                row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'consent_record'").fetchone()
                report = self._verify_range(connection, start_seq, start_chain, None, last_seq=row[0] if row else 0)
                connection.execute("COMMIT")
                return report
            finally:
                connection.close()

        return await asyncio.get_running_loop().run_in_executor(None, verify)

    @staticmethod
    def _checkpoint(connection: sqlite3.Connection) -> tuple[int, bytes]:
        row = connection.execute("SELECT seq, chain FROM chain_checkpoint ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    @staticmethod
    def _verify_range(
        connection: sqlite3.Connection,
        start_seq: int,
        start_chain: bytes,
        through: int | None,
        last_seq: int | None = None,
    ) -> ChainReport:
        def stored() -> Iterator[StoredRecord]:
            after = start_seq
            while True:
                rows = connection.execute(
                    f"SELECT seq, {', '.join(COLUMNS)}, digest, chain, erased FROM consent_record "
                    "WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                    (after, through if through is not None else 2**62, VERIFY_BATCH),
                ).fetchall()
                for seq, *values, record_digest, chain, erased in rows:
                    yield StoredRecord(seq, from_row(tuple(values)), record_digest, chain, bool(erased))
                if len(rows) < VERIFY_BATCH:
                    return
                after = rows[-1][0]

        return verify_records(stored(), start_seq, start_chain, last_seq if through is None else through)

    async def reserve_login(self, keys: Sequence[str], since: datetime, limit: int, at: datetime) -> bool:
        def reserve() -> bool:
            assert self._writer is not None
            with transaction(self._writer) as connection:  # the one writer thread: attempts take turns
                connection.execute("DELETE FROM login_attempt WHERE at < ?", (since.timestamp(),))
                for key in keys:
                    sql = "SELECT count(*) FROM login_attempt WHERE key = ? AND at >= ?"
                    if connection.execute(sql, (key, since.timestamp())).fetchone()[0] >= limit:
                        return False
                rows = [(key, at.timestamp()) for key in keys]
                connection.executemany("INSERT INTO login_attempt (key, at) VALUES (?, ?)", rows)
                return True

        return await self._on(self._writer_thread, reserve)

    async def clear_logins(self, keys: Sequence[str]) -> None:
        def clear() -> None:
            assert self._writer is not None
            self._writer.executemany("DELETE FROM login_attempt WHERE key = ?", [(key,) for key in keys])

        await self._on(self._writer_thread, clear)

    async def revoke_session(self, session_id: str, until: datetime) -> None:
        def revoke() -> None:
            assert self._writer is not None
            with transaction(self._writer) as connection:
                connection.execute("DELETE FROM revoked_session WHERE until < ?", (clock.time(),))
                sql = "INSERT OR REPLACE INTO revoked_session (id, until) VALUES (?, ?)"
                connection.execute(sql, (session_id, until.timestamp()))

        await self._on(self._writer_thread, revoke)

    async def session_revoked(self, session_id: str) -> bool:
        return bool(await self._query("SELECT 1 FROM revoked_session WHERE id = ?", (session_id,)))

    async def redact_audit(self, text: str, replacement: str) -> int:
        def redact() -> int:
            assert self._writer is not None
            sql = "UPDATE admin_audit SET detail = replace(detail, ?1, ?2) WHERE instr(detail, ?1) > 0"
            return self._writer.execute(sql, (text, replacement)).rowcount

        return await self._on(self._writer_thread, redact)

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

    async def add_sightings(self, counts: Mapping[Sighting, int], seen_at: datetime, source: str) -> None:
        at = seen_at.timestamp()
        rows = [(s.site, s.kind, s.name, s.service, pages, at, source) for s, pages in counts.items() if storable(s)]

        def add() -> None:
            assert self._writer is not None
            with transaction(self._writer):
                self._writer.executemany(ADD_SIGHTING, rows)

        if rows:
            await self._on(self._writer_thread, add)

    async def discovered(self, site: str | None = None) -> list[Discovered]:
        if site is None:
            rows = await self._query(f"{DISCOVERED} ORDER BY site, kind, name", ())
        else:
            rows = await self._query(f"{DISCOVERED} WHERE site = ? ORDER BY kind, name", (site,))
        return [Discovered(*row[:5], moment(row[5]), moment(row[6]), row[7]) for row in rows]

    async def record_scan(self, run: ScanRun) -> None:
        def insert() -> None:
            assert self._writer is not None
            self._writer.execute(
                "INSERT INTO scan_run (site, finished_at, pages, mode) VALUES (?, ?, ?, ?)",
                (run.site, run.finished_at.timestamp(), run.pages, run.mode),
            )

        await self._on(self._writer_thread, insert)

    async def last_scan(self, site: str | None = None) -> ScanRun | None:
        where, parameters = ("", ()) if site is None else ("WHERE site = ?", (site,))
        sql = f"SELECT site, finished_at, pages, mode FROM scan_run {where} ORDER BY finished_at DESC, seq DESC LIMIT 1"
        rows = await self._query(sql, parameters)
        return ScanRun(rows[0][0], moment(rows[0][1]), rows[0][2], rows[0][3]) if rows else None

    async def add_statistics(self, counts: Mapping[Tally, tuple[int, int]]) -> None:
        rows = [(site, day.isoformat(), *rest) for day, site, *rest in storable_rows(counts)]

        def add() -> None:
            assert self._writer is not None
            with transaction(self._writer):
                self._writer.executemany(ADD_STATISTIC, rows)

        if rows:
            await self._on(self._writer_thread, add)

    async def statistics(self, start: date, end: date, site: str | None = None) -> list[Figure]:
        parameters: tuple = (start.isoformat(), end.isoformat(), month_of(start).isoformat())
        where = FIGURES_BETWEEN
        if site is not None:
            where, parameters = f"{where} AND site = ?4", (*parameters, site)
        rows = await self._query(f"{FIGURES} WHERE {where} ORDER BY site, day, span, dimension, value", parameters)
        return [Figure(date.fromisoformat(row[0]), *row[1:]) for row in rows]

    async def statistics_sites(self) -> list[str]:
        return [row[0] for row in await self._query("SELECT DISTINCT site FROM statistic ORDER BY site", ())]

    async def roll_up_statistics(self, before: date) -> int:
        def roll_up() -> int:
            assert self._writer is not None
            with transaction(self._writer):
                self._writer.execute(ROLL_UP, (before.isoformat(),))
                deleted = self._writer.execute(
                    f"DELETE FROM statistic WHERE span = '{DAY}' AND day < ?", (before.isoformat(),)
                )
                return deleted.rowcount

        return await self._on(self._writer_thread, roll_up)

    async def ping(self) -> None:
        await self._query("SELECT 1", ())

    async def probe_write(self) -> None:
        def write() -> None:
            assert self._writer is not None
            self._writer.execute("INSERT OR REPLACE INTO health_probe (id, at) VALUES (1, ?)", (clock.time(),))

        await self._on(self._writer_thread, write)

    def last_write_failure(self) -> tuple[float, BaseException] | None:
        return self._group.failure

    async def _query(self, sql: str, parameters: tuple) -> list[tuple]:
        if self._reader is None:
            raise RuntimeError("the consent store is not open")
        reader = self._reader
        return await self._on(self._reader_thread, lambda: reader.execute(sql, parameters).fetchall())

    @staticmethod
    async def _on(thread: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(thread, function, *args)
