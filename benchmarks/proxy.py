"""Reverse-proxy throughput: the gateway in front of nginx, next to nginx alone and nginx's own sub_filter.

An origin nginx serves two sets of resources from a temporary directory:

* static: a 20 KB and a 150 KB course page (``benchmarks/pages.py``'s
  ``course_page``, with GA4, GTM, the Meta pixel and other tracker snippets)
  and a 1 MB binary, as files: the same bytes every time, ``Content-Length``,
  ``ETag`` and ``Last-Modified`` -- after the first request the gateway serves
  these pages from its page cache;
* dynamic: course pages of 20 KB, 150 KB and 1 MB with six SSI commands
  (``ssi on``) that expand ``$request_id`` and ``$msec``, sent chunked with
  ``Cache-Control: no-store, private`` and no ``ETag`` or ``Last-Modified``:
  every body differs, as a logged-in LMS page does (session key, CSRF token,
  timestamp), so no cache can serve one twice;
* post: a form post as a learning platform's pages make them all the time
  (Moodle's ``lib/ajax/service.php``): a 1 KB JSON request body, answered by
  the origin with a small JSON document (nginx ``return``), nothing to
  rewrite: what passing a request body on costs.

The setups, each fetched with ``wrk -t2 -c50 -d<seconds>s --latency`` on loopback:

* nginx direct: the origin itself;
* nginx sub_filter, 1 and 2 workers: a second nginx (its own master, so its
  CPU is counted apart from the origin's) that proxies to the origin
  (keep-alive pool) and puts ``<script src="/_consent/banner.js">`` after
  ``<head>`` -- the cheapest way to "inject a banner" without a gateway. It
  neutralises no tracker and filters no cookie, so it is a floor, not a peer.
  The two-worker one is the reference of the ratios;
* gateway, 2 workers: ``consent-gateway serve --upstream <origin>`` (rewrites
  every page: trackers neutralised, Consent Mode default and banner in
  ``<head>``, Set-Cookie filtered). Requests carry no consent cookie, so every
  tracker is neutralised; the consent API is not involved;
* gateway, no page cache, 2 workers: the same with ``page_cache_size = 0``;
* gateway baseline, 2 workers (with ``--baseline DIR``): the gateway from
  another checkout (e.g. the main branch), for before/after in one run;
* on request, the gateway with 1 worker (``--one-worker``) and a Python
  ceiling (``--ceiling``): a bare ASGI app under uvicorn with 2 workers
  answering the raw files from memory, no upstream and no rewriting -- the
  most any Python server on uvicorn could do.

Per page and setup the tables give the median over the rounds (not the best
round) of req/s, p50 and p99 latency, the front end's CPU time per request
(the gateway's processes, the sub_filter nginx, or the origin for nginx
direct: utime + stime of all its processes and reaped children, from
/proc/<pid>/stat before and after each wrk run), the origin's CPU per request,
and the resident memory of the largest front-end worker after the run
(VmRSS). Ratios are against nginx sub_filter with 2 workers in the same run.
The rounds take turns: each round runs every setup once per page, in
alternating order. wrk runs on the same machine and takes CPU from the
servers; the load average is printed per run.

Goals from issue 16 (2 workers each): the gateway reaches at least 50 % of
nginx sub_filter's req/s on the 20 KB dynamic page and 75 % on the 150 KB one,
stays at or above 52 % on the static pages (cache hits), and no worker holds
more than 40 MiB after a run.

Run from the repository root (needs /usr/bin/wrk and nginx -- ``apt-get
install -y wrk nginx-light``; all traffic stays on 127.0.0.1; servers and
temporary files are removed when it ends, on error or SIGTERM too). The
duration is printed at the start:

    python benchmarks/proxy.py                                # everything: about 20 minutes
    python benchmarks/proxy.py --seconds 5                    # everything: about 11 minutes
    python benchmarks/proxy.py --quick                        # 3 s x 3 rounds, 20 and 150 KB, the post: about 5 min
    python benchmarks/proxy.py --quick --pages dynamic --sizes 20k,150k,1m
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]  # pages.py here; the nginx runner is shared with the tests

from pages import course_page  # noqa: E402
from procstats import cpu_seconds, worker_rss  # noqa: E402
from support.nginx import Nginx, free_port, nginx_binary  # noqa: E402

HOST = "127.0.0.1"
SECRET_KEY = "benchmark-only-secret-0123456789abcdef"
BANNER_TAG = '<script src="/_consent/banner.js"></script>'
DYNAMIC_CACHE_CONTROL = "no-store, private"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
MIB = 1024 * 1024

# Goals of issue 16: the gateway (2 workers) against nginx sub_filter (2 workers), req/s, same run.
# What a Moodle page posts to lib/ajax/service.php, padded to 1 KB, and what the origin answers.
POST_BODY = (
    b'[{"index":0,"methodname":"core_course_get_enrolled_courses_by_timeline_classification",'
    b'"args":{"offset":0,"limit":12,"classification":"all","sort":"fullname","customfieldname":"",'
    b'"customfieldvalue":"","requiredfields":["id","fullname","shortname","showcoursecategory",'
    b'"showshortname","visible","enddate"],"padding":"' + b"x" * 700 + b'"}}]'
)
POST_ANSWER = b'[{"error":false,"data":{"courses":[],"nextoffset":12}}]'
SHARE_GOALS = {"20 KB dynamic": 0.50, "150 KB dynamic": 0.75, "20 KB page": 0.52, "150 KB page": 0.52}
RSS_GOAL = 40 * MIB  # per gateway worker, after a run

# The setups; the one named REFERENCE is what the ratios are against.
DIRECT = "nginx direct"
SUB_FILTER_1 = "nginx sub_filter, 1 worker"
SUB_FILTER_2 = "nginx sub_filter, 2 workers"
REFERENCE = SUB_FILTER_2
GATEWAY = "gateway, 2 workers"
NO_CACHE = "gateway, 2 w., no page cache"
BASELINE = "gateway baseline, 2 workers"
ONE_WORKER = "gateway, 1 worker"
CEILING = "Python ceiling, 2 workers"


@dataclass(frozen=True)
class Resource:
    kind: str  # "static" or "dynamic"
    size: str  # as --sizes names it
    label: str
    path: str
    build: Callable[[], bytes]


RESOURCES = (
    Resource("static", "20k", "20 KB page", "/page-20k.html", lambda: course_page(20_000)),
    Resource("static", "150k", "150 KB page", "/page-150k.html", lambda: course_page(150_000)),
    Resource("static", "1m", "1 MB binary", "/file-1m.bin", lambda: os.urandom(MIB)),
    Resource("dynamic", "20k", "20 KB dynamic", "/dynamic/page-20k.html", lambda: course_page(20_000, dynamic=True)),
    Resource(
        "dynamic", "150k", "150 KB dynamic", "/dynamic/page-150k.html", lambda: course_page(150_000, dynamic=True)
    ),
    Resource("dynamic", "1m", "1 MB dynamic", "/dynamic/page-1m.html", lambda: course_page(1_000_000, dynamic=True)),
    # The body posted (not a file the origin serves); one size, whatever --sizes says.
    Resource("post", "1k", "1 KB form post", "/post/service.php", lambda: POST_BODY),
)
KINDS = ("static", "dynamic", "post")
SIZES = ("20k", "150k", "1m")


@dataclass(frozen=True)
class Setup:
    """One way of serving the resources: where wrk sends its requests and whose processes it loads."""

    name: str
    role: str  # "direct", "sub_filter", "gateway" or "ceiling": what its answers must look like
    port: int
    front: int  # session leader of the front end's processes (for nginx direct: the origin)


# --------------------------------------------------------------------------- servers


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


CEILING_APP = """
import os
from pathlib import Path

