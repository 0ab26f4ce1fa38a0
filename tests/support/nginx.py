"""Debian's nginx as a test-owned process: own config, own prefix, own logs, a free loopback port.

Nothing of the system nginx is used but the binary: no /etc/nginx, no
/var/log/nginx, no /var/lib/nginx, no service. Install it with
``apt-get install -y nginx-light`` (Debian 12: the binary is /usr/sbin/nginx).

    with Nginx(workdir, server_blocks=["server { listen {listen}; root /srv; }"]) as nginx:
        httpx.get(nginx.url + "/")

In the blocks (plain nginx syntax, no escaping), ``{listen}`` becomes
``127.0.0.1:<port>`` and ``{port}`` the port; a second block gets
``{listen2}``/``{port2}`` and so on: one free port per block (``ports``).
Used by tests/e2e/test_proxy_nginx.py and benchmarks/proxy.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

INSTALL_HINT = "nginx is needed for these tests: apt-get install -y nginx-light (Debian; the binary is /usr/sbin/nginx)"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# A few types of our own: the system's /etc/nginx/mime.types is not relied on.
MIME_TYPES = """
    types {
        text/html html htm shtml;
        text/css css;
        text/plain txt;
        application/javascript js;
        application/json json;
        image/png png;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
"""


def nginx_binary() -> str:
    """The nginx binary, or a RuntimeError that says how to install it (tests fail, they do not skip)."""
    for candidate in (os.environ.get("NGINX"), shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Nginx:
    """One nginx master (with its workers) started from a config generated in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        server_blocks: list[str],
        *,
        ports: list[int] | None = None,
        worker_processes: int | str = 1,
        http_extra: str = "",
        access_log: bool = True,
    ) -> None:
        self.binary = nginx_binary()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ports = list(ports) if ports else [free_port() for _ in server_blocks]
        if len(self.ports) != len(server_blocks):
            raise ValueError("one port per server block")
        self.port = self.ports[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server_blocks = server_blocks
        self.worker_processes = worker_processes
        self.http_extra = http_extra
        self.log_access = access_log
        self.conf = self.workdir / "nginx.conf"
        self.error_log = self.workdir / "error.log"
        self.access_log = self.workdir / "access.log"
        self.process: subprocess.Popen | None = None
        self.write_config()

    # ------------------------------------------------------------------ config

    def listen(self, index: int) -> str:
        return f"127.0.0.1:{self.ports[index]}"

    def write_config(self) -> None:
        tmp = self.workdir
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp / name).mkdir(exist_ok=True)
        substitutions = {("listen" if i == 0 else f"listen{i + 1}"): self.listen(i) for i in range(len(self.ports))}
        substitutions |= {("port" if i == 0 else f"port{i + 1}"): str(p) for i, p in enumerate(self.ports)}
        blocks = []
        for block in self.server_blocks:
            for key, value in substitutions.items():
                block = block.replace("{" + key + "}", value)
            blocks.append(block)
        # As root the workers would switch to "nobody", who cannot read a 0700 pytest tmp dir.
        user = "user root;" if os.geteuid() == 0 else ""
        self.conf.write_text(
            f"""
{user}
worker_processes {self.worker_processes};
pid {tmp}/nginx.pid;
error_log {self.error_log} warn;
events {{ worker_connections 4096; }}
http {{
    {MIME_TYPES}
    access_log {self.access_log if self.log_access else "off"};
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    server_tokens off;
    {self.http_extra}
{chr(10).join(blocks)}
}}
"""
        )

    # ------------------------------------------------------------------ life cycle

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        command = [
            self.binary,
            "-p",
            f"{self.workdir}/",
            "-c",
            str(self.conf),
            "-e",
            str(self.error_log),
            "-g",
            "daemon off;",
        ]
        checked = subprocess.run([*command[:-2], "-t", "-q"], capture_output=True, text=True, timeout=STOP_TIMEOUT)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx refused its config:\n{checked.stderr}\n{self.conf.read_text()}")
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not all(_accepts(port) for port in self.ports):
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                self.process = None
                raise RuntimeError(f"nginx exited at start:\n{stderr}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not listen within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Fast shutdown (SIGTERM: open connections are closed at once), then the whole process group."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # a worker left behind, if any
        if process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT)
        if process.stderr:
            process.stderr.close()
        # Until the port is free again nothing else may take it, but a restart must be able to.
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(_accepts(port) for port in self.ports) and time.monotonic() < deadline:
            time.sleep(0.02)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
