"""First-party analytics under load: hits accepted and forwarded per second, and memory with the backend down.

Part 1, throughput: the gateway runs as a subprocess
(``consent-gateway demo [--workers N]``, GA4 configured through
``GATEWAY_*`` variables, 127.0.0.1 as trusted proxy) in front of a fake GA4
backend (a small asyncio HTTP server in its own process that counts the
requests it gets and answers 204). ``wrk`` with ``--connections`` (default
100) POSTs GA4 hits as gtag.js sends them (shared parameters in the query,
two events in the body, ``X-Forwarded-For``, a browser user agent). Two runs
side by side on the same server: the baseline without a consent cookie (every
hit is read, checked and dropped: nothing is forwarded) and the real one with
analytics consent (read, checked, scrubbed, anonymised, queued, forwarded).
Reported: hits/s accepted (204 answers); hits/s forwarded during the run and
sustained (every hit forwarded, from the first request until the queue is
empty; the throughput part uses a queue large enough that nothing is
dropped); p50/p99; the gateway's CPU per hit (CPU-seconds until the queue is
empty / hits) and the hits per second that makes on one dedicated core.

Part 2, memory with the backend down: the same load for ``--memory-seconds``
(default 60) against a gateway whose GA4 endpoint is a closed port and whose
queue holds ``--queue-size`` hits; the resident memory (VmRSS) of the gateway
process(es) is sampled every second. Reported: RSS before the load, after
the first 5 s (the queue is full by then), peak and end.

Goals from the issue: >= 3,000 hits/s at 100 concurrent clients; flat memory
with the backend down. wrk, the fake backend and the gateway share the
machine, so all figures are lower bounds.

    python benchmarks/collect.py                    # about 2 minutes
    python benchmarks/collect.py --seconds 5 --memory-seconds 10   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
LUA_SCRIPT = HERE / "collect.lua"
HOST = "127.0.0.1"
SECRET_KEY = "benchmark-only-secret-0123456789abcdef"
MEASUREMENT_ID = "G-BENCH1234"
GOAL = 3_000
START_TIMEOUT = 30.0


# --------------------------------------------------------------------------- the fake backend


class CountingBackend(asyncio.Protocol):
    """HTTP/1.1 keep-alive, answers 204 to everything; GET /__count answers the number of hits so far."""

    count = 0

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0].strip())
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            if head.startswith(b"get /__count"):
                body = str(CountingBackend.count).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                CountingBackend.count += 1
                self.transport.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def run_fake_backend(port: int) -> None:
    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(CountingBackend, HOST, port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


class Process:
    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def pids(self) -> list[int]:
        """The server and its workers: every process in the session it leads."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                        if int(stat.read().rsplit(")", 1)[1].split()[3]) == self.process.pid:
                            found.append(int(entry))
                except OSError:
                    continue
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                continue
        return total / clock_ticks()

    def rss_mib(self) -> float:
        """Resident memory of the server and its workers together."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status", encoding="utf-8") as status:
                    total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            except OSError:
                continue
        return total / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()


def http(port: int, method: str, path: str) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_for(port: int, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if http(port, "GET", path)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port} within {START_TIMEOUT:.0f} s")


def backend_count(port: int) -> int:
    return int(http(port, "GET", "/__count")[1])


def start_gateway(endpoint: str, workdir: Path, args: argparse.Namespace, name: str) -> tuple[Process, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_SECRET_KEY": SECRET_KEY,
            "GATEWAY_DATABASE_URL": f"sqlite:///{workdir / (name + '.db')}",
            "GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32",
            "GATEWAY_GA4_MEASUREMENT_IDS": MEASUREMENT_ID,
            "GATEWAY_GA4_ENDPOINT": endpoint,
            "GATEWAY_COLLECT_QUEUE_SIZE": str(args.throughput_queue_size if name == "throughput" else args.queue_size),
            "GATEWAY_COLLECT_DRAIN_TIMEOUT": "10",
            "GATEWAY_COLLECT_CONCURRENCY": str(args.concurrency),
        }
    )
    # As an operator runs it: with --workers N, one SO_REUSEPORT socket per worker (gateway/workers.py).
    argv = [
        sys.executable, "-m", "gateway.cli", "demo", "--host", HOST, "--port", str(port),
        "--workers", str(args.workers),
    ]  # fmt: skip
    gateway = Process(argv, env, workdir / f"{name}.log")
    wait_for(port, "/_consent/healthz")
    return gateway, port


def consent_cookie() -> str:
    from gateway.consent.state import Consent, TokenCodec

    codec = TokenCodec((SECRET_KEY,), 180 * 24 * 3600)
    consent = Consent(str(uuid.uuid4()), frozenset({"functional", "analytics"}), 1, time.time(), "custom")
    return f"consent={codec.dumps(consent)}"


HIT_QUERY = "/_consent/g/collect?" + urlencode(
    {
        "v": "2",
        "tid": MEASUREMENT_ID,
        "gtm": "45je4a20v9",
        "_p": "1700000000000",
        "cid": "1234567890.1700000000",
        "ul": "nl-nl",
        "sr": "1920x1080",
        "sid": "1700000000",
        "sct": "1",
        "seg": "1",
        "dl": "https://leerplein.test/cursus/excel-voor-beginners?token=abc&email=jan%40example.nl",
        "dr": "https://www.example.org/",
        "dt": "Excel voor beginners",
    }
)


@dataclass
class WrkRun:
    requests: int
    duration: float
    non204: int
    socket_errors: int
    p50: float
    p99: float

    @property
    def rate(self) -> float:
        return self.requests / self.duration


def run_wrk(port: int, cookie: str, seconds: int, args: argparse.Namespace) -> WrkRun:
    command = [
        args.wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s", "--timeout", "5s",
        "--latency", "-s", str(LUA_SCRIPT), f"http://{HOST}:{port}", "--", HIT_QUERY, cookie,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    figures = None
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            figures = json.loads(line.removeprefix("BENCH "))
    if result.returncode != 0 or figures is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return WrkRun(
        figures["requests"], figures["duration_us"] / 1e6, figures["non204"], figures["socket_errors"],
        figures["p50_us"] / 1e6, figures["p99_us"] / 1e6,
    )  # fmt: skip


# --------------------------------------------------------------------------- the parts


def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(line[i])) for line in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return " | ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in pairs)

    print(f"\n{title}")
    print("  " + line(header))
    print("  " + "-+-".join("-" * w for w in widths))
    for row in rows:
        print("  " + line(row))


def throughput(args: argparse.Namespace, workdir: Path) -> float:
    backend_port = free_port()
    backend = Process([sys.executable, __file__, "--fake-backend", str(backend_port)], dict(os.environ),
                      workdir / "backend.log")  # fmt: skip
    try:
        wait_for(backend_port, "/__count")
        gateway, port = start_gateway(f"http://{HOST}:{backend_port}/g/collect", workdir, args, "throughput")
        try:
            cookie = consent_cookie()
            run_wrk(port, cookie, 2, args)  # warm-up (parse caches, connection pool), not counted
            time.sleep(1)
            rows = []
            best_forwarded = 0.0
            for label, cookie_value in (("no consent: read, checked, dropped (baseline)", "-"),
                                        ("analytics consent: forwarded", cookie)):  # fmt: skip
                before, cpu0, started = backend_count(backend_port), gateway.cpu_seconds(), time.monotonic()
                run = run_wrk(port, cookie_value, args.seconds, args)
                during, cpu1 = backend_count(backend_port), gateway.cpu_seconds()
                accepted = run.requests - run.non204
                after, drained = drain(backend_port, during)
                cpu2 = gateway.cpu_seconds()
                forwarded = after - before
                # Sustained: every hit forwarded, from the first request to the last hit leaving the queue.
                sustained = forwarded / (drained - started) if forwarded else 0.0
                if cookie_value != "-":
                    best_forwarded = max(best_forwarded, sustained)
                per_hit = (cpu2 - cpu0) / accepted * 1e6 if accepted else 0.0
                rows.append((
                    label, f"{accepted / run.duration:,.0f}", f"{(during - before) / run.duration:,.0f}",
                    f"{sustained:,.0f}", f"{forwarded:,}", f"{run.p50 * 1e3:.1f} ms", f"{run.p99 * 1e3:.1f} ms",
                    f"{run.non204 + run.socket_errors}", f"{(cpu1 - cpu0) / run.duration:.2f}", f"{per_hit:.0f} us",
                    f"{1e6 / per_hit:,.0f}" if per_hit else "-",
                ))  # fmt: skip
            baseline = float(rows[0][1].replace(",", ""))
            rows = [(*row, "baseline" if i == 0 else f"{float(row[1].replace(',', '')) / baseline:.2f}x")
                    for i, row in enumerate(rows)]  # fmt: skip
            table(
                f"Throughput: wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, POST /_consent/g/collect "
                f"(2 events per hit), consent-gateway demo --workers {args.workers}, "
                f"collect_concurrency {args.concurrency}, fake GA4 backend on loopback",
                ("case", "accepted/s", "fwd/s in run", "fwd/s sustained", "forwarded", "p50", "p99", "errors",
                 "gw cores", "gw CPU/hit", "hits/s per core", "vs baseline"),
                rows,
            )  # fmt: skip
        finally:
            gateway.stop()
    finally:
        backend.stop()
    return best_forwarded


def drain(backend_port: int, count: int) -> tuple[int, float]:
    """Wait until the backend's count stops growing (the queue is empty): the count and when it last grew."""
    last_change = time.monotonic()
    while time.monotonic() - last_change < 1.0:
        time.sleep(0.05)
        now = backend_count(backend_port)
        if now != count:
            count, last_change = now, time.monotonic()
    return count, last_change


