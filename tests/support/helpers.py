"""Shared test helpers: a tiny site, a demo server on loopback, reading records back."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

SECRET = "test-secret-0123456789abcdef"


PAGE = "<!doctype html><html><head><title>Les 1</title></head><body><p>Hallo</p></body></html>"


def site() -> Starlette:
    async def page(request):
        return HTMLResponse(PAGE)

    return Starlette(routes=[Route("/", page), Route("/cursus/les-1", page)])


async def answer_lifespan(receive, send) -> None:
    """The lifespan protocol for raw ASGI test apps: start, then stop when asked."""
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


def rows(db_path: Path) -> list[dict]:
    """Read records back through a connection of our own, as an auditor would."""
    connection = sqlite3.connect(db_path)
    connection.row_factory = sqlite3.Row
    try:
        # The view shows consent ids as text, however the store keeps them.
        return [dict(row) for row in connection.execute("SELECT * FROM consent_record_view ORDER BY seq")]
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    url: str
    db_path: Path
    process: subprocess.Popen

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def start_demo(db_path: Path, extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_DATABASE_URL": f"sqlite:///{db_path}", "GATEWAY_SECRET_KEY": SECRET, **(extra_env or {})})
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port)],
        env=env,
        cwd=db_path.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Server(f"http://127.0.0.1:{port}", db_path, process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"demo exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            if httpx.get(f"{server.url}/_consent/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("demo did not start within 20 s")


class ThreadedServer:
    """A real uvicorn server on a loopback port, run in a thread of the test process."""

    def __init__(self, app, port: int | None = None, limits=None) -> None:
        import functools
        import threading

        import uvicorn

        from gateway.serving.protocol import DEFAULT_LIMITS, GatewayHttpProtocol

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The HTTP protocol the consent-gateway command runs.
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,
            http=functools.partial(GatewayHttpProtocol, limits=limits or DEFAULT_LIMITS),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)


@contextmanager
def chromium(host_resolver_rules: str) -> Iterator[object]:
    """Debian's Chromium, headless, with tracker hosts mapped by ``host_resolver_rules``."""
    import pytest  # helpers is also imported by benchmarks, which have no pytest to fail with

    # The README's first set-up step installs Chromium; a missing one is a broken setup, not a reason to skip.
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright comes with the test extra: pip install -e '.[test]'"
    )
    sync_playwright = sync_api.sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={host_resolver_rules}"],
        )
        try:
            yield browser
        finally:
            browser.close()


class Gateway:
    """``python -m gateway.cli serve`` in a subprocess of its own session."""

    def __init__(self, upstream: str, workdir: Path, workers: int = 1, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        extra_env = env or {}
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env |= {
            "GATEWAY_SECRET_KEY": SECRET,
            "GATEWAY_DATABASE_URL": f"sqlite:///{workdir / 'consent.db'}",
            **extra_env,
        }
        self.log = open(workdir / "gateway.log", "wb")  # noqa: SIM115 (open while the server runs)
        command = [sys.executable, "-m", "gateway.cli", "serve", "--upstream", upstream, "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = workdir / "gateway.log"
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gateway did not start:\n{self.log_path.read_text(errors='replace')}")
            try:
                if httpx.get(self.url + "/_consent/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()


def axe_script(required: bool = False) -> Path:
    """axe-core's script for the accessibility checks. When it is absent the test skips, saying how to get it;
    with ``required`` it fails instead."""
    import pytest

    from support import AXE

    if not AXE.is_file():
        if required:
            pytest.fail(f"{AXE} is missing: run `npm ci` at the repository root (package.json pins axe-core)")
        pytest.skip(f"axe-core is not installed ({AXE} is missing): run `npm ci` at the repository root")
    return AXE
