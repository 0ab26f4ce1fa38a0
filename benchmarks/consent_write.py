"""How fast consent choices become durable records: the store alone, then end to end.

Part 1, the store alone: many concurrent writer tasks (``--tasks`` x ``--rows``,
capped at ``--seconds``) call ``record()`` on the SQLite group-commit store
(``gateway.store.open_store``), and, as the baseline, on a naive store that does
one autocommitted INSERT per record through ``run_in_executor`` on a single
sqlite3 connection (same schema, same PRAGMAs, same concurrency). Reported:
rows/s and p50/p99 latency of one ``record()`` call; afterwards the rows in
the file are counted and must equal the rows written. Consent ids are random
UUIDs in the text form the gateway issues. ``--repeat N`` runs the stores in
turn N times and shows the best run of each (every run and the median are
listed below the table). It runs on uvloop when that is installed (the loop
uvicorn picks for the gateway; ``uvicorn[standard]`` installs it);
``--loop asyncio`` runs it on the standard loop.

Part 2, end to end: ``consent-gateway demo`` runs as a subprocess on
127.0.0.1 with its own SQLite file, and ``wrk`` (2 threads, 50 connections)
POSTs ``{"action":"reject_all","categories":[]}`` to ``/_consent`` for
``--seconds``. Reported: requests/s, p50/p99, non-200 responses, and durable
records/s = rows that appeared in the SQLite file / run duration. The
baseline is ``GET /_consent`` on the same server (a read that writes nothing).
The same pair is then run under ``consent-gateway demo --workers 2`` (two
processes sharing one SQLite file, each accepting on its own socket);
``--workers 0`` skips it.

PostgreSQL (``--postgres URL``, default the local test server; ``--postgres ''``
skips it): part 1 adds the PostgreSQL store alone, with group commit and, as
its baseline, with batches of one record (one transaction per record); part 2
adds the same two workers on PostgreSQL, side by side with SQLite. Each
PostgreSQL run gets a fresh schema, dropped afterwards.

Goals from the issues: the SQLite store alone >= 50,000 rows/s, end to end
>= 3,000 durable records/s (issue 2) and >= 5,000 on PostgreSQL with two
workers (issue 7), on a 2-core machine. Note that wrk runs on the same
machine and takes CPU from the server.

Run from the repository root (needs /usr/bin/wrk; all traffic stays on
127.0.0.1; servers and temporary files are removed when it ends):

    python benchmarks/consent_write.py              # about 70 s
    python benchmarks/consent_write.py --seconds 2  # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import importlib.util
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.store import ConsentRecord, open_store
from gateway.store.chain import GENESIS, link
from gateway.store.sqlite import STORED_COLUMNS, connect, migrate, to_row

HERE = Path(__file__).resolve().parent
LUA_SCRIPT = HERE / "consent_write.lua"
HOST = "127.0.0.1"
SECRET_KEY = "benchmark-only-secret-0123456789abcdef"  # >= 32 characters
STORE_GOAL = 50_000  # rows/s, store alone
# The loop the gateway runs on: uvicorn's default ("auto") takes uvloop when it is installed,
# and uvicorn[standard], a dependency of the gateway, installs it.
DEFAULT_LOOP = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
END_TO_END_GOAL = 3_000  # durable records/s, end to end
POSTGRES_GOAL = 5_000  # durable records/s, end to end on PostgreSQL with two workers
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
START_TIMEOUT = 30.0  # seconds for a server to answer /healthz
STOP_TIMEOUT = 15.0  # seconds for a graceful stop before SIGKILL


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    case: str
    rate: float | None
    unit: str
    p50: float | None = None  # seconds
    p99: float | None = None  # seconds
    non200: int | None = None
    baseline: float | None = None  # the baseline's rate, for the ratio
    is_baseline: bool = False


def fmt_rate(rate: float | None, unit: str) -> str:
    return "-" if rate is None else f"{rate:,.0f} {unit}"


def fmt_latency(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3f} ms" if ms < 1 else f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms"


def print_table(title: str, rows: Sequence[Row], notes: Sequence[str] = ()) -> None:
    header = ("case", "rate", "p50", "p99", "non-200", "vs baseline")
    cells = []
    for row in rows:
        if row.is_baseline:
            ratio = "baseline"
        elif row.baseline and row.rate is not None:
            ratio = f"{row.rate / row.baseline:.2f}x"
        else:
            ratio = "-"
        cells.append(
            (
                row.case,
                fmt_rate(row.rate, row.unit),
                fmt_latency(row.p50),
                fmt_latency(row.p99),
                "-" if row.non200 is None else f"{row.non200:,}",
                ratio,
            )
        )
    widths = [max(len(str(line[i])) for line in (header, *cells)) for i in range(len(header))]
    align = ("<", ">", ">", ">", ">", ">")
    print(f"\n{title}")
    print("  " + " | ".join(f"{h:{a}{w}}" for h, a, w in zip(header, align, widths, strict=True)))
    print("  " + "-+-".join("-" * w for w in widths))
    for line in cells:
        print("  " + " | ".join(f"{c:{a}{w}}" for c, a, w in zip(line, align, widths, strict=True)))
    for note in notes:
        print(f"  * {note}")


def goal_line(goal: str, figure: float, target: float) -> str:
    return f"{goal}: {figure:,.0f} -> " + ("met" if figure >= target else "NOT met")


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def count_rows(database: Path | str) -> int:
    """Records in a SQLite file (a path) or a PostgreSQL schema (a URL)."""
    if isinstance(database, str):
        import psycopg

        with psycopg.connect(database) as connection:
            return connection.execute("SELECT COUNT(*) FROM consent_record").fetchone()[0]
    connection = sqlite3.connect(database)
    try:
        return connection.execute("SELECT COUNT(*) FROM consent_record").fetchone()[0]
    finally:
        connection.close()


def verify_chain(database: Path | str) -> str:
    """What `consent-gateway records verify` would say: several processes must have kept one chain."""

    async def verify() -> str:
        store = open_store(database if isinstance(database, str) else f"sqlite:///{database}")
        await store.open()
        try:
            report = await store.verify()
        finally:
            await store.close()
        return f"{report.checked:,} records, " + ("chain ok" if report.ok else f"{len(report.problems)} PROBLEMS")

    return asyncio.run(verify())


@contextlib.contextmanager
def postgres_schema(url: str):
    """A URL whose search_path is a fresh schema, dropped on exit."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def filesystem_of(path: Path) -> str:
    """The filesystem type holding ``path`` (fsync on tmpfs is free, on ext4 it is not)."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                mount_point = parts[1]
                if str(path).startswith(mount_point) and len(mount_point) > len(best):
                    best, kind = mount_point, parts[2]
    except OSError:
        pass
    return kind


# --------------------------------------------------------------------------- part 1: store


NAIVE_INSERT = (
    f"INSERT INTO consent_record ({', '.join(STORED_COLUMNS)}) VALUES ({', '.join('?' for _ in STORED_COLUMNS)})"
)


class NaiveStore:
    """The baseline: one autocommitted INSERT per record on one connection, off the event loop.

    Same schema and the same tamper-evidence chain (linked on its one thread, in insert order)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="naive-sqlite")
        self._db: sqlite3.Connection | None = None
        self._head = GENESIS

    def _insert(self, row: tuple) -> None:
        assert self._db is not None
        self._head = link(self._head, row[-1])
        self._db.execute(NAIVE_INSERT, (*row, self._head))

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._db = await loop.run_in_executor(self._thread, connect, self.path)
        await loop.run_in_executor(self._thread, migrate, self._db)

    async def record(self, record: ConsentRecord) -> None:
        assert self._db is not None
        await asyncio.get_running_loop().run_in_executor(self._thread, self._insert, to_row(record))

    async def close(self) -> None:
        if self._db is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._db.close)
            self._db = None
        self._thread.shutdown()


