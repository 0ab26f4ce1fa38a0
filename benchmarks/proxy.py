"""Reverse-proxy throughput: the gateway in front of nginx, next to nginx alone and nginx's own sub_filter.

Three resources, served by nginx from a temporary directory: a 20 KB and a
150 KB course page (``benchmarks/pages.py``'s ``course_page``, with the
usual tracker snippets) and a 1 MB binary. Four ways to fetch them, side by
side, each with ``wrk -t2 -c50 -d<seconds>s --latency`` on loopback:

* direct: nginx serving the files (the upstream itself);
* nginx sub_filter: a second nginx server block that proxies to the first
  (keep-alive pool) and puts ``<script src="/_consent/banner.js">`` after
  ``<head>`` -- the cheapest way to "inject a banner" without a gateway. It
  neutralises no tracker and filters no cookie, so it is a floor, not a peer;
* gateway, 1 and 2 workers: ``consent-gateway serve --upstream <direct>``
  (rewrites every page: trackers neutralised, Consent Mode default and banner
  in ``<head>``, Set-Cookie filtered). Requests carry no consent cookie, so
  every tracker is neutralised; the consent API is not involved. Rewritten
  pages come from the page cache after the first request (the site serves the
  same bytes every time, as a real site's page does between edits);
* gateway without page cache, 2 workers: the same with ``page_cache_size = 0``,
  so every request is rewritten;
* gateway baseline, 2 workers (with ``--baseline DIR``): the gateway from
  another checkout (e.g. the main branch), for before/after in one run;
* Python ceiling, 2 workers: a bare ASGI app under uvicorn (same server
  settings as the gateway) answering the same bytes from memory, with no
  upstream and no rewriting -- the most any Python gateway on uvicorn could do.

Goals from the issue: the gateway reaches >= 50 % of nginx (sub_filter) on
HTML, and >= 3,000 req/s on the 20 KB page with two workers. Note that wrk
runs on the same machine and takes CPU from the servers. Every setup runs
``--rounds`` times, the setups taking turns, and the best round counts. The
table shows the cores the Python server and nginx used, the Python server's
CPU time per request (median of the rounds) and ``req/CPU-s``: requests per
second of server CPU (Python + nginx), figures that suffer less than req/s
when other work shares the machine. The load average is printed per round.

Run from the repository root (needs /usr/bin/wrk and nginx -- ``apt-get
install -y wrk nginx-light``; all traffic stays on 127.0.0.1; servers and
temporary files are removed when it ends, on error or SIGTERM too):

    python benchmarks/proxy.py                                # about 8 minutes
    python benchmarks/proxy.py --seconds 5 --rounds 2         # about 3 minutes
    python benchmarks/proxy.py --baseline /path/to/main/checkout
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]  # pages.py here; the nginx runner is shared with the tests

from pages import course_page  # noqa: E402
from support.nginx import Nginx, free_port, nginx_binary  # noqa: E402

HOST = "127.0.0.1"
SECRET_KEY = "benchmark-only-secret-0123456789abcdef"
BANNER_TAG = '<script src="/_consent/banner.js"></script>'
RATIO_GOAL = 0.5  # gateway / nginx sub_filter on HTML
RATE_GOAL = 3_000  # req/s, 20 KB page, two workers
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
RESOURCES = (("20 KB page", "/page-20k.html"), ("150 KB page", "/page-150k.html"), ("1 MB binary", "/file-1m.bin"))


# --------------------------------------------------------------------------- processes


def session_pids(leader: int) -> list[int]:
    """Every process in the session ``leader`` started (a server and its workers)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == leader:  # field 6 of stat: the session id
            pids.append(int(entry))
    return pids


def cpu_seconds(leader: int) -> float:
    total = 0
    for pid in session_pids(leader):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


