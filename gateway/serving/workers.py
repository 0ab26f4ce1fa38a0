"""Worker processes that each accept their own share of the connections.

With uvicorn's ``--workers`` every process accepts from one shared listening
socket, and whichever process is awake first takes the connection: a burst of
keep-alive connections (a load balancer's pool, a benchmark) was seen landing
8 to 42 on two workers, one of them out of CPU while the other idled. Here
each worker listens on its own socket bound with ``SO_REUSEPORT``, and the
kernel spreads new connections over the sockets by a hash of their
addresses, as nginx does with ``listen ... reuseport``. Only processes of the
same user can join such a port.

The sockets are bound by the supervising process before any worker starts,
so a port in use is reported at once, and a worker that dies is started
again on its own socket. Where ``SO_REUSEPORT`` is missing (not Linux),
``consent-gateway`` falls back to uvicorn's supervisor.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

logger = logging.getLogger("gateway.serving.workers")

# A worker that exits sooner than this after it started is taken as misconfigured: all stop.
STARTUP_GRACE = 5.0
SHUTDOWN_TIMEOUT = 30.0  # each worker's graceful stop (lifespan shutdown drains queues) at most
BACKLOG = 2048


def available() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other sockets of this user may share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def run_worker(config: uvicorn.Config, sock: socket.socket) -> None:
    """In a worker process: serve the app on this worker's own socket."""
    config.configure_logging()
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts one worker per socket, starts again a worker that dies, stops them all on SIGINT or SIGTERM."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.context = multiprocessing.get_context("spawn")  # as uvicorn: no state forked from the supervisor
        self.processes: list[BaseProcess] = []
        self.started: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stopping.set())
        for index in range(len(self.sockets)):
            self.processes.append(self.start(index))
            self.started.append(time.monotonic())
        status = 0
        while not self.stopping.wait(0.5):
            status = self.keep_alive()
            if status:
                break
        self.stop()
        return status

    def start(self, index: int) -> BaseProcess:
        process = self.context.Process(target=run_worker, args=(self.config, self.sockets[index]), daemon=False)
        process.start()
        return process

    def keep_alive(self) -> int:
        """Start again the workers that died; 1 when one died right after starting (a broken configuration)."""
        for index, process in enumerate(self.processes):
            if process.is_alive():
                continue
            if time.monotonic() - self.started[index] < STARTUP_GRACE:
                logger.error("worker %s exited with %s right after starting: stopping", process.pid, process.exitcode)
                return 1
            logger.warning("worker %s exited with %s: starting another", process.pid, process.exitcode)
            self.processes[index] = self.start(index)
            self.started[index] = time.monotonic()
        return 0

    def stop(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes its requests and runs the lifespan shutdown
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sock in self.sockets:
            sock.close()


def serve(app: str, host: str, port: int, workers: int, **options: Any) -> int:
    """Serve the app factory ``app`` ("module:function") with ``workers`` processes; the exit status."""
    config = uvicorn.Config(app, host=host, port=port, factory=True, **options)
    sockets = [listening_socket(host, port)]
    port = sockets[0].getsockname()[1]  # port 0: the port the system chose, for every worker
    sockets += [listening_socket(host, port) for _ in range(workers - 1)]
    display = f"[{host}]" if ":" in host else host
    logger.info("%d workers on http://%s:%d, one SO_REUSEPORT socket each", workers, display, port)
    return Supervisor(config, sockets).run()