def sample_record() -> ConsentRecord:
    return ConsentRecord(
        consent_id=str(uuid.uuid4()),  # as the gateway issues them (gateway.consent.state.new_consent_id)
        recorded_at=datetime.now(UTC),
        granted=("functional",),
        denied=("analytics", "marketing"),
        revision=1,
        method="reject_all",
        language="nl",
        banner_hash="0" * 64,
        page_path="/cursus/excel-voor-beginners",
        ip_prefix="127.0.0.0",
        browser="Firefox",
        device="desktop",
        gpc=False,
    )


@dataclass
class StoreRun:
    written: int
    elapsed: float
    cpu: float
    latencies: list[float]
    rows_in_file: int


async def write_concurrently(store, tasks: int, rows: int, seconds: float) -> tuple[int, float, float, list[float]]:
    latencies: list[float] = []
    deadline = 0.0

    async def writer(records: list[ConsentRecord]) -> None:
        for record in records:
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            await store.record(record)
            latencies.append(time.perf_counter() - started)

    # Built before the clock starts, so the figures are the store's, not the harness's.
    work = [[sample_record() for _ in range(rows)] for _ in range(tasks)]
    await store.open()
    try:
        cpu_started = time.process_time()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(writer(records) for records in work))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        await store.close()
    return len(latencies), elapsed, cpu, latencies