ROOT = Path(os.environ["CEILING_ROOT"])
FILES = {"/" + p.relative_to(ROOT).as_posix(): p.read_bytes() for p in ROOT.rglob("*") if p.is_file()}
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


def ceiling_server(workdir: Path, root: Path) -> Gateway:
    """A bare uvicorn app with the gateway's server settings, answering the raw files from memory."""
    (workdir / "ceiling.py").write_text(CEILING_APP)
    argv = [sys.executable, "-m", "uvicorn", "ceiling:app", "--host", HOST, "--workers", "2", "--no-access-log"]
    argv += ["--no-server-header", "--no-proxy-headers", "--lifespan", "off", "--log-level", "warning"]
    server = Gateway("", 2, workdir, name="ceiling", extra_env={"CEILING_ROOT": str(root)}, argv=argv)
    server.argv += ["--port", str(server.port)]
    return server


def origin_block(root: Path) -> str:
    """The origin: files as they are, and under /dynamic/ pages with SSI, never the same body twice."""
    return f"""
    server {{
        listen {{listen}};
        root {root};
        location / {{ }}
        location /dynamic/ {{
            ssi on;
            etag off;
            add_header Cache-Control "{DYNAMIC_CACHE_CONTROL}" always;
        }}
        location /post/ {{
            default_type application/json;
            add_header Cache-Control "no-store" always;
            return 200 '{POST_ANSWER.decode()}';
        }}
    }}"""


