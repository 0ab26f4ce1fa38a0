"""The shared consent store: PostgreSQL, for several gateway processes at once.

psycopg 3 (async) with a connection pool. Each process has ``WRITE_DEPTH``
writers that commit waiting rows in batches (group commit, ``batch.py``), each
on its own pool connection; every caller awaits the commit of its own row.
A batch goes as one text array literal per column (``pgarray.py``) in one
call of the SQL function ``append_consent_records`` (one round trip,
committed with it), which locks the one-row ``chain_head`` table first, so
batches from all writers of all processes extend the tamper-evidence chain
(``chain.py``) one after another, in ``seq`` order, while readers never
wait. That lock is held through the commit's WAL flush, so commits of the
chain take turns: batch size, not commit rate, is where throughput comes
from. Migrations run at start-up under an advisory lock,
so processes starting together apply each one once. Purges take an advisory
lock too; a process that finds it taken skips that day's purge.

Point ``options=-csearch_path=...`` in the URL at another schema to keep
several gateways (or test runs) apart in one database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, date, datetime, time

import psycopg
from psycopg_pool import AsyncConnectionPool

from gateway.store.batch import GroupCommit
from gateway.store.chain import GENESIS, ChainReport, ChainWalk, StoredRecord, TamperedError, digest
from gateway.store.discovery import SITE_LIMIT, Discovered, ScanRun, Sighting, storable
from gateway.store.pgarray import ENCODERS
from gateway.store.record import RECORD_COLUMNS, AuditEntry, ConsentRecord, ConsentStore, DaySummary
from gateway.store.retention import PurgeReport, summarise_days
from gateway.store.statistics import DAY, MONTH, OTHER, VALUE_LIMIT, Figure, Tally, month_of, storable_rows

COLUMNS = RECORD_COLUMNS

# Each entry brings the schema from version N to N + 1 (table schema_version).
MIGRATIONS = (
    """
    CREATE TABLE consent_record (
        seq bigint PRIMARY KEY,
        consent_id text NOT NULL,
        recorded_at timestamptz NOT NULL,
        granted text NOT NULL,
        denied text NOT NULL,
        revision integer NOT NULL,
        method text NOT NULL,
        language text NOT NULL,
        banner_hash text NOT NULL,
        page_path text NOT NULL,
        ip_prefix text,
        browser text NOT NULL,
        device text NOT NULL,
        gpc boolean NOT NULL,
        digest bytea NOT NULL,
        chain bytea NOT NULL,
        erased boolean NOT NULL DEFAULT false
    );
    CREATE INDEX consent_record_by_id ON consent_record (consent_id, seq);
    CREATE INDEX consent_record_by_time ON consent_record (recorded_at);
    CREATE TABLE chain_head (
        id integer PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        chain bytea NOT NULL
    );
    INSERT INTO chain_head VALUES (1, 0, decode(repeat('00', 32), 'hex'));
    CREATE TABLE chain_checkpoint (
        seq bigint PRIMARY KEY,
        chain bytea NOT NULL,
        purged_at timestamptz NOT NULL,
        deleted bigint NOT NULL
    );
    CREATE TABLE consent_aggregate (
        day date NOT NULL,
        revision integer NOT NULL,
        method text NOT NULL,
        device text NOT NULL,
        granted text NOT NULL,
        denied text NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (day, revision, method, device, granted, denied)
    );
    CREATE TABLE admin_audit (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        detail text NOT NULL
    );
    """,
    # Version 2: one call per batch (one round trip, committed with it): lock the chain's end,
    # link the rows (chain.link: sha256(previous || digest)), insert them, move the end.
    """
    CREATE FUNCTION append_consent_records(
        p_consent_id text[], p_recorded_at timestamptz[], p_granted text[], p_denied text[], p_revision int[],
        p_method text[], p_language text[], p_banner_hash text[], p_page_path text[], p_ip_prefix text[],
        p_browser text[], p_device text[], p_gpc boolean[], p_digest bytea[]
    ) RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        first_seq bigint;
        head bytea;
        chains bytea[] := array_fill(NULL::bytea, ARRAY[cardinality(p_digest)]);
    BEGIN
        SELECT seq, chain INTO first_seq, head FROM chain_head WHERE id = 1 FOR UPDATE;
        FOR i IN 1 .. cardinality(p_digest) LOOP
            head := sha256(head || p_digest[i]);
            chains[i] := head;
        END LOOP;
        INSERT INTO consent_record (seq, consent_id, recorded_at, granted, denied, revision, method, language,
                                    banner_hash, page_path, ip_prefix, browser, device, gpc, digest, chain)
        SELECT first_seq + r.n, r.consent_id, r.recorded_at, r.granted, r.denied, r.revision, r.method, r.language,
               r.banner_hash, r.page_path, r.ip_prefix, r.browser, r.device, r.gpc, r.digest, r.chain
        FROM unnest(p_consent_id, p_recorded_at, p_granted, p_denied, p_revision, p_method, p_language,
                    p_banner_hash, p_page_path, p_ip_prefix, p_browser, p_device, p_gpc, p_digest, chains)
             WITH ORDINALITY AS r(consent_id, recorded_at, granted, denied, revision, method, language,
                                  banner_hash, page_path, ip_prefix, browser, device, gpc, digest, chain, n);
        UPDATE chain_head SET seq = first_seq + cardinality(p_digest), chain = head WHERE id = 1;
        RETURN first_seq + cardinality(p_digest);
    END
    $$;
    """,
    # Version 3: discovery (discovery.py).
    """
    CREATE TABLE discovered (
        site text NOT NULL,
        kind text NOT NULL,
        name text NOT NULL,
        service text,
        pages bigint NOT NULL,
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        source text NOT NULL,
        PRIMARY KEY (site, kind, name)
    );
    CREATE TABLE scan_run (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        site text NOT NULL,
        finished_at timestamptz NOT NULL,
        pages integer NOT NULL,
        mode text NOT NULL
    );
    """,
    # Version 4: the health check's write probe (one row, rewritten).
    "CREATE TABLE health_probe (id integer PRIMARY KEY, at timestamptz NOT NULL);",
    # Version 5: the admin's sign-in attempts and revoked sessions, shared by every worker and instance.
    """
    CREATE TABLE login_attempt (key text NOT NULL, at timestamptz NOT NULL);
    CREATE INDEX login_attempt_by_key ON login_attempt (key, at);
    CREATE TABLE revoked_session (id text PRIMARY KEY, until timestamptz NOT NULL);
    """,
    # Version 6: statistics counted without consent (statistics.py).
    """
    CREATE TABLE statistic (
        site text NOT NULL,
        day date NOT NULL,
        span text NOT NULL,
        dimension text NOT NULL,
        value text NOT NULL,
        views bigint NOT NULL,
        visitors bigint NOT NULL,
        PRIMARY KEY (site, day, span, dimension, value)
    );
    CREATE INDEX statistic_by_day ON statistic (day, span);
    """,
)

SELECT = f"SELECT {', '.join(COLUMNS)} FROM consent_record"
# A new row goes in only while its site has room; an existing one is counted on (discovery.py).
ADD_SIGHTING = f"""
    INSERT INTO discovered AS d (site, kind, name, service, pages, first_seen, last_seen, source)
    SELECT %(site)s, %(kind)s, %(name)s, %(service)s, %(pages)s, %(at)s, %(at)s, %(source)s
    WHERE (SELECT count(*) FROM discovered WHERE site = %(site)s) < {SITE_LIMIT}
        OR EXISTS (SELECT 1 FROM discovered WHERE site = %(site)s AND kind = %(kind)s AND name = %(name)s)
    ON CONFLICT (site, kind, name) DO UPDATE SET pages = d.pages + excluded.pages,
        last_seen = greatest(d.last_seen, excluded.last_seen), service = excluded.service