def run_in_loop(coroutine, loop_name: str):
    if loop_name == "uvloop":
        import uvloop  # uvicorn[standard] installs it and uvicorn's default loop ("auto") picks it

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coroutine)
    return asyncio.run(coroutine)


STORES = {
    # kind: (label, is a baseline)
    "naive": ("SQLite naive: autocommit INSERT per record", True),
    "group": ("SQLiteStore: group commit", False),
    "pg-single": ("PostgreSQL: one transaction per record", True),
    "pg-group": ("PostgresStore: group commit", False),
}


def make_store(kind: str, database: Path | str):
    from gateway.store.postgres import PostgresStore

    if kind == "naive":
        return NaiveStore(database)
    if kind == "group":
        return open_store(f"sqlite:///{database}")
    if kind == "pg-single":  # one transaction per record, one at a time per process
        return PostgresStore(str(database), batch_size=1, depth=1)
    return PostgresStore(str(database), batch_size=1000)


def run_store(
    kind: str, database: Path | str, tasks: int, rows: int, seconds: float, loop_name: str = "asyncio"
) -> StoreRun:
    store = make_store(kind, database)
    written, elapsed, cpu, latencies = run_in_loop(write_concurrently(store, tasks, rows, seconds), loop_name)
    latencies.sort()
    return StoreRun(written, elapsed, cpu, latencies, count_rows(database))


