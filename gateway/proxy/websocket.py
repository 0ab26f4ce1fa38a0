"""WebSockets through the proxy: one upstream connection per visitor connection, messages both ways."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from gateway.http.lazy import lazy_module

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_module("aiohttp")

# aiohttp writes its own handshake headers; the visitor's would clash.
HANDSHAKE = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}
)


async def bridge(
    session: aiohttp.ClientSession,
    target: str,
    headers: list[tuple[str, str]],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    protocols = [p.strip() for p in Headers(scope=scope).get("sec-websocket-protocol", "").split(",") if p.strip()]
    forwarded = [(name, value) for name, value in headers if name.lower() not in HANDSHAKE]
    if (await receive())["type"] != "websocket.connect":
        return
    try:
        upstream = await session.ws_connect(target, headers=forwarded, protocols=protocols, autoping=True)
    except (TimeoutError, aiohttp.ClientError):
        await send({"type": "websocket.close", "code": 1011})
        return
    async with upstream:
        await send({"type": "websocket.accept", "subprotocol": upstream.protocol})
        to_upstream = asyncio.create_task(visitor_to_upstream(receive, upstream))
        to_visitor = asyncio.create_task(upstream_to_visitor(upstream, send))
        done, pending = await asyncio.wait({to_upstream, to_visitor}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def visitor_to_upstream(receive: Receive, upstream: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close(code=message.get("code", 1000))
            return
        if message.get("text") is not None:
            await upstream.send_str(message["text"])
        elif message.get("bytes") is not None:
            await upstream.send_bytes(message["bytes"])


async def upstream_to_visitor(upstream: aiohttp.ClientWebSocketResponse, send: Send) -> None:
    async for message in upstream:
        if message.type == aiohttp.WSMsgType.TEXT:
            await send({"type": "websocket.send", "text": message.data})
        elif message.type == aiohttp.WSMsgType.BINARY:
            await send({"type": "websocket.send", "bytes": message.data})
        else:
            break
    await send({"type": "websocket.close", "code": upstream.close_code or 1000})
