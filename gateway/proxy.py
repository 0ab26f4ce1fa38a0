"""Reverse-proxy mode: every request outside the prefix goes to one upstream site.

One shared aiohttp session keeps a keep-alive pool to the upstream; request
and response bodies are streamed through raw ASGI messages (measured here as
the fastest of the candidates). The upstream is fixed by configuration, so
no request can steer the gateway elsewhere: it is no open proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from starlette.datastructures import Headers
from starlette.responses import HTMLResponse
from starlette.types import Message, Receive, Scope, Send

from .banner import templates
from .locale import negotiate, texts
from .middleware import ConsentMiddleware
from .network import client_address, forwarded_chain, is_trusted, parse_address
from .origin import request_scheme
from .settings import Settings, SettingsError

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
     "transfer-encoding", "upgrade", "proxy-connection"}
)
# Replaced with what this hop knows; a visitor must not be able to set them.
FORWARDING = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"})


def request_headers(scope: Scope, settings: Settings, upstream_host: str) -> list[tuple[str, str]]:
    headers = Headers(scope=scope)
    dropped = HOP_BY_HOP | FORWARDING | {"host"}
    dropped |= {token.strip().lower() for token in headers.get("connection", "").split(",")}
    forwarded = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k.decode("latin-1") not in dropped]

    peer = scope.get("client")
    chain: list[str] = []
    if peer and is_trusted(parse_address(peer[0]), settings.trusted_proxies):
        chain = [hop.strip() for hop in forwarded_chain(headers)]
    visitor = client_address(scope, settings.trusted_proxies)
    if peer:
        chain.append(peer[0])
    scheme = request_scheme(scope, settings.trusted_proxies)
    host = headers.get("host", "")
    forwarded += [
        ("host", upstream_host),
        ("x-forwarded-for", ", ".join(chain)),
        ("x-forwarded-proto", scheme),
        ("x-forwarded-host", host),
        ("forwarded", forwarded_element(visitor, scheme, host)),
    ]
    return forwarded


def forwarded_element(visitor: object, scheme: str, host: str) -> str:
    """One RFC 7239 element; IPv6 addresses are bracketed and every value quoted."""
    parts = [f"proto={scheme}", f'host="{host}"']
    if visitor is not None:
        address = str(visitor)
        parts.insert(0, f'for="[{address}]"' if ":" in address else f'for="{address}"')
    return ";".join(parts)


def response_headers(upstream: aiohttp.ClientResponse) -> list[tuple[bytes, bytes]]:
    dropped = HOP_BY_HOP | {t.strip().lower() for t in upstream.headers.get("connection", "").split(",")}
    return [
        (name.lower(), value)
        for name, value in upstream.raw_headers
        if name.decode("latin-1").lower() not in dropped
    ]


class UpstreamProxy:
    """ASGI app that forwards HTTP requests to ``settings.upstream``."""

    def __init__(self, settings: Settings) -> None:
        if not settings.upstream:
            raise SettingsError("upstream: required to serve (use --upstream URL or GATEWAY_UPSTREAM)")
        self.settings = settings
        parts = urlsplit(settings.upstream)
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.upstream_host = parts.netloc
        self.timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=settings.upstream_connect_timeout, sock_read=settings.upstream_read_timeout
        )
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.forward(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.open_session()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def open_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(
                timeout=self.timeout,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),
                connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300),
            )
        return self.session

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.base + scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = request_headers(scope, self.settings, self.upstream_host)
        incoming = Headers(scope=scope)
        has_body = "transfer-encoding" in incoming or incoming.get("content-length", "0") != "0"
        started = False
        try:
            async with self.open_session().request(
                scope["method"],
                target,
                headers=headers,
                data=request_body(receive) if has_body else None,
                allow_redirects=False,
            ) as upstream:
                await send({"type": "http.response.start", "status": upstream.status, "headers": response_headers(upstream)})
                started = True
                async for chunk in upstream.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError) as error:
            if started:
                raise  # the status is gone already: dropping the connection is all that is left
            timed_out = isinstance(error, asyncio.TimeoutError | aiohttp.ServerTimeoutError)
            await self.error_page(scope, 504 if timed_out else 502)(scope, receive, send)

    def error_page(self, scope: Scope, status: int) -> HTMLResponse:
        language = negotiate(Headers(scope=scope), None, self.settings.default_language)
        page = templates.get_template("upstream_error.html").render(t=texts(language), language=language, status=status)
        return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store", "Retry-After": "5"})


async def request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
        if message.get("body"):
            yield message["body"]
        if not message.get("more_body", False):
            return


def proxy_app(upstream: str | None = None, config: str | None = None) -> ConsentMiddleware:
    """The gateway in front of ``upstream``, configured from ``config`` and the environment."""
    overrides = {"upstream": upstream} if upstream else {}
    settings = Settings.load(config, **overrides)
    return ConsentMiddleware(UpstreamProxy(settings), settings=settings)