def run_store_once(kind: str, args: argparse.Namespace, workdir: Path, attempt: int) -> StoreRun:
    if kind.startswith("pg"):
        with postgres_schema(args.postgres) as url:
            return run_store(kind, url, args.tasks, args.rows, args.seconds, args.loop)
    path = workdir / f"store-{kind}-{attempt}.db"
    try:
        return run_store(kind, path, args.tasks, args.rows, args.seconds, args.loop)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def store_part(args: argparse.Namespace, workdir: Path) -> tuple[list[Row], list[str], float]:
    """Each store ``--repeat`` times, taking turns (baselines ``--naive-repeat`` times); the table shows the
    best run of each, its baseline in the row above."""
    kinds = ["naive", "group"] + (["pg-single", "pg-group"] if args.postgres else [])
    runs: dict[str, list[StoreRun]] = {kind: [] for kind in kinds}
    for attempt in range(args.repeat):
        for kind in kinds:
            if STORES[kind][1] and attempt >= args.naive_repeat:
                continue
            runs[kind].append(run_store_once(kind, args, workdir, attempt))
    rows: list[Row] = []
    notes: list[str] = []
    best_rate: dict[str, float] = {}
    baseline_rate = None
    for kind in kinds:
        label, is_baseline = STORES[kind]
        rates = [run.written / run.elapsed for run in runs[kind]]
        best = runs[kind][max(range(len(rates)), key=rates.__getitem__)]
        best_rate[kind] = max(rates)
        if is_baseline:
            baseline_rate = best_rate[kind]
        rows.append(
            Row(
                label,
                best_rate[kind],
                "rows/s",
                percentile(best.latencies, 0.5),
                percentile(best.latencies, 0.99),
                baseline=baseline_rate,
                is_baseline=is_baseline,
            )
        )
        for run in runs[kind]:
            verdict = "ok" if run.rows_in_file == run.written else "MISMATCH: rows lost or duplicated"
            notes.append(
                f"{label}: wrote {run.written:,} rows in {run.elapsed:.2f} s = {run.written / run.elapsed:,.0f} rows/s "
                f"(process CPU {run.cpu / run.elapsed:.2f} cores, {run.cpu / max(run.written, 1) * 1e6:.1f} us/row); "
                f"rows in the database after close: {run.rows_in_file:,} -> {verdict}"
            )
        notes.append(f"{label}: best {max(rates):,.0f}, median {median(rates):,.0f} rows/s over {len(rates)} run(s)")
    return rows, notes, best_rate["group"]


# --------------------------------------------------------------------------- part 2: HTTP


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


