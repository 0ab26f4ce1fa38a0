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
    """``HttpToolsProtocol`` whose request cycles write through a ``HeadHoldingTransport``."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = HeadHoldingTransport(self.transport, self.loop)  # type: ignore[assignment]
