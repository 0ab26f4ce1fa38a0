"""Read deadlines and the per-address connection cap of ``serve``'s protocol, against a real server:
slow heads (slowloris), trickling bodies, and one address opening too many connections."""

from __future__ import annotations

import ipaddress
import socket
import time
from contextlib import ExitStack

import httpx
import pytest
from support.helpers import ThreadedServer, site

from gateway import ConsentMiddleware, Settings
from gateway.serving.limits import ConnectionLimits

SECRET = "s" * 40


@pytest.fixture
def app(db_path):
    return ConsentMiddleware(site(), settings=Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}"))


def connect(server: ThreadedServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Did the server close the connection (EOF or reset) within ``seconds``?"""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_head_that_never_completes_is_dropped(app) -> None:
    limits = ConnectionLimits(header_timeout=1.0, body_timeout=5.0)
    with ThreadedServer(app, limits=limits) as server:
        silent, slow = connect(server), connect(server)
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a slowloris: a header line now and then
        for _ in range(2):
            time.sleep(0.6)
            slow.sendall(b"X-Slow: 1\r\n")
        assert closed_within(silent, 4) and closed_within(slow, 4)
        assert httpx.get(server.url + "/").status_code == 200  # everyone else is served


def test_a_body_that_goes_quiet_is_dropped_but_a_slow_steady_one_is_not(app) -> None:
    limits = ConnectionLimits(header_timeout=5.0, body_timeout=1.0)
    with ThreadedServer(app, limits=limits) as server:
        head = b"POST /_consent HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        quiet = connect(server)
        quiet.sendall(head + b'{"action"')
        steady = connect(server)
        steady.sendall(head)
        for _ in range(4):  # 2.4 s in all, never quiet for a second
            time.sleep(0.6)
            steady.sendall(b" ")
        assert closed_within(quiet, 3)
        steady.settimeout(0.1)
        with pytest.raises(TimeoutError):
            steady.recv(1)  # still open: it keeps sending


def test_one_address_may_hold_only_so_many_connections(app) -> None:
    with ThreadedServer(app, limits=ConnectionLimits(per_address=5)) as server, ExitStack() as stack:
        held = [stack.enter_context(connect(server)) for _ in range(5)]
        refused = connect(server)
        assert closed_within(refused, 3)
        held.pop().close()
        time.sleep(0.2)
        assert httpx.get(server.url + "/").status_code == 200  # a place came free


def test_trusted_proxies_are_not_capped(app) -> None:
    limits = ConnectionLimits(per_address=2, trusted=(ipaddress.ip_network("127.0.0.1/32"),))
    with ThreadedServer(app, limits=limits) as server, ExitStack() as stack:
        for _ in range(5):
            stack.enter_context(connect(server))
        assert httpx.get(server.url + "/").status_code == 200