class Server:
    """A server subprocess in its own session, stopped (and its workers with it) on exit."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path, port: int) -> None:
        self.argv, self.env, self.cwd, self.log_path, self.port = argv, env, cwd, log, port
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _ = request(self.port, "GET", "/_consent/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer /_consent/healthz within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def session_pids(self) -> list[int]:
        """The server and its workers: every process in the session it leads."""
        assert self.process is not None
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.process.pid:  # field 6 of stat: session id
                pids.append(int(entry))
        return pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.session_pids():
            try:
                with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime
            except OSError:
                continue
        return total / clock_ticks()

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # graceful: uvicorn runs the lifespan shutdown (store close)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT)
        # Anything left in the process group we started (a stuck worker): end it.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(1.0)
        if process.poll() is None:
            process.kill()
        process.wait(STOP_TIMEOUT)
        self._log.close()


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class WrkRun:
    requests: int
    duration: float
    non200: int
    socket_errors: int
    p50: float
    p99: float
    cpu: float  # wrk's own CPU seconds

    @property
    def rate(self) -> float:
        return self.requests / self.duration


def run_wrk(port: int, method: str, args: argparse.Namespace, seconds: float | None = None) -> WrkRun:
    seconds = max(1, round(args.seconds if seconds is None else seconds))  # wrk takes whole seconds
    command = [
        args.wrk,
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        f"http://{HOST}:{port}/_consent",
        "--",
        method,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = None
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            figures = json.loads(line.removeprefix("BENCH "))
    if result.returncode != 0 or figures is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return WrkRun(
        requests=figures["requests"],
        duration=figures["duration_us"] / 1e6,
        non200=figures["non200"],
        socket_errors=sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")),
        p50=figures["p50_us"] / 1e6,
        p99=figures["p99_us"] / 1e6,
        cpu=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    )


def server_env(database: Path | str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATABASE_URL"] = database if isinstance(database, str) else f"sqlite:///{database}"
    env["GATEWAY_SECRET_KEY"] = SECRET_KEY
    return env


def gateway_command(port: int) -> list[str]:
    script = Path(sys.executable).parent / "consent-gateway"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]
    return [*base, "demo", "--host", HOST, "--port", str(port)]


def workers_command(port: int, workers: int) -> list[str]:
    # `consent-gateway demo --workers N`: N processes, each on its own SO_REUSEPORT socket (gateway/workers.py).
    return [*gateway_command(port), "--workers", str(workers)]


def http_config(
    label: str, argv_for_port, args: argparse.Namespace, workdir: Path, database: Path | str | None = None
) -> tuple[list[Row], list[str], float]:
    name = label.replace(" ", "-").replace(",", "")
    database = database or workdir / f"http-{name}.db"
    port = free_port()
    notes: list[str] = []
    with Server(argv_for_port(port), server_env(database), workdir, workdir / f"{name}.log", port) as server:
        server.wait_healthy()
        status, body = request(
            port, "POST", "/_consent", b'{"action":"reject_all","categories":[]}', {"Content-Type": "application/json"}
        )
        if status != 200 or "id" not in json.loads(body):
            raise RuntimeError(f"sanity POST /_consent answered {status}: {body[:300]!r}")
        run_wrk(port, "GET", args, seconds=1)  # warm-up, not counted
        rows_before_get = count_rows(database)
        cpu0 = server.cpu_seconds()
        get = run_wrk(port, "GET", args)
        cpu1 = server.cpu_seconds()
        rows_after_get = count_rows(database)
        post = run_wrk(port, "POST", args)
        cpu2 = server.cpu_seconds()
        processes = len(server.session_pids())
    rows_after_stop = count_rows(database)
    chain = verify_chain(database)
    notes.append(f"{label}: records verify after the run: {chain}")
    durable = rows_after_stop - rows_after_get
    durable_rate = durable / post.duration
    ok_responses = post.requests - post.non200
    rows = [
        Row(
            f"{label}: GET /_consent (read, no write)",
            get.rate,
            "req/s",
            get.p50,
            get.p99,
            get.non200,
            is_baseline=True,
        ),
        Row(
            f"{label}: POST /_consent reject_all",
            post.rate,
            "req/s",
            post.p50,
            post.p99,
            post.non200,
            baseline=get.rate,
        ),
        Row(f"{label}: durable records (rows / {post.duration:.1f} s)", durable_rate, "rec/s", baseline=get.rate),
    ]
    notes.append(
        f"{label}: {processes} server process(es); server CPU {(cpu1 - cpu0) / get.duration:.2f} cores during GET, "
        f"{(cpu2 - cpu1) / post.duration:.2f} cores during POST; wrk CPU {get.cpu / get.duration:.2f} / "
        f"{post.cpu / post.duration:.2f} cores"
    )
    lost = ok_responses - durable
    notes.append(
        f"{label}: GET run added {rows_after_get - rows_before_get} rows (expect 0); POST run: "
        f"{post.requests:,} responses, {ok_responses:,} of them 200, {post.socket_errors} socket errors/timeouts; "
        f"{durable:,} new rows in the file after the server stopped "
        + ("-> every 200 has its row" if lost <= 0 else f"-> {lost:,} ANSWERED 200 WITHOUT A ROW")
        + (f" ({-lost:,} extra: requests in flight when wrk stopped)" if lost < 0 else "")
    )
    return rows, notes, durable_rate


def http_part(args: argparse.Namespace, workdir: Path) -> tuple[list[Row], list[str], float, float | None]:
    """SQLite with one process and with ``--workers``, then PostgreSQL with ``--workers``; the best
    SQLite rate and the PostgreSQL rate come back for the goals."""
    configs = [("SQLite, 1 process", gateway_command)]
    if args.workers > 1:
        configs.append((f"SQLite, {args.workers} workers", lambda port: workers_command(port, args.workers)))
    rows: list[Row] = []
    notes: list[str] = []
    best = 0.0
    for label, argv_for_port in configs:
        config_rows, config_notes, durable_rate = http_config(label, argv_for_port, args, workdir)
        rows += config_rows
        notes += config_notes
        best = max(best, durable_rate)
    postgres_rate = None
    if args.postgres:
        workers = max(args.workers, 1)
        label = f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}"
        with postgres_schema(args.postgres) as url:
            config_rows, config_notes, postgres_rate = http_config(
                label, lambda port: workers_command(port, workers), args, workdir, database=url
            )
        rows += config_rows
        notes += config_notes
    return rows, notes, best, postgres_rate


# --------------------------------------------------------------------------- main


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each timed run, whole seconds (default 10)")
    parser.add_argument("--tasks", type=int, default=1000, help="concurrent writer tasks, store part (default 1000)")
    parser.add_argument("--rows", type=int, default=100, help="rows per writer task, store part (default 100)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes for the extra HTTP cases; 0 skips them"
    )
    parser.add_argument("--only", choices=("store", "http"), help="run one part only")
    parser.add_argument("--repeat", type=int, default=1, help="store part: runs of each store; best shown (default 1)")
    parser.add_argument("--naive-repeat", type=int, default=1, help="store part: runs of the naive store (default 1)")
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        help=f"PostgreSQL to compare with (default {DEFAULT_POSTGRES}); '' skips PostgreSQL",
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default=DEFAULT_LOOP,
        help="store part: event loop (default: uvloop when installed, as uvicorn picks it for the "
        "gateway; asyncio otherwise)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary SQLite files go (default: $TMPDIR)")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk", help="the wrk binary")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be between 1 and 600")
    counts = (args.repeat, args.naive_repeat, args.tasks, args.rows, args.connections, args.threads)
    if min(counts) < 1:
        parser.error("--repeat, --naive-repeat, --tasks, --rows, --connections and --threads must be positive")
    if args.only != "store" and not Path(args.wrk).exists():
        parser.error(f"wrk not found at {args.wrk}; install it (apt-get install wrk) or run --only store")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    # A SIGTERM ends the run through the finally blocks, so servers and files go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    with tempfile.TemporaryDirectory(prefix="consent-bench-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        print(
            f"consent write benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
            f"SQLite {sqlite3.sqlite_version}, files on {filesystem_of(workdir)} ({workdir}), "
            f"{args.seconds:g} s per timed run",
            flush=True,
        )
        load = os.getloadavg()[0]
        print(
            f"load average before the run: {load:.2f}"
            + (" -- other work is running; expect noisy figures" if load > 0.5 else ""),
            flush=True,
        )
        goals = []
        if args.only in (None, "store"):
            print(f"part 1: store alone, {args.tasks} tasks x {args.rows} rows ...", flush=True)
            rows, notes, group_rate = store_part(args, workdir)
            print_table(
                f"Store alone ({args.tasks} concurrent tasks x up to {args.rows} rows; SQLite WAL, "
                f"synchronous=FULL; PostgreSQL synchronous_commit as configured; {args.loop} loop, "
                f"best of {args.repeat}; latency = one record() call)",
                rows,
                notes,
            )
            goals.append(goal_line(f"store alone >= {STORE_GOAL:,} rows/s", group_rate, STORE_GOAL))
        if args.only in (None, "http"):
            print(f"\npart 2: end to end, wrk -t{args.threads} -c{args.connections} ...", flush=True)
            rows, notes, best, postgres_rate = http_part(args, workdir)
            print_table(
                f"End to end (wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s on the same "
                f"machine; baseline = GET on the same server)",
                rows,
                notes,
            )
            goal = f"end to end >= {END_TO_END_GOAL:,} durable records/s (SQLite): best"
            goals.append(goal_line(goal, best, END_TO_END_GOAL))
            if postgres_rate is not None:
                workers = max(args.workers, 1)
                goal = f"end to end >= {POSTGRES_GOAL:,} durable records/s on PostgreSQL with {workers} workers"
                goals.append(goal_line(goal, postgres_rate, POSTGRES_GOAL))
        print("\nGoals")
        for goal in goals:
            print(f"  * {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