def sub_filter_block() -> str:
    return f"""
    server {{
        listen {{listen}};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header Accept-Encoding "";
            sub_filter '<head>' '<head>{BANNER_TAG}';
            sub_filter_once on;
        }}
    }}"""


def sub_filter_nginx(workdir: Path, origin_port: int, workers: int) -> Nginx:
    """nginx with ``workers`` workers in front of the origin, a master of its own so its CPU is its own."""
    upstream = f"upstream origin {{ server {HOST}:{origin_port}; keepalive 64; }}"
    return Nginx(
        workdir / f"sub-filter-{workers}",
        [sub_filter_block()],
        worker_processes=workers,
        http_extra=upstream,
        access_log=False,
    )


def get(port: int, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """A GET, or a POST of ``body`` as JSON."""
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        if body is None:
            connection.request("GET", path)
        else:
            connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# --------------------------------------------------------------------------- sanity


def check(setup: Setup, resource: Resource, original: bytes) -> None:
    """A setup answers what it should, before anything is timed; a dynamic page differs every time."""
    if resource.kind == "post":
        status, _, answer = get(setup.port, resource.path, original)
        if (status, answer) != (200, POST_ANSWER):
            raise RuntimeError(f"{setup.name}: POST {resource.path} answered {status} {answer[:200]!r}")
        return
    status, headers, body = get(setup.port, resource.path)
    where = f"{setup.name}: GET {resource.path}"
    if status != 200:
        raise RuntimeError(f"{where} answered {status}")
    if setup.role == "ceiling" or resource.path.endswith(".bin"):
        if body != original:
            raise RuntimeError(f"{where} is not the file")
        return
    if resource.kind == "dynamic":
        if b"<!--#" in body:
            raise RuntimeError(f"{where}: the SSI commands were not expanded (ssi on?)")
        if get(setup.port, resource.path)[2] == body:
            raise RuntimeError(f"{where}: two requests got the same body")
        if setup.role == "direct":
            check_dynamic_headers(where, headers)
    elif setup.role == "direct" and body != original:
        raise RuntimeError(f"{where} is not the file")
    head = original.split(b"<head>", 1)[0] + b"<head>"
    if setup.role == "sub_filter" and not body.startswith(head + BANNER_TAG.encode()):
        raise RuntimeError(f"{where} is not the page with the banner tag")
    if setup.role == "gateway" and not all(
        mark in body for mark in (b"/_consent/banner.js", b'type="text/plain"', b"gtag('consent','default'")
    ):
        raise RuntimeError(f"{where} was not rewritten:\n{body[:600]!r}")


def check_dynamic_headers(where: str, headers: dict[str, str]) -> None:
    problems = [f"has {name}" for name in ("etag", "last-modified", "content-length") if name in headers]
    if headers.get("cache-control") != DYNAMIC_CACHE_CONTROL:
        problems.append(f"Cache-Control {headers.get('cache-control')!r}")
    if headers.get("transfer-encoding") != "chunked":
        problems.append("not chunked")
    if problems:
        raise RuntimeError(f"{where}: not a dynamic page: {', '.join(problems)}")


# --------------------------------------------------------------------------- wrk


@dataclass
class Run:
    """One timed wrk run of one setup on one resource."""

    setup: str
    resource: str
    round: int
    requests: int
    elapsed: float  # seconds, wrk's whole run
    rate: float
    p50: float  # seconds
    p99: float
    errors: int  # non-2xx/3xx plus socket errors
    front_cpu: float  # CPU seconds of the front end's processes during the run
    origin_cpu: float  # CPU seconds of the origin nginx during the run
    rss: list[int] = field(default_factory=list)  # bytes, per front-end worker, after the run
    load: float = 0.0  # 1-minute load average at the end of the run

    @property
    def front_us(self) -> float:
        """CPU time of the front end per request, in microseconds."""
        return self.front_cpu / self.requests * 1e6 if self.requests else 0.0

    @property
    def origin_us(self) -> float:
        return self.origin_cpu / self.requests * 1e6 if self.requests else 0.0


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds_of(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(number) * UNITS[unit]


def run_wrk(args: argparse.Namespace, port: int, path: str, seconds: int, script: Path | None = None) -> dict:
    """wrk's figures for ``path``; ``script``: a Lua script that makes the requests POSTs."""
    command = [args.wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s"]
    command += ["--timeout", "5s", "--latency", f"http://{HOST}:{port}{path}"]
    if script is not None:
        command += ["-s", str(script)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    out = result.stdout
    if script is not None and str(script) in out + result.stderr:  # wrk reports a broken script, then sends GETs
        raise RuntimeError(f"wrk could not run {script}:\n{out}\n{result.stderr}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if result.returncode != 0 or rate is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{out}\n{result.stderr}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    served = re.search(r"(\d+) requests in", out)
    return {
        "requests": int(served.group(1)) if served else 0,
        "rate": float(rate.group(1)),
        "p50": seconds_of(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": seconds_of(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
    }


def measure(args: argparse.Namespace, setup: Setup, origin: int, resource: Resource, round_: int) -> Run:
    """One timed wrk run, with the CPU the front end and the origin spent on it and the workers' memory after."""
    script = args.post_script if resource.kind == "post" else None
    if round_ == 0:
        run_wrk(args, setup.port, resource.path, 1, script)  # warm-up, not counted
    start, front_before, origin_before = time.monotonic(), cpu_seconds(setup.front), cpu_seconds(origin)
    figures = run_wrk(args, setup.port, resource.path, args.seconds, script)
    elapsed = time.monotonic() - start
    front_cpu, origin_cpu = cpu_seconds(setup.front) - front_before, cpu_seconds(origin) - origin_before
    run = Run(
        setup.name, resource.label, round_, elapsed=elapsed, front_cpu=front_cpu, origin_cpu=origin_cpu, **figures
    )
    run.rss, run.load = worker_rss(setup.front), os.getloadavg()[0]
    rss = "/".join(f"{r / MIB:.0f}" for r in run.rss)
    print(  # cores: how much CPU the front end had; below its worker count it waited or was crowded out
        f"  round {round_ + 1} {setup.name:<29} {resource.label:<14} {run.rate:>9,.0f} req/s  p50 {fmt_ms(run.p50)}"
        f"  p99 {fmt_ms(run.p99)}  {run.front_us:6,.0f} us CPU/req ({front_cpu / elapsed:.2f} cores)"
        f"  RSS {rss} MiB  load {run.load:.2f}" + (f"  {run.errors} ERRORS" if run.errors else ""),
        flush=True,
    )
    return run


# --------------------------------------------------------------------------- report


@dataclass
class Summary:
    """Medians over the rounds of one setup on one resource."""

    rate: float
    p50: float
    p99: float
    front_us: float
    origin_us: float
    rss: float  # the largest worker, bytes
    errors: int


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def summarise(runs: list[Run]) -> dict[tuple[str, str], Summary]:
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.setup, run.resource), []).append(run)
    return {
        key: Summary(
            rate=median([r.rate for r in group]),
            p50=median([r.p50 for r in group]),
            p99=median([r.p99 for r in group]),
            front_us=median([r.front_us for r in group]),
            origin_us=median([r.origin_us for r in group]),
            rss=median([max(r.rss, default=0) for r in group]),
            errors=sum(r.errors for r in group),
        )
        for key, group in groups.items()
    }


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def share(summary: Summary | None, reference: Summary | None) -> str:
    return f"{summary.rate / reference.rate:.0%}" if summary and reference and reference.rate else ""


def print_table(by: dict[tuple[str, str], Summary], setups: list[str], resources: list[Resource]) -> None:
    """Every setup on every page, as a markdown table."""
    print(
        "| page | setup | req/s | p50 | p99 | CPU per request, front end | CPU per request, origin "
        f"| RSS per worker | vs {REFERENCE} | errors |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for resource in resources:
        reference = by.get((REFERENCE, resource.label))
        for name in setups:
            s = by.get((name, resource.label))
            if s is None:
                continue
            print(
                f"| {resource.label} | {name} | {s.rate:,.0f} | {s.p50 * 1000:.2f} ms | {s.p99 * 1000:.2f} ms "
                f"| {s.front_us:,.0f} µs | {s.origin_us:,.0f} µs | {s.rss / MIB:.0f} MiB "
                f"| {share(s, reference) if name != REFERENCE else ''} | {s.errors} |"
            )


def print_summary(by: dict[tuple[str, str], Summary], resources: list[Resource]) -> None:
    """The issue's table: nginx sub_filter against the gateway, with and without its page cache."""
    print(
        "| page | nginx `proxy_pass` + `sub_filter` | consent-gateway `serve` | share "
        "| `serve`, `page_cache_size = 0` | share | CPU per request, nginx / gateway / no cache "
        "| RSS per worker, nginx / gateway / no cache |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for resource in resources:
        floor, gateway, uncached = (by.get((name, resource.label)) for name in (REFERENCE, GATEWAY, NO_CACHE))
        if not floor or not gateway or not uncached or resource.path.endswith(".bin"):
            continue
        print(
            f"| {resource.label} | {floor.rate:,.0f} req/s | {gateway.rate:,.0f} req/s | {share(gateway, floor)} "
            f"| {uncached.rate:,.0f} req/s | {share(uncached, floor)} "
            f"| {floor.front_us:,.0f} µs / {gateway.front_us:,.0f} µs / {uncached.front_us:,.0f} µs "
            f"| {floor.rss / MIB:.0f} / {gateway.rss / MIB:.0f} / {uncached.rss / MIB:.0f} MiB |"
        )


def goal_lines(by: dict[tuple[str, str], Summary], resources: list[Resource]) -> list[str]:
    """The issue's goals, met or not, then the ceiling and the baseline beside the gateway."""
    lines = []
    for resource in resources:
        goal = SHARE_GOALS.get(resource.label)
        floor, gateway = by.get((REFERENCE, resource.label)), by.get((GATEWAY, resource.label))
        if goal is not None and floor and gateway:
            ratio = gateway.rate / floor.rate
            lines.append(
                f"{resource.label}: gateway (2 workers) at {ratio:.0%} of {REFERENCE} (goal >= {goal:.0%}) -> "
                + ("met" if ratio >= goal else "NOT met")
            )
    for name in (GATEWAY, NO_CACHE):
        largest = max((s.rss for (setup, _), s in by.items() if setup == name), default=None)
        if largest is not None:
            lines.append(
                f"{name}: largest worker {largest / MIB:.0f} MiB after a run (goal <= {RSS_GOAL / MIB:.0f} MiB) -> "
                + ("met" if largest <= RSS_GOAL else "NOT met")
            )
    for resource in resources:
        ceiling, floor = by.get((CEILING, resource.label)), by.get((REFERENCE, resource.label))
        if ceiling and floor:
            lines.append(
                f"{resource.label}: the Python ceiling (bare uvicorn app, raw bytes from memory, 2 workers) does "
                f"{ceiling.rate:,.0f} req/s = {share(ceiling, floor)} of {REFERENCE}, "
                f"{ceiling.front_us:,.0f} µs per request"
            )
        old, new = by.get((BASELINE, resource.label)), by.get((GATEWAY, resource.label))
        if old and new:
            lines.append(
                f"{resource.label}: gateway now {new.rate:,.0f} req/s, {new.front_us:,.0f} µs CPU/req; baseline "
                f"{old.rate:,.0f} req/s, {old.front_us:,.0f} µs CPU/req (x{new.rate / old.rate:.2f} req/s, "
                f"x{old.front_us / new.front_us:.2f} less CPU per request)"
            )
    return lines


def report(runs: list[Run], setups: list[str], resources: list[Resource], args: argparse.Namespace) -> None:
    by = summarise(runs)
    loads = [r.load for r in runs]
    print(
        f"\nReverse proxy, wrk -t{args.threads} -c{args.connections} -d{args.seconds}s --latency on loopback "
        f"({os.cpu_count()} CPUs, wrk on the same machine; no consent cookie); median of {args.rounds} round(s), "
        f"setups taking turns; load average during the runs {min(loads):.2f}-{max(loads):.2f}. "
        "CPU per request: utime + stime of the front end's processes (for nginx direct: the origin), "
        "RSS: the largest front-end worker after the run.\n"
    )
    print_table(by, setups, resources)
    print(f"\nThe issue's table ({REFERENCE} against the gateway with 2 workers, same run):\n")
    print_summary(by, resources)
    print("\nGoals and comparisons")
    for line in goal_lines(by, resources):
        print(f"  * {line}")


# --------------------------------------------------------------------------- main


def names(text: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """A comma-separated choice among ``allowed``, in the order given, each once."""
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    if not chosen or any(c not in allowed for c in chosen):
        raise argparse.ArgumentTypeError(f"choose one or more of {','.join(allowed)}, comma-separated (got {text!r})")
    return chosen


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, help="length of each timed run, whole seconds, 1-120 (default 10)")
    parser.add_argument("--rounds", type=int, help="timed runs per setup and page, taking turns (default 3)")
    parser.add_argument(
        "--pages",
        type=lambda text: names(text, KINDS),
        default=KINDS,
        help="which pages: static, dynamic, post, comma-separated (default all three)",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: names(text, SIZES),
        help="which sizes, e.g. 20k,150k (default 20k,150k,1m; the static 1m is a binary file)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 s runs, 3 rounds, sizes 20k,150k unless given: about 5 minutes"
    )
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--nginx-workers", default="auto", help="the origin's worker_processes (default auto)")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk", help="the wrk binary")
    parser.add_argument("--baseline", type=Path, help="another checkout of the project to run beside this one")
    parser.add_argument("--one-worker", action="store_true", help="also the gateway with one worker")
    parser.add_argument("--ceiling", action="store_true", help="also a bare uvicorn app serving the files")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (3 if args.quick else 10)
    args.rounds = args.rounds or 3
    args.sizes = args.sizes or (("20k", "150k") if args.quick else SIZES)
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


def write_files(root: Path, resources: list[Resource]) -> dict[str, bytes]:
    files = {}
    for resource in resources:
        files[resource.path] = body = resource.build()
        target = root / resource.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return files


def python_servers(args: argparse.Namespace, upstream: str, workdir: Path, root: Path) -> list[tuple[str, Gateway]]:
    servers = [
        (GATEWAY, Gateway(upstream, 2, workdir)),
        (NO_CACHE, Gateway(upstream, 2, workdir, name="gateway-nocache", extra_env={"GATEWAY_PAGE_CACHE_SIZE": "0"})),
    ]
    if args.baseline:
        servers.append((BASELINE, Gateway(upstream, 2, workdir, name="gateway-baseline", checkout=args.baseline)))
    if args.one_worker:
        servers.append((ONE_WORKER, Gateway(upstream, 1, workdir)))
    if args.ceiling:
        servers.append((CEILING, ceiling_server(workdir, root)))
    return servers


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    # SIGTERM and SIGHUP end the run through the with/finally blocks, so servers and files go too.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: sys.exit(128 + number))
    resources = [r for r in RESOURCES if r.kind in args.pages and (r.kind == "post" or r.size in args.sizes)]
    if not resources:
        sys.exit("no page left: see --pages and --sizes")
    with tempfile.TemporaryDirectory(prefix="consent-proxy-bench-") as tmp:
        workdir = Path(tmp)
        root = workdir / "www"
        files = write_files(root, resources)
        args.post_script = workdir / "post.lua"
        args.post_script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [=[{POST_BODY.decode()}]=]\n"  # a long bracket the JSON's "]]" cannot close
        )
        count = 5 + bool(args.baseline) + args.one_worker + args.ceiling
        minutes = count * len(resources) * (args.rounds * (args.seconds + 0.5) + 1.5) / 60 + 0.5
        print(
            f"proxy benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {args.seconds} s per timed run, "
            f"{args.rounds} round(s), {count} setups, pages: "
            + ", ".join(f"{r.label} ({len(files[r.path]):,} bytes)" for r in resources)
            + f"; about {minutes:.0f} min",
            flush=True,
        )
        load = os.getloadavg()[0]
        print(
            f"load average before the run: {load:.2f}"
            + (" -- other work is running; expect noisy figures" if load > 0.5 else ""),
            flush=True,
        )
        runs: list[Run] = []
        with contextlib.ExitStack() as servers:
            origin = servers.enter_context(
                Nginx(workdir / "origin", [origin_block(root)], worker_processes=args.nginx_workers, access_log=False)
            )
            assert origin.process is not None
            setups = [Setup(DIRECT, "direct", origin.port, origin.process.pid)]
            for workers, name in ((1, SUB_FILTER_1), (2, SUB_FILTER_2)):
                front = servers.enter_context(sub_filter_nginx(workdir, origin.port, workers))
                assert front.process is not None
                setups.append(Setup(name, "sub_filter", front.port, front.process.pid))
            for name, server in python_servers(args, origin.url, workdir, root):
                servers.enter_context(server)
                setups.append(Setup(name, "ceiling" if name == CEILING else "gateway", server.port, server.pid))
            for setup in setups:
                for resource in resources:
                    check(setup, resource, files[resource.path])
            print(
                "every setup answers as it should"
                + (
                    "; dynamic pages differ on every request, chunked, Cache-Control: no-store, private"
                    if "dynamic" in args.pages
                    else ""
                ),
                flush=True,
            )
            for round_ in range(args.rounds):
                for resource in resources:
                    for setup in setups if round_ % 2 == 0 else setups[::-1]:
                        runs.append(measure(args, setup, origin.process.pid, resource, round_))
        report(runs, [s.name for s in setups], resources, args)
        print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
