"""``ConsentDispatch``: the gateway wrapped around any ASGI application (``ConsentMiddleware`` builds it).

It dispatches and nothing else: everything it hands requests to is built by
``gateway.app.build``. Requests under the prefix go to the consent API, the
others to the site, with a ``send`` that keeps its pages free of trackers
(``gateway.pages.relay``); the lifespan starts and stops the components.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.consent.cache import VerifiedTokens
from gateway.consent.state import Consent
from gateway.http.upstream import UpstreamCutOff
from gateway.metrics.registry import FOLD_AT, PendingObservations
from gateway.net.request import SCOPE_KEY, RequestHead
from gateway.pages.encoding import readable_encodings
from gateway.pages.relay import relay
from gateway.pages.responder import PageRules, holds_start
from gateway.settings import Settings
from gateway.trackers.paths import granted_for


class Parts(Protocol):
    """What the dispatch needs of the built gateway (``gateway.app.Components``)."""

    settings: Settings
    api: ASGIApp  # every route under the prefix
    page_rules: PageRules
    verified_tokens: VerifiedTokens
    observe_api: Callable[[float], None]
    page_seconds: PendingObservations

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def open_store_or_log(self) -> None: ...


class ConsentDispatch:
    """Reads the visitor's consent, answers the consent API and keeps pages free of trackers.

    The parsed consent is put in ``scope["consent"]`` (a ``Consent``; an
    undecided one when the cookie is missing, stale or not to be trusted), so
    the wrapped app can ask ``scope["consent"].allows("analytics")``.

    It takes ``components`` already built (``gateway.app.build``); the public
    ``ConsentMiddleware(app, settings=...)`` (``gateway.app``) builds them.
    """

    def __init__(self, app: ASGIApp, components: Parts) -> None:
        self.app = app
        self.components = components
        # Read on every request: kept at hand instead of looked up through the components each time.
        self.settings = settings = components.settings
        self.api = components.api
        self.page_rules = components.page_rules
        self.verified_tokens = components.verified_tokens
        self.observe_api = components.observe_api
        self.page_seconds = components.page_seconds
        self.trusted = settings.trusted_proxies
        self.cookie_name = settings.cookie_name
        self.cookie_marker = settings.cookie_name.encode() + b"="
        self.revision = settings.revision
        self.prefix, self.api_paths = settings.prefix, settings.prefix + "/"
        self.path_policies = settings.path_policies
        required = settings.categories[0].name
        self.undecided = {gpc: Consent.undecided(settings.revision, required, gpc) for gpc in (False, True)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self.lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return

        # Parsed here, once, and read by every layer after (through ``request_head``).
        head = scope[SCOPE_KEY] = RequestHead(scope, self.trusted)
        accept_encoding = head.accept_encoding
        if accept_encoding is not None and readable_encodings(accept_encoding) != accept_encoding:
            narrow_accept_encoding(scope)
        consent = scope["consent"] = self.read_consent(head) if head.cookie else self.undecided[head.gpc]
        path: str = scope["path"]
        started = perf_counter()
        if path.startswith(self.api_paths) or path == self.prefix:
            await self.components.open_store_or_log()
            try:
                await self.api(scope, receive, send)
            finally:
                self.observe_api(perf_counter() - started)
            return
        granted = consent.categories
        if self.path_policies:
            granted = granted_for(path, granted, self.path_policies)
        revalidating = head.conditional and self.page_rules.adjust_conditional(scope, granted)
        try:
            await self.app(scope, receive, relay(send, self.page_rules, granted, scope, revalidating))
        except UpstreamCutOff as cut_off:
            if not holds_start(scope):
                raise  # the visitor has the start: the server closes the connection, the response stays incomplete
            await cut_off.page(scope, receive, send)
        finally:
            page_seconds = self.page_seconds
            page_seconds.append(perf_counter() - started)
            if len(page_seconds) >= FOLD_AT:
                page_seconds.fold()

    def read_consent(self, head: RequestHead) -> Consent:
        """The consent in the request's cookie; undecided when there is none to trust for this revision."""
        cookie = head.cookie
        consent = None
        if cookie is not None and self.cookie_marker in cookie:  # the cookies are parsed only when ours is there
            consent = self.verified_tokens.loads(head.cookies.get(self.cookie_name))
        if consent is None or consent.revision != self.revision:
            return self.undecided[head.gpc]
        return consent

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        components = self.components

        async def receive_and_start() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await components.start()
            return message

        async def send_after_stopping(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await components.stop()
            await send(message)

        await self.app(scope, receive_and_start, send_after_stopping)


def narrow_accept_encoding(scope: Scope) -> None:
    """Have the site answer only in encodings the rewriter reads (most browsers offer zstd too)."""
    scope["headers"] = [
        (name, readable_encodings(value) if name == b"accept-encoding" else value) for name, value in scope["headers"]
    ]
