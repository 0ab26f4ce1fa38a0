"""Reverse-proxy mode: every request outside the prefix goes to one upstream site.

Every HTTP request goes through a lean keep-alive client
(``gateway.http.upstream``): page views, form posts and uploads, whose bodies
are streamed to the upstream as they arrive; WebSockets through an aiohttp
session. Request and response bodies are streamed through raw ASGI messages
(measured here as the fastest of the candidates).
The upstream is fixed by configuration, so no request can steer the gateway
elsewhere: it is no open proxy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from gateway.app import ConsentMiddleware, build
from gateway.banner.texts import negotiate, texts
from gateway.http.lazy import lazy_module
from gateway.http.upstream import RequestBodyCut, UpstreamCutOff, UpstreamPool
from gateway.metrics.registry import Registry
from gateway.net.request import request_head
from gateway.proxy.headers import request_headers, response_headers, upstream_request_head
from gateway.proxy.websocket import bridge
from gateway.settings import Settings, SettingsError
from gateway.templating import template

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_module("aiohttp")

logger = logging.getLogger("gateway.proxy")


class QuietCutOff(logging.Filter):
    """Keeps uvicorn from logging a cut-off upstream response a second time, as a traceback:
    ``UpstreamProxy.failed`` logged it already, in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], UpstreamCutOff))