def memory(args: argparse.Namespace, workdir: Path) -> tuple[float, float, float]:
    down = f"http://{HOST}:{free_port()}/g/collect"  # nobody listens there
    gateway, port = start_gateway(down, workdir, args, "memory")
    samples: list[tuple[float, float]] = []
    try:
        idle = gateway.rss_mib()
        wrk = subprocess.Popen(
            [args.wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.memory_seconds}s",
             "--timeout", "5s", "-s", str(LUA_SCRIPT), f"http://{HOST}:{port}", "--", HIT_QUERY, consent_cookie()],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        started = time.monotonic()
        while wrk.poll() is None:
            time.sleep(1)
            samples.append((time.monotonic() - started, gateway.rss_mib()))
        output = wrk.stdout.read() if wrk.stdout else ""
        requests = next((json.loads(line[6:])["requests"] for line in output.splitlines()
                         if line.startswith("BENCH ")), 0)  # fmt: skip
    finally:
        gateway.stop()
    after_fill = next((rss for t, rss in samples if t >= 5), samples[0][1])
    peak = max(rss for _, rss in samples)
    end = samples[-1][1]
    late = [rss for t, rss in samples if t >= 5]
    table(
        f"Memory with the backend down: {args.memory_seconds} s of wrk -c{args.connections}, queue bound "
        f"{args.queue_size:,}, RSS sampled every second",
        ("RSS before load", "RSS at 5 s", "peak", "end", "end - at 5 s", "min..max after 5 s", "hits sent"),
        [(f"{idle:.1f} MiB", f"{after_fill:.1f} MiB", f"{peak:.1f} MiB", f"{end:.1f} MiB",
          f"{end - after_fill:+.1f} MiB", f"{min(late):.1f}..{max(late):.1f} MiB", f"{requests:,}")],
    )  # fmt: skip
    print("  RSS per 10 s: " + ", ".join(f"{t:.0f}s {rss:.1f}" for t, rss in samples if round(t) % 10 == 0))
    return after_fill, peak, end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each throughput run (default 10)")
    parser.add_argument("--memory-seconds", type=int, default=60, help="length of the memory run (default 60)")
    parser.add_argument("--connections", type=int, default=100, help="concurrent wrk connections (default 100)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--queue-size", type=int, default=10_000, help="GATEWAY_COLLECT_QUEUE_SIZE (default 10000)")
    parser.add_argument(
        "--throughput-queue-size",
        type=int,
        default=200_000,
        help="queue bound for the throughput part: nothing is dropped (default 200000)",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="GATEWAY_COLLECT_CONCURRENCY (default 64)")
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes (default 1)")
    parser.add_argument("--only", choices=("throughput", "memory"))
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    parser.add_argument("--fake-backend", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fake_backend:
        run_fake_backend(args.fake_backend)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    print(f"collect benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f} before the run", flush=True)  # fmt: skip
    goals = []
    with tempfile.TemporaryDirectory(prefix="collect-bench-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "throughput"):
            forwarded = throughput(args, workdir)
            goals.append(f">= {GOAL:,} hits/s forwarded at {args.connections} clients: {forwarded:,.0f} -> "
                         + ("met" if forwarded >= GOAL else "NOT met"))  # fmt: skip
        if args.only in (None, "memory"):
            after_fill, peak, end = memory(args, workdir)
            flat = peak - after_fill < 10 and abs(end - after_fill) < 10
            goals.append(f"flat memory with the backend down (within 10 MiB after the queue filled): "
                         f"{after_fill:.1f} -> peak {peak:.1f} -> end {end:.1f} MiB -> "
                         + ("met" if flat else "NOT met"))  # fmt: skip
    print("\nGoals")
    for goal in goals:
        print(f"  * {goal}")
    print(f"  (own CPU: {resource.getrusage(resource.RUSAGE_SELF).ru_utime:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
