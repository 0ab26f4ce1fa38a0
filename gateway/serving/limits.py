"""Limits on the connections ``serve`` accepts: read deadlines and connections per address.

uvicorn waits as long as a client likes for a request's head and between
the pieces of its body, so a thousand connections that each send a byte a
minute (slowloris) or bodies that trickle stay open for good. Here a
request's head must arrive within ``header_timeout`` seconds of the
connection opening or the request beginning, and a body may go quiet for at
most ``body_timeout`` seconds; the connection is closed otherwise. Deadlines
are kept as numbers on each connection and one timer per process sweeps
them once a second, so a request costs a float store, not a timer.

One client address may hold at most ``per_address`` connections; trusted
proxies (every visitor arrives through them) are exempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.net.addresses import Network, is_trusted, parse_address
from gateway.settings import Settings

logger = logging.getLogger("gateway.serving")
SWEEP_INTERVAL = 1.0


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    per_address: int = 256
    trusted: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            settings.header_timeout,
            settings.body_timeout,
            settings.max_connections_per_address,
            tuple(settings.trusted_proxies),
        )

    def counts(self, address: str) -> bool:
        """Does this client address count against ``per_address`` (it is no trusted proxy)?"""
        return not is_trusted(parse_address(address), self.trusted)


class Watched(Protocol):
    deadline: float | None  # loop time after which the connection is closed; None: no deadline now

    def time_out(self) -> None: ...


@dataclass
class DeadlineSweep:
    """One timer per event loop that closes the connections whose deadline passed."""

    connections: set[Watched] = field(default_factory=set)
    timer: asyncio.TimerHandle | None = None

    def add(self, connection: Watched, loop: asyncio.AbstractEventLoop) -> None:
        self.connections.add(connection)
        if self.timer is None:
            self.timer = loop.call_later(SWEEP_INTERVAL, self.sweep, loop)

    def discard(self, connection: Watched) -> None:
        self.connections.discard(connection)

    def sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in expired(self.connections, now):
            connection.time_out()
        self.timer = loop.call_later(SWEEP_INTERVAL, self.sweep, loop) if self.connections else None


def expired(connections: Iterable[Watched], now: float) -> list[Watched]:
    return [c for c in connections if c.deadline is not None and c.deadline < now]


class AddressCounts:
    """Open connections per client address, in one process."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}
        self.refused = 0

    def enter(self, address: str, limit: int) -> bool:
        count = self.open.get(address, 0)
        if count >= limit:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                logger.warning("refused a connection from %s: %d open (max_connections_per_address)", address, count)
            return False
        self.open[address] = count + 1
        return True

    def leave(self, address: str) -> None:
        count = self.open.get(address, 0) - 1
        if count > 0:
            self.open[address] = count
        else:
            self.open.pop(address, None)