"""
DISCOVERED = "SELECT site, kind, name, service, pages, first_seen, last_seen, source FROM discovered"
# A value goes in as itself while its (site, day, dimension) has room or already has it, else as OTHER.
ADD_STATISTIC = f"""
    INSERT INTO statistic AS s (site, day, span, dimension, value, views, visitors)
    SELECT %(site)s, %(day)s, '{DAY}', %(dimension)s, CASE
        WHEN EXISTS (SELECT 1 FROM statistic WHERE site = %(site)s AND day = %(day)s AND span = '{DAY}'
                     AND dimension = %(dimension)s AND value = %(value)s)
            OR (SELECT count(*) FROM statistic WHERE site = %(site)s AND day = %(day)s AND span = '{DAY}'
                AND dimension = %(dimension)s AND value != '{OTHER}') < {VALUE_LIMIT}
        THEN %(value)s ELSE '{OTHER}' END, %(views)s, %(visitors)s
    ON CONFLICT (site, day, span, dimension, value) DO UPDATE SET
        views = s.views + excluded.views, visitors = s.visitors + excluded.visitors
"""
FIGURES = "SELECT day, span, site, dimension, value, views, visitors FROM statistic"
FIGURES_BETWEEN = (
    f"(span = '{DAY}' AND day BETWEEN %(start)s AND %(end)s OR span = '{MONTH}' AND day BETWEEN %(month)s AND %(end)s)"
)
ROLL_UP = f"""
    INSERT INTO statistic AS s (site, day, span, dimension, value, views, visitors)
    SELECT site, date_trunc('month', day)::date, '{MONTH}', dimension, value, sum(views), sum(visitors)
    FROM statistic WHERE span = '{DAY}' AND day < %s GROUP BY site, date_trunc('month', day), dimension, value
    ON CONFLICT (site, day, span, dimension, value) DO UPDATE SET
        views = s.views + excluded.views, visitors = s.visitors + excluded.visitors