class UpstreamProxy:
    """ASGI app that forwards HTTP requests to ``settings.upstream``; its failures are counted in ``metrics``."""

    def __init__(self, settings: Settings, metrics: Registry) -> None:
        if not settings.upstream:
            raise SettingsError("upstream: required to serve (use --upstream URL or GATEWAY_UPSTREAM)")
        self.settings = settings
        parts = urlsplit(settings.upstream)
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.upstream_host = parts.netloc
        self.base_path = parts.path.rstrip("/")
        self.base_path_bytes = self.base_path.encode("latin-1")
        self.session: aiohttp.ClientSession | None = None
        self.pool: UpstreamPool | None = None  # GETs without a body: the lean client
        self.upstream_errors = metrics.counter(
            "gateway_upstream_errors_total", "Upstream failures: unreachable (502), timeout (504), cut off.", ["kind"]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif self.refused(scope):
            await self.refuse(scope, receive, send)
        elif scope["type"] == "http":
            await self.forward(scope, receive, send)
        elif scope["type"] == "websocket":
            headers = request_headers(scope, self.settings, self.upstream_host)
            await bridge(self.open_session(), self.target(scope, websocket=True), headers, scope, receive, send)

    def refused(self, scope: Scope) -> bool:
        """No open proxy: tunnels, absolute-form targets and foreign hosts are not forwarded."""
        if scope.get("method") == "CONNECT" or not scope.get("path", "").startswith("/"):
            return True
        public_hosts = self.settings.public_hosts
        if not public_hosts:
            return False
        host = request_head(scope, self.settings.trusted_proxies).host
        return host.split(":")[0].lower() not in public_hosts

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        status = 405 if scope.get("method") == "CONNECT" else 421 if scope.get("path", "").startswith("/") else 400
        await PlainTextResponse("not forwarded by this gateway", status_code=status)(scope, receive, send)

    def target(self, scope: Scope, websocket: bool = False) -> str:
        base = self.base.replace("http", "ws", 1) if websocket else self.base
        target = base + scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        return target

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                logging.getLogger("uvicorn.error").addFilter(QUIET_CUT_OFF)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                if self.pool is not None:
                    self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def open_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self.settings.upstream_connect_timeout,
                    sock_read=self.settings.upstream_read_timeout,
                ),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),
                connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300),
            )
        return self.session

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Any HTTP request, through the lean keep-alive client; a request body streams on as it arrives."""
        pool = self.upstream_pool()
        method: str = scope["method"]
        target = self.base_path_bytes + (scope.get("raw_path") or scope["path"].encode())
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        has_body, chunked = request_body_framing(scope["headers"])
        head = upstream_request_head(
            scope, self.settings, self.upstream_host, target, method.encode("latin-1"), chunked=chunked
        )
        try:
            if not has_body:
                # Sent again on a fresh connection when a kept one turns out closed, if that is safe.
                upstream = await pool.request(head, resend=method in RESENDABLE, head_only=method == "HEAD")
            else:
                piece, more = await first_piece(receive)
                if not more and not chunked:  # all here already (a form post, an AJAX call): one write with the head
                    upstream = await pool.request(head, piece, resend=False)
                else:
                    upstream = await pool.stream(head, request_body(receive, piece, more), chunked)
        except RequestBodyCut:
            return  # the visitor went away mid-upload: nobody to answer
        except OSError as error:  # TimeoutError, refused connections and closed ones are all OSErrors
            await self.failed(scope, receive, send, error, isinstance(error, TimeoutError), started=False)
            return
        try:
            headers_out = response_headers(upstream.raw_headers, scope, self.settings, self.origin)
            await send({"type": "http.response.start", "status": upstream.status, "headers": headers_out})
            while True:
                try:
                    chunk = await upstream.next_chunk()
                except RequestBodyCut:
                    return  # the visitor went away while their upload was still being answered
                except OSError as error:  # reset, read timeout, or a response that stops being HTTP
                    await self.failed(scope, receive, send, error, isinstance(error, TimeoutError), started=True)
                if chunk is None:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    break
                last = upstream.drained  # the whole body was in: this chunk ends it, no empty message after
                await send({"type": "http.response.body", "body": chunk, "more_body": not last})
                if last:
                    break
        finally:
            pool.release(upstream)  # dropped, not kept, when the response did not end cleanly

    def upstream_pool(self) -> UpstreamPool:
        if self.pool is None:
            self.pool = UpstreamPool(
                self.settings.upstream or "",
                self.settings.upstream_connect_timeout,
                self.settings.upstream_read_timeout,
            )
        return self.pool

    async def failed(
        self, scope: Scope, receive: Receive, send: Send, error: BaseException, timed_out: bool, started: bool
    ) -> None:
        """One upstream failure, counted and logged once: the 502/504 page, or, when the response has
        begun, ``UpstreamCutOff`` (the middleware sends the page if the start was still held)."""
        kind = "cut_off" if started else "timeout" if timed_out else "unreachable"
        self.upstream_errors.inc(kind=kind)
        reason = str(error) or type(error).__name__
        logger.warning("upstream %s: %s %s from %s (%s)", kind, scope["method"], scope["path"], self.base, reason)
        page = self.error_page(scope, 504 if timed_out else 502)
        if started:
            raise UpstreamCutOff(kind, page) from error
        await page(scope, receive, send)

    def error_page(self, scope: Scope, status: int) -> HTMLResponse:
        language = negotiate(Headers(scope=scope), None, self.settings.default_language)
        page = template("proxy/upstream_error.html").render(t=texts(language), language=language, status=status)
        return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store", "Retry-After": "5"})


QUIET_CUT_OFF = QuietCutOff()


# Requests that may be sent a second time when a kept connection turns out closed (RFC 9110 9.2.2).
RESENDABLE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


def request_body_framing(headers: list[tuple[bytes, bytes]]) -> tuple[bool, bool]:
    """Does the request announce a body, and is it chunked? A body is chunked (``Transfer-Encoding``;
    the server refused a request with that and a Content-Length) or has a Content-Length other than 0
    (the first one counts)."""
    length = None
    for name, value in headers:
        if name == b"transfer-encoding":
            return True, True
        if name == b"content-length" and length is None:
            length = value
    return length is not None and length != b"0", False


async def first_piece(receive: Receive) -> tuple[bytes, bool]:
    """The first piece of the visitor's request body, and whether more follows."""
    message: Message = await receive()
    if message["type"] == "http.disconnect":
        raise RequestBodyCut("the visitor went away during the upload")
    return message.get("body", b""), message.get("more_body", False)


async def request_body(receive: Receive, first: bytes, more: bool) -> AsyncIterator[bytes]:
    """The visitor's request body as it arrives, from ``first`` on; ``RequestBodyCut`` when they leave
    before its end."""
    if first:
        yield first
    while more:
        first, more = await first_piece(receive)
        if first:
            yield first


CONFIG_ENVIRONMENT = "CONSENT_GATEWAY_CONFIG"


def proxy_app(upstream: str | None = None, config: str | None = None) -> ConsentMiddleware:
    """The gateway in front of ``upstream``, configured from ``config`` and the environment."""
    overrides = {"upstream": upstream} if upstream else {}
    settings = Settings.load(config, **overrides)
    metrics = Registry()  # the gateway's: the proxy counts its upstream's failures there too
    proxy = UpstreamProxy(settings, metrics)  # first: without an upstream there is nothing to build
    return ConsentMiddleware(proxy, components=build(settings, metrics=metrics))


def proxy_app_from_environment() -> ConsentMiddleware:
    """Factory for worker processes: the config file path comes from ``CONSENT_GATEWAY_CONFIG``."""
    return proxy_app(None, os.environ.get(CONFIG_ENVIRONMENT) or None)
