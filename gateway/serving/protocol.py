"""uvicorn's httptools protocol, sending a response's head in one write with the start of its body.

uvicorn writes the status line and headers as soon as the app sends
``http.response.start``, and the body with the next message: two writes,
so two TCP segments and two wake-ups of the client for every small
response. On loopback a write costs the sender the receiver's network
processing too; profiled here with a 20 KB page through the proxy, the
head's write alone took about a fifth of the gateway's CPU time. Here the
head waits for the first write that follows it and both go out in one
``writev`` (the body is not copied), as nginx sends a head and body
together. Nothing waits longer than the current turn of the event loop: a
head with no body message right behind it (a stream whose first chunk is
slow, a HEAD answer) is written at the end of that turn.
Everything else is uvicorn's own code.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.serving.limits import AddressCounts, ConnectionLimits, DeadlineSweep

DEFAULT_LIMITS = ConnectionLimits()
# One of each per event loop: a process serves on one, tests run several servers side by side.
SWEEPS: dict[asyncio.AbstractEventLoop, DeadlineSweep] = {}
ADDRESSES: dict[asyncio.AbstractEventLoop, AddressCounts] = {}


class HeadHoldingTransport:
    """One response's view of the connection: its first write (the head) is held until the next one."""

    __slots__ = ("transport", "loop", "held", "started")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.held: bytes | None = None
        self.started = False

    def write(self, data: bytes) -> None:
        held = self.held
        if held is not None:
            self.held = None
            self.transport.writelines((held, data))  # one writev, the body not copied
        elif not self.started:
            self.started = True
            self.held = bytes(data)
            self.loop.call_soon(self.flush)
        else:
            self.transport.write(data)

    def flush(self) -> None:
        held = self.held
        if held is not None:
            self.held = None
            if not self.transport.is_closing():
                self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading...: the connection's own
        return getattr(self.transport, name)


class GatewayHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose request cycles write through a ``HeadHoldingTransport``, with read
    deadlines and a cap on connections per address (``gateway.serving.limits``).

    ``limits`` comes in as a keyword: ``serve`` passes ``functools.partial(GatewayHttpProtocol,
    limits=...)`` as uvicorn's ``http`` class (a partial pickles, for worker processes)."""

    deadline: float | None = None
    counted: str | None = None  # the address this connection counts against
    reading_body = False

    def __init__(self, *args: Any, limits: ConnectionLimits = DEFAULT_LIMITS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        if address is not None and self.limits.counts(address):
            counts = ADDRESSES.get(self.loop)
            if counts is None:
                counts = ADDRESSES[self.loop] = AddressCounts()
            if not counts.enter(address, self.limits.per_address):
                transport.abort()
                return
            self.counted = address
        self.deadline = self.loop.time() + self.limits.header_timeout  # the first request's head
        sweep = SWEEPS.get(self.loop)
        if sweep is None:
            sweep = SWEEPS[self.loop] = DeadlineSweep()
        sweep.add(self, self.loop)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.counted is not None:
            ADDRESSES[self.loop].leave(self.counted)
            self.counted = None
        sweep = SWEEPS.get(self.loop)
        if sweep is not None:
            sweep.discard(self)
        super().connection_lost(exc)

    def time_out(self) -> None:
        """The head or a body stalled past its deadline: the connection goes."""
        self.deadline = None
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.reading_body:
            self.deadline = self.loop.time() + self.limits.body_timeout  # quiet for at most this long
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.deadline = self.loop.time() + self.limits.header_timeout

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_body = False
        self.deadline = None  # the app answers; uvicorn's keep-alive timeout takes the idle connection

    def on_headers_complete(self) -> None:
        self.reading_body = True
        self.deadline = self.loop.time() + self.limits.body_timeout
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = HeadHoldingTransport(self.transport, self.loop)  # type: ignore[assignment]