"""
LIVE = "NOT erased"
TYPES = ("text", "timestamptz", "text", "text", "int", "text", "text", "text", "text", "text", "text", "text", "bool")
APPEND = f"SELECT append_consent_records({', '.join(f'%s::{kind}[]' for kind in (*TYPES, 'bytea'))})"
COLUMN_ENCODERS = tuple(ENCODERS[kind] for kind in (*TYPES, "bytea"))  # one array literal per column (pgarray.py)
WRITE_BATCH = 1000
WRITE_DEPTH = 2  # batches in flight per process, each on its own pool connection
EXPORT_BATCH = 500
VERIFY_BATCH = 5000
PURGE_CHUNK = 10_000  # records per purge transaction
POOL_SIZE = 8
# Advisory lock keys, per schema: hashtext(current_schema() || name).
MIGRATION_LOCK = "consent-gateway migrations"
PURGE_LOCK = "consent-gateway purge"
# Statistics writers of every process take turns: the cap per (site, day, dimension) then holds exactly.
STATISTICS_LOCK = "consent-gateway statistics"


def to_row(record: ConsentRecord) -> tuple:
    """The stored columns but seq and chain, which the writer adds under the chain lock."""
    return (
        record.consent_id,
        record.recorded_at,
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
        record.gpc,
        digest(record),
    )


def from_row(row: tuple | list) -> ConsentRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    values["recorded_at"] = values["recorded_at"].astimezone(UTC)
    values["granted"] = tuple(filter(None, values["granted"].split(",")))
    values["denied"] = tuple(filter(None, values["denied"].split(",")))
    return ConsentRecord(**values)


class PostgresStore(ConsentStore):
    """Consent records in PostgreSQL, shared by every gateway process that points at it."""

    def __init__(
        self,
        url: str,
        batch_size: int = WRITE_BATCH,
        pool_size: int = POOL_SIZE,
        depth: int = WRITE_DEPTH,
        timeout: float = 2.0,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: AsyncConnectionPool | None = None
        self.timeout = timeout
        self._group = GroupCommit(
            self._insert, batch_size, name="consent-postgres-writer", depth=depth, timeout=timeout
        )

    async def open(self) -> None:
        await self.upgrade()
        self._pool = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=self.pool_size,
            open=False,
            timeout=self.timeout,  # waiting for a connection: a server that is down is a quick error
            kwargs={"autocommit": True, "connect_timeout": max(2, round(self.timeout))},
        )
        await self._pool.open(wait=True)
        self._group.start()

    async def close(self) -> None:
        if self._group.running:
            await self._group.stop()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def upgrade(self) -> tuple[int, int]:
        """Apply missing migrations, each in its own transaction, under an advisory lock."""
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as connection:
            await connection.execute("SELECT pg_advisory_lock(hashtext(current_schema() || %s))", (MIGRATION_LOCK,))
            try:
                await connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
                async with connection.transaction():
                    found = await (await connection.execute("SELECT version FROM schema_version")).fetchone()
                    if found is None:
                        await connection.execute("INSERT INTO schema_version VALUES (0)")
                version = found[0] if found else 0
                for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    async with connection.transaction():
                        await connection.execute(script)
                        await connection.execute("UPDATE schema_version SET version = %s", (number,))
            finally:
                await connection.execute(
                    "SELECT pg_advisory_unlock(hashtext(current_schema() || %s))", (MIGRATION_LOCK,)
                )
        return version, max(version, len(MIGRATIONS))

    async def schema_version(self) -> tuple[int, int]:
        rows = await self._query("SELECT version FROM schema_version", ())
        return rows[0][0], len(MIGRATIONS)

    async def record(self, record: ConsentRecord) -> None:
        await self._group.submit(to_row(record))

    async def _insert(self, rows: list[tuple]) -> None:
        """One round trip per batch, committed with it: ``append_consent_records`` (migration 2) takes
        the row lock on the chain's end, so batches of all processes take turns there."""
        columns = [encode(column) for encode, column in zip(COLUMN_ENCODERS, zip(*rows, strict=True), strict=True)]
        async with self._open_pool().connection() as connection:
            await connection.execute(APPEND, columns)

    async def latest(self, consent_id: str) -> ConsentRecord | None:
        sql = f"{SELECT} WHERE consent_id = %s AND {LIVE} ORDER BY seq DESC LIMIT 1"
        rows = await self._query(sql, (consent_id,))
        return from_row(rows[0]) if rows else None

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        rows = await self._query(f"{SELECT} WHERE consent_id = %s AND {LIVE} ORDER BY seq", (consent_id,))
        return [from_row(row) for row in rows]

    async def export(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> AsyncIterator[ConsentRecord]:
        last_seq = 0
        while True:
            rows = await self._query(
                f"SELECT seq, {', '.join(COLUMNS)} FROM consent_record WHERE seq > %s "
                f"AND (%s::timestamptz IS NULL OR recorded_at >= %s) AND (%s::timestamptz IS NULL OR recorded_at < %s) "
                f"AND {LIVE} ORDER BY seq LIMIT %s",
                (last_seq, since, since, until, until, EXPORT_BATCH),
            )
            for row in rows:
                yield from_row(row[1:])
            if len(rows) < EXPORT_BATCH:
                return
            last_seq = rows[-1][0]

    async def erase(self, consent_id: str) -> int:
        async with self._open_pool().connection() as connection:
            cursor = await connection.execute(
                "UPDATE consent_record SET consent_id = '', page_path = '', ip_prefix = NULL, erased = true "
                f"WHERE consent_id = %s AND {LIVE}",
                (consent_id,),
            )
            return cursor.rowcount

    async def daily_summary(
        self, since: date | None = None, until: date | None = None, revision: int | None = None
    ) -> list[DaySummary]:
        low = datetime.combine(since, time(), UTC) if since else None
        high = datetime.combine(until, time(), UTC) if until else None
        live = await self._query(
            "SELECT (recorded_at AT TIME ZONE 'UTC')::date AS day, method, granted, denied, count(*) "
            "FROM consent_record WHERE (%s::timestamptz IS NULL OR recorded_at >= %s) "
            "AND (%s::timestamptz IS NULL OR recorded_at < %s) AND (%s::integer IS NULL OR revision = %s) "
            "GROUP BY day, method, granted, denied",
            (low, low, high, high, revision, revision),
        )
        purged = await self._query(
            "SELECT day, method, granted, denied, sum(count)::bigint FROM consent_aggregate "
            "WHERE (%s::date IS NULL OR day >= %s) AND (%s::date IS NULL OR day < %s) "
            "AND (%s::integer IS NULL OR revision = %s) GROUP BY day, method, granted, denied",
            (since, since, until, until, revision, revision),
        )
        return summarise_days(live + purged)

    async def purge(self, cutoff: datetime) -> PurgeReport:
        """In transactions of at most ``PURGE_CHUNK`` records, each under the purge advisory lock."""
        deleted = through_seq = 0
        while True:
            chunk = await self._purge_chunk(cutoff)
            if chunk is None:
                return PurgeReport(cutoff, deleted, through_seq, skipped=not deleted)
            if not chunk[0]:
                return PurgeReport(cutoff, deleted, through_seq)
            deleted += chunk[0]
            through_seq = chunk[1]

    async def _purge_chunk(self, cutoff: datetime) -> tuple[int, int] | None:
        """Deleted records and the new checkpoint; None when another process holds the purge lock."""
        async with self._open_pool().connection() as connection, connection.transaction():
            locked = await connection.execute(
                "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || %s))", (PURGE_LOCK,)
            )
            if not (await locked.fetchone())[0]:
                return None
            start_seq, start_chain = await self._checkpoint(connection)
            bounds = await connection.execute(
                "SELECT (SELECT max(seq) FROM consent_record), "
                "(SELECT min(seq) FROM consent_record WHERE recorded_at >= %s)",
                (cutoff,),
            )
            newest, first_kept = await bounds.fetchone()
            through = min((newest or 0) if first_kept is None else first_kept - 1, start_seq + PURGE_CHUNK)
            if through <= start_seq:
                return 0, start_seq
            report = await self._verify_range(connection, start_seq, start_chain, through)
            if not report.ok:
                raise TamperedError(report)
            await connection.execute(
                "INSERT INTO consent_aggregate (day, revision, method, device, granted, denied, count) "
                "SELECT (recorded_at AT TIME ZONE 'UTC')::date, revision, method, device, granted, denied, count(*) "
                "FROM consent_record WHERE seq <= %s GROUP BY 1, 2, 3, 4, 5, 6 "
                "ON CONFLICT (day, revision, method, device, granted, denied) "
                "DO UPDATE SET count = consent_aggregate.count + excluded.count",
                (through,),
            )
            deleted = (await connection.execute("DELETE FROM consent_record WHERE seq <= %s", (through,))).rowcount
            await connection.execute(
                "INSERT INTO chain_checkpoint (seq, chain, purged_at, deleted) VALUES (%s, %s, now(), %s)",
                (report.head_seq, report.head, deleted),
            )
        return deleted, report.head_seq

    async def verify(self) -> ChainReport:
        async with self._open_pool().connection() as connection:
            # One snapshot for the whole walk, so batches committed meanwhile are seen whole or not at all.
            await connection.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
            try:
                async with connection.transaction():
                    start_seq, start_chain = await self._checkpoint(connection)
                    head = await (await connection.execute("SELECT seq FROM chain_head WHERE id = 1")).fetchone()
                    return await self._verify_range(connection, start_seq, start_chain, None, last_seq=head[0])
            finally:
                await connection.set_isolation_level(None)

    @staticmethod
    async def _checkpoint(connection: psycopg.AsyncConnection) -> tuple[int, bytes]:
        cursor = await connection.execute("SELECT seq, chain FROM chain_checkpoint ORDER BY seq DESC LIMIT 1")
        row = await cursor.fetchone()
        return (row[0], bytes(row[1])) if row else (0, GENESIS)

    @staticmethod
    async def _verify_range(
        connection: psycopg.AsyncConnection,
        start_seq: int,
        start_chain: bytes,
        through: int | None,
        last_seq: int | None = None,
    ) -> ChainReport:
        walk = ChainWalk(start_seq, start_chain)
        after = start_seq
        while True:
            cursor = await connection.execute(
                f"SELECT seq, {', '.join(COLUMNS)}, digest, chain, erased FROM consent_record "
                "WHERE seq > %s AND (%s::bigint IS NULL OR seq <= %s) ORDER BY seq LIMIT %s",
                (after, through, through, VERIFY_BATCH),
            )
            rows = await cursor.fetchall()
            for seq, *values, record_digest, chain, erased in rows:
                walk.check(StoredRecord(seq, from_row(values), bytes(record_digest), bytes(chain), erased))
            if len(rows) < VERIFY_BATCH:
                break
            after = rows[-1][0]
        return walk.finish(last_seq if through is None else through)

    async def reserve_login(self, keys: Sequence[str], since: datetime, limit: int, at: datetime) -> bool:
        async with self._open_pool().connection() as connection, connection.transaction():
            for key in sorted(keys):  # one lock per key, always taken in the same order
                await connection.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('consent-gateway login ' || %s))", (key,)
                )
            await connection.execute("DELETE FROM login_attempt WHERE at < %s", (since,))
            for key in keys:
                sql = "SELECT count(*) FROM login_attempt WHERE key = %s AND at >= %s"
                if (await (await connection.execute(sql, (key, since))).fetchone())[0] >= limit:
                    return False
            for key in keys:
                await connection.execute("INSERT INTO login_attempt (key, at) VALUES (%s, %s)", (key, at))
            return True

    async def clear_logins(self, keys: Sequence[str]) -> None:
        async with self._open_pool().connection() as connection:
            await connection.execute("DELETE FROM login_attempt WHERE key = ANY(%s)", (list(keys),))

    async def revoke_session(self, session_id: str, until: datetime) -> None:
        async with self._open_pool().connection() as connection, connection.transaction():
            await connection.execute("DELETE FROM revoked_session WHERE until < now()")
            await connection.execute(
                "INSERT INTO revoked_session (id, until) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
                (session_id, until),
            )

    async def session_revoked(self, session_id: str) -> bool:
        return bool(await self._query("SELECT 1 FROM revoked_session WHERE id = %s", (session_id,)))

    async def redact_audit(self, text: str, replacement: str) -> int:
        async with self._open_pool().connection() as connection:
            sql = "UPDATE admin_audit SET detail = replace(detail, %s, %s) WHERE strpos(detail, %s) > 0"
            cursor = await connection.execute(sql, (text, replacement, text))
            return cursor.rowcount

    async def record_audit(self, entry: AuditEntry) -> None:
        async with self._open_pool().connection() as connection:
            await connection.execute(
                "INSERT INTO admin_audit (at, actor, action, detail) VALUES (%s, %s, %s, %s)",
                (entry.at, entry.actor, entry.action, entry.detail),
            )

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        sql = "SELECT at, actor, action, detail FROM admin_audit ORDER BY seq DESC LIMIT %s"
        rows = await self._query(sql, (limit,))
        return [AuditEntry(row[0].astimezone(UTC), *row[1:]) for row in rows]

    async def add_sightings(self, counts: Mapping[Sighting, int], seen_at: datetime, source: str) -> None:
        rows = [
            {"site": s.site, "kind": s.kind, "name": s.name, "service": s.service, "pages": pages}
            | {"at": seen_at, "source": source}
            for s, pages in counts.items()
            if storable(s)
        ]
        if not rows:
            return
        pool = self._open_pool()
        async with pool.connection() as connection, connection.transaction(), connection.cursor() as cursor:
            await cursor.executemany(ADD_SIGHTING, rows)

    async def discovered(self, site: str | None = None) -> list[Discovered]:
        if site is None:
            rows = await self._query(f"{DISCOVERED} ORDER BY site, kind, name", ())
        else:
            rows = await self._query(f"{DISCOVERED} WHERE site = %s ORDER BY kind, name", (site,))
        return [Discovered(*row[:5], row[5].astimezone(UTC), row[6].astimezone(UTC), row[7]) for row in rows]

    async def record_scan(self, run: ScanRun) -> None:
        async with self._open_pool().connection() as connection:
            await connection.execute(
                "INSERT INTO scan_run (site, finished_at, pages, mode) VALUES (%s, %s, %s, %s)",
                (run.site, run.finished_at, run.pages, run.mode),
            )

    async def last_scan(self, site: str | None = None) -> ScanRun | None:
        where, parameters = ("", ()) if site is None else ("WHERE site = %s", (site,))
        sql = f"SELECT site, finished_at, pages, mode FROM scan_run {where} ORDER BY finished_at DESC, seq DESC LIMIT 1"
        rows = await self._query(sql, parameters)
        return ScanRun(rows[0][0], rows[0][1].astimezone(UTC), rows[0][2], rows[0][3]) if rows else None

    async def add_statistics(self, counts: Mapping[Tally, tuple[int, int]]) -> None:
        keys = ("day", "site", "dimension", "value", "views", "visitors")
        rows = [dict(zip(keys, row, strict=True)) for row in storable_rows(counts)]
        if not rows:
            return
        async with self._open_pool().connection() as connection, connection.transaction():
            await self._lock_statistics(connection)
            async with connection.cursor() as cursor:
                await cursor.executemany(ADD_STATISTIC, rows)

    async def statistics(self, start: date, end: date, site: str | None = None) -> list[Figure]:
        parameters = {"start": start, "end": end, "month": month_of(start), "site": site}
        where = FIGURES_BETWEEN if site is None else f"{FIGURES_BETWEEN} AND site = %(site)s"
        async with self._open_pool().connection() as connection:
            sql = f"{FIGURES} WHERE {where} ORDER BY site, day, span, dimension, value"
            rows = await (await connection.execute(sql, parameters)).fetchall()
        return [Figure(*row) for row in rows]

    async def statistics_sites(self) -> list[str]:
        return [row[0] for row in await self._query("SELECT DISTINCT site FROM statistic ORDER BY site", ())]

    async def roll_up_statistics(self, before: date) -> int:
        async with self._open_pool().connection() as connection, connection.transaction():
            await self._lock_statistics(connection)
            await connection.execute(ROLL_UP, (before,))
            deleted = await connection.execute(f"DELETE FROM statistic WHERE span = '{DAY}' AND day < %s", (before,))
            return deleted.rowcount

    @staticmethod
    async def _lock_statistics(connection: psycopg.AsyncConnection) -> None:
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || %s))", (STATISTICS_LOCK,))

    async def ping(self) -> None:
        await self._query("SELECT 1", ())

    async def probe_write(self) -> None:
        async with self._open_pool().connection() as connection:
            await connection.execute(
                "INSERT INTO health_probe (id, at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET at = excluded.at"
            )

    def last_write_failure(self) -> tuple[float, BaseException] | None:
        return self._group.failure

    async def _query(self, sql: str, parameters: tuple) -> list[tuple]:
        async with self._open_pool().connection() as connection:
            cursor = await connection.execute(sql, parameters)
            return await cursor.fetchall()

    def _open_pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise RuntimeError("the consent store is not open")
        return self._pool