class Gateway:
    """``consent-gateway serve`` as a subprocess in a session of its own, stopped with all its workers."""

    def __init__(
        self,
        upstream: str,
        workers: int,
        workdir: Path,
        *,
        name: str = "",
        checkout: Path | None = None,
        extra_env: dict[str, str] | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.workers = workers
        name = name or f"gateway-{workers}"
        self.log_path = workdir / f"{name}.log"
        # The gateway's package from ``checkout`` (another branch, for a baseline), else the one imported here.
        base = [sys.executable, "-m", "gateway.cli"]
        self.argv = argv or [
            *base,
            "serve",
            "--upstream",
            upstream,
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        self.env |= {
            "GATEWAY_SECRET_KEY": SECRET_KEY,
            "GATEWAY_DATABASE_URL": f"sqlite:///{workdir / f'consent-{name}.db'}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(checkout or ROOT), str(workdir)])),
        }
        self.env |= extra_env or {}
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gateway:
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if all(get(self.port, "/_consent/healthz")[0] == 200 for _ in range(4)):  # every worker up, likely
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not answer within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # a worker left behind
        if process.poll() is None:
            process.kill()
        process.wait(STOP_TIMEOUT)
        self._log.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --------------------------------------------------------------------------- wrk


@dataclass
class Run:
    target: str
    resource: str
    rate: float
    p50: float  # seconds
    p99: float
    bytes_per_second: float
    errors: int  # non-2xx/3xx plus socket errors
    gateway_cores: float | None  # CPU the Python server used during the run (cores)
    nginx_cores: float  # CPU nginx used during the run (cores)
    requests: int = 0
    load: float = 0.0  # 1-minute load average at the end of the run
    round: int = 0

    @property
    def gateway_us_per_request(self) -> float | None:
        """CPU time of the Python server per request, in microseconds."""
        if self.gateway_cores is None or not self.requests:
            return None
        return self.gateway_cores * self.elapsed / self.requests * 1e6

    elapsed: float = 0.0


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def seconds_of(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(number) * UNITS[unit]


def run_wrk(args: argparse.Namespace, port: int, path: str, seconds: int) -> dict:
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
        f"http://{HOST}:{port}{path}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    out = result.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if result.returncode != 0 or rate is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{out}\n{result.stderr}")
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    served = re.search(r"(\d+) requests in", out)
    return {
        "requests": int(served.group(1)) if served else 0,
        "rate": float(rate.group(1)),
        "p50": seconds_of(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": seconds_of(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "bytes_per_second": float(transfer.group(1)) * SIZES[transfer.group(2)] if transfer else 0.0,
        "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
    }


def measure(
    args: argparse.Namespace,
    target: str,
    port: int,
    nginx_pid: int,
    gateway_pid: int | None,
    resource: str,
    path: str,
    round_: int = 0,
) -> Run:
    if round_ == 0:
        run_wrk(args, port, path, 1)  # warm-up, not counted
    start, nginx_before = time.monotonic(), cpu_seconds(nginx_pid)
    gateway_before = cpu_seconds(gateway_pid) if gateway_pid else 0.0
    figures = run_wrk(args, port, path, args.seconds)
    elapsed = time.monotonic() - start
    nginx_cores = (cpu_seconds(nginx_pid) - nginx_before) / elapsed
    gateway_cores = (cpu_seconds(gateway_pid) - gateway_before) / elapsed if gateway_pid else None
    run = Run(target, resource, gateway_cores=gateway_cores, nginx_cores=nginx_cores, **figures)
    run.elapsed, run.load, run.round = elapsed, os.getloadavg()[0], round_
    cpu = run.gateway_us_per_request
    print(
        f"  round {round_ + 1} {target:<30} {resource:<12} {run.rate:>9,.0f} req/s  p50 {fmt_ms(run.p50)}  "
        f"p99 {fmt_ms(run.p99)}" + (f"  {cpu:6.0f} us CPU/req" if cpu else "") + f"  load {run.load:.2f}",
        flush=True,
    )
    return run


# --------------------------------------------------------------------------- sanity


def check(target: str, port: int, files: dict[str, bytes]) -> None:
    """Each setup answers what it should, before anything is timed."""
    for path, original in files.items():
        status, body = get(port, path)
        if status != 200:
            raise RuntimeError(f"{target}: GET {path} answered {status}")
        if path.endswith(".bin") or target in ("direct", CEILING):
            if body != original:
                raise RuntimeError(f"{target}: GET {path} is not the file")
        elif target == "nginx sub_filter":
            if body != original.replace(b"<head>", b"<head>" + BANNER_TAG.encode(), 1):
                raise RuntimeError(f"{target}: GET {path} is not the file with the banner tag")
        elif (
            b"/_consent/banner.js" not in body
            or b'type="text/plain"' not in body
            or b"gtag('consent','default'" not in body
        ):
            raise RuntimeError(f"{target}: GET {path} was not rewritten:\n{body[:600]!r}")


# --------------------------------------------------------------------------- report


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def best_runs(runs: list[Run]) -> dict[tuple[str, str], Run]:
    """The best round (highest req/s) of each setup and resource."""
    best: dict[tuple[str, str], Run] = {}
    for run in runs:
        key = (run.target, run.resource)
        if key not in best or run.rate > best[key].rate:
            best[key] = run
    return best


def median(values: list[float]) -> float | None:
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def print_table(runs: list[Run], seconds: int, args: argparse.Namespace) -> list[str]:
    by = best_runs(runs)
    targets = list(dict.fromkeys(r.target for r in runs))
    rounds = max(r.round for r in runs) + 1
    loads = [r.load for r in runs]
    print(
        f"\nReverse proxy, wrk -t{args.threads} -c{args.connections} -d{seconds}s --latency on loopback "
        f"({os.cpu_count()} CPUs, wrk on the same machine; no consent cookie); best of {rounds} round(s), "
        f"setups taking turns; load average during the runs {min(loads):.2f}-{max(loads):.2f}"
    )
    header = (
        f"{'resource':<12} {'setup':<30} {'req/s':>9} {'MB/s':>8} {'p50':>10} {'p99':>10} {'errors':>6} "
        f"{'py CPU':>6} {'us CPU/req':>10} {'nginx CPU':>9} {'req/CPU-s':>9} {'vs sub_filter':>13} {'vs direct':>9}"
    )
    print(header)
    print("-" * len(header))
    for resource, _ in RESOURCES:
        direct = by.get(("direct", resource))
        floor = by.get(("nginx sub_filter", resource))
        for target in targets:
            run = by.get((target, resource))
            if run is None:
                continue
            vs_floor = (
                f"{run.rate / floor.rate:12.0%}" if floor and target not in ("direct", "nginx sub_filter") else ""
            )
            vs_direct = f"{run.rate / direct.rate:8.0%}" if direct and target != "direct" else ""
            gateway_cpu = f"{run.gateway_cores:.2f}c" if run.gateway_cores is not None else ""
            per_request = median(
                [r.gateway_us_per_request for r in runs if (r.target, r.resource) == (target, resource)]
                if run.gateway_cores is not None
                else []
            )
            per_request_text = f"{per_request:,.0f}" if per_request else ""
            server_cores = run.nginx_cores + (run.gateway_cores or 0.0)
            per_cpu = f"{run.rate / server_cores:,.0f}" if server_cores > 0.01 else ""
            print(
                f"{resource:<12} {target:<30} {run.rate:>9,.0f} {run.bytes_per_second / 1e6:>8,.1f} "
                f"{fmt_ms(run.p50):>10} {fmt_ms(run.p99):>10} {run.errors:>6} {gateway_cpu:>6} "
                f"{per_request_text:>10} {run.nginx_cores:>8.2f}c {per_cpu:>9} {vs_floor:>13} {vs_direct:>9}"
            )
        print()
    goals = []
    two = "gateway, 2 workers"
    for resource in ("20 KB page", "150 KB page"):
        run, floor, ceiling = (
            by.get((two, resource)),
            by.get(("nginx sub_filter", resource)),
            by.get((CEILING, resource)),
        )
        if run and floor:
            ratio = run.rate / floor.rate
            goals.append(
                f"{resource}: gateway (2 workers) at {ratio:.0%} of nginx sub_filter (goal >= {RATIO_GOAL:.0%}) -> "
                + ("met" if ratio >= RATIO_GOAL else "NOT met")
            )
        if ceiling and floor:
            reach = ceiling.rate / floor.rate
            goals.append(
                f"{resource}: the Python ceiling (bare uvicorn app, same bytes from memory, 2 workers) is "
                f"{ceiling.rate:,.0f} req/s = {reach:.0%} of nginx sub_filter"
                + (
                    f"; {RATIO_GOAL:.0%} is out of reach for any Python gateway on uvicorn here"
                    if reach < RATIO_GOAL
                    else ""
                )
                + (f"; the gateway reaches {run.rate / ceiling.rate:.0%} of that ceiling" if run else "")
            )
    run = by.get((two, "20 KB page"))
    if run:
        goals.append(
            f"20 KB page: gateway (2 workers) {run.rate:,.0f} req/s (goal >= {RATE_GOAL:,}) -> "
            + ("met" if run.rate >= RATE_GOAL else "NOT met")
        )
    baseline = [t for t in targets if t.startswith("gateway baseline")]
    for target in baseline:
        for resource, _ in RESOURCES:
            old, new = by.get((target, resource)), by.get((two, resource))
            if old and new:
                old_cpu = median(
                    [r.gateway_us_per_request for r in runs if (r.target, r.resource) == (target, resource)]
                )
                new_cpu = median([r.gateway_us_per_request for r in runs if (r.target, r.resource) == (two, resource)])
                goals.append(
                    f"{resource}: gateway now {new.rate:,.0f} req/s, {new_cpu:,.0f} us CPU/req; "
                    f"{target} {old.rate:,.0f} req/s, {old_cpu:,.0f} us CPU/req "
                    f"(x{new.rate / old.rate:.2f} req/s, x{old_cpu / new_cpu:.2f} less CPU per request)"
                )
    print("Goals and comparisons")
    for goal in goals:
        print(f"  * {goal}")
    return goals


CEILING_APP = """
import os
from pathlib import Path

ROOT = Path(os.environ["CEILING_ROOT"])
FILES = {"/" + p.name: p.read_bytes() for p in ROOT.iterdir() if p.is_file()}
TYPES = {".html": b"text/html; charset=utf-8", ".bin": b"application/octet-stream"}
RESPONSES = {
    path: (
        {"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", TYPES[os.path.splitext(path)[1]]), (b"content-length", str(len(body)).encode())]},
        {"type": "http.response.body", "body": body},
    )
    for path, body in FILES.items()
}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    # Any other path (the benchmark's readiness probe among them) gets an empty 200.
    start, body = RESPONSES.get(scope["path"]) or (
        {"type": "http.response.start", "status": 200, "headers": []}, {"type": "http.response.body"})
    await send(start)
    await send(body)
"""


# --------------------------------------------------------------------------- main


def nginx_config(root: Path, direct_port: int) -> tuple[list[str], str]:
    direct = f"""
    server {{
        listen {{listen}};
        root {root};
        location / {{ }}
    }}"""
    sub_filter = f"""
    server {{
        listen {{listen2}};
        location / {{
            proxy_pass http://direct_files;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header Accept-Encoding "";
            sub_filter '<head>' '<head>{BANNER_TAG}';
            sub_filter_once on;
        }}
    }}"""
    upstream = f"upstream direct_files {{ server 127.0.0.1:{direct_port}; keepalive 64; }}"
    return [direct, sub_filter], upstream


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=int, default=10, help="length of each timed run, whole seconds, 1-120 (default 10)"
    )
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--nginx-workers", default="auto", help="nginx worker_processes (default auto: one per CPU)")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk", help="the wrk binary")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per setup and resource, taking turns")
    parser.add_argument("--baseline", type=Path, help="another checkout of the project to run beside this one")
    parser.add_argument("--skip-one-worker", action="store_true", help="leave out the one-worker gateway")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 120:
        parser.error("--seconds must be between 1 and 120")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    if args.baseline is not None and not (args.baseline / "gateway" / "__init__.py").is_file():
        parser.error(f"--baseline {args.baseline}: no gateway package there")
    if not 1 <= args.connections <= 1000 or not 1 <= args.threads <= 64 or args.threads > args.connections:
        parser.error("--connections 1-1000, --threads 1-64 and no more threads than connections")
    if not Path(args.wrk).exists():
        parser.error(f"wrk not found at {args.wrk}: apt-get install -y wrk")
    try:
        nginx_binary()
    except RuntimeError as error:
        parser.error(str(error))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    # SIGTERM and SIGHUP end the run through the with/finally blocks, so servers and files go too.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: sys.exit(128 + number))
    with tempfile.TemporaryDirectory(prefix="consent-proxy-bench-") as tmp:
        workdir = Path(tmp)
        root = workdir / "www"
        root.mkdir()
        files = {
            "/page-20k.html": course_page(20_000),
            "/page-150k.html": course_page(150_000),
            "/file-1m.bin": os.urandom(1024 * 1024),
        }
        for path, body in files.items():
            (root / path.lstrip("/")).write_bytes(body)
        (workdir / "ceiling.py").write_text(CEILING_APP)
        print(
            f"proxy benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {args.seconds} s per timed run, "
            f"{args.rounds} round(s), pages {len(files['/page-20k.html']):,} and "
            f"{len(files['/page-150k.html']):,} bytes",
            flush=True,
        )
        load = os.getloadavg()[0]
        print(
            f"load average before the run: {load:.2f}"
            + (" -- other work is running; expect noisy figures" if load > 0.5 else "")
        )
        ports = [free_port(), free_port()]
        blocks, upstream = nginx_config(root, ports[0])
        runs: list[Run] = []
        with (
            Nginx(
                workdir / "nginx",
                blocks,
                ports=ports,
                worker_processes=args.nginx_workers,
                http_extra=upstream,
                access_log=False,
            ) as nginx,
            contextlib.ExitStack() as servers,
        ):
            assert nginx.process is not None
            nginx_pid = nginx.process.pid
            setups: list[tuple[str, int, int | None]] = [
                ("direct", ports[0], None),
                ("nginx sub_filter", ports[1], None),
            ]
            python_servers = [
                (CEILING, ceiling_server(workdir, root)),
                ("gateway, 2 workers", Gateway(nginx.url, 2, workdir)),
                (
                    "gateway, no page cache, 2 w.",
                    Gateway(nginx.url, 2, workdir, name="gateway-nocache", extra_env={"GATEWAY_PAGE_CACHE_SIZE": "0"}),
                ),
            ]
            if args.baseline:
                python_servers.append(
                    (
                        "gateway baseline, 2 workers",
                        Gateway(nginx.url, 2, workdir, name="gateway-baseline", checkout=args.baseline),
                    )
                )
            if not args.skip_one_worker:
                python_servers.append(("gateway, 1 worker", Gateway(nginx.url, 1, workdir)))
            for target, server in python_servers:
                servers.enter_context(server)
                setups.append((target, server.port, server.pid))
            for target, port, _ in setups:
                check(target, port, files)
            for round_ in range(args.rounds):
                for resource, path in RESOURCES:
                    order = setups if round_ % 2 == 0 else setups[::-1]
                    for target, port, pid in order:
                        runs.append(measure(args, target, port, nginx_pid, pid, resource, path, round_))
        print_table(runs, args.seconds, args)
        print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    return 0


CEILING = "Python ceiling, 2 workers"


def ceiling_server(workdir: Path, root: Path) -> Gateway:
    """A bare uvicorn app with the gateway's server settings, answering the files from memory."""
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "ceiling:app",
        "--host",
        HOST,
        "--workers",
        "2",
        "--no-access-log",
        "--no-server-header",
        "--no-proxy-headers",
        "--lifespan",
        "off",
        "--log-level",
        "warning",
    ]
    server = Gateway("", 2, workdir, name="ceiling", extra_env={"CEILING_ROOT": str(root)}, argv=argv)
    server.argv += ["--port", str(server.port)]
    return server


if __name__ == "__main__":
    sys.exit(main())
