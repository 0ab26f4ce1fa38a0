"""``ConsentMiddleware``: the gateway wrapped around any ASGI application."""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.routes import ConsentAPI
from gateway.banner.script import Banner
from gateway.collect import Collector
from gateway.consent.cache import VerifiedTokens
from gateway.consent.recorder import Recorder
from gateway.consent.state import Consent, TokenCodec
from gateway.metrics.registry import FOLD_AT, Registry
from gateway.pages.encoding import readable_encodings
from gateway.pages.relay import relay
from gateway.pages.responder import CONDITIONAL_HEADERS, PageRules
from gateway.settings import Settings, SettingsError
from gateway.store import ConsentStore, open_store
from gateway.store.retention import RetentionTask
from gateway.trackers.catalogue import Catalogue
from gateway.trackers.paths import granted_for

logger = logging.getLogger("gateway.middleware")

# The request headers the middleware reads itself; conditional ones go to PageRules.adjust_conditional.
REQUEST_HEADERS = frozenset({b"cookie", b"sec-gpc", b"accept-encoding", *CONDITIONAL_HEADERS})


class ConsentMiddleware:
    """Reads the visitor's consent, answers the consent API and keeps pages free of trackers.

    The parsed consent is put in ``scope["consent"]`` (a ``Consent``; an
    undecided one when the cookie is missing, stale or not to be trusted), so
    the wrapped app can ask ``scope["consent"].allows("analytics")``.
    """

    def __init__(self, app: ASGIApp, settings: Settings | None = None, store: ConsentStore | None = None) -> None:
        self.app = app
        self.settings = settings if settings is not None else Settings.load()
        self.metrics = Registry()  # every component registers its figures here, for /_consent/metrics
        self.codec = TokenCodec(self.settings.secret_key, self.settings.cookie_max_age)
        self.verified_tokens = VerifiedTokens(self.codec)  # the same cookie comes back with every request
        self.store = store if store is not None else open_store(self.settings.database_url)
        self.catalogue = load_catalogue(self.settings)
        self.banner = Banner(self.settings, self.catalogue)
        self.recorder = Recorder(self.settings, self.store, self.codec, self.banner.text_hashes, self.metrics)
        self.collector = Collector(self.settings, self.metrics)
        self.api = ConsentAPI(
            self.settings,
            self.store,
            self.recorder,
            self.banner,
            self.catalogue,
            self.metrics,
            collector=self.collector,
        )
        self.page_rules = PageRules(self.settings, self.catalogue, self.banner, self.metrics)
        latency = self.metrics.histogram(
            "gateway_request_duration_seconds", "Time to answer a request, by kind (api or page).", ["kind"]
        )
        self.observe_api = latency.observer(kind="api")
        self.page_seconds = latency.pending(self.metrics, kind="page")  # appended to: this is the hot path
        self.cookie_marker = self.settings.cookie_name.encode() + b"="
        # Read on every request: kept at hand instead of looked up through the settings each time.
        self.prefix, self.api_paths = self.settings.prefix, self.settings.prefix + "/"
        self.path_policies = self.settings.path_policies
        required = self.settings.categories[0].name
        self.undecided = {gpc: Consent.undecided(self.settings.revision, required, gpc) for gpc in (False, True)}
        self._store_open = False
        self._store_lock = asyncio.Lock()
        # Records older than retention_days become day counts, once a day (one process at a time).
        self.retention = RetentionTask(self.store, self.settings.retention_days)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self.lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return

        # One pass over the request headers (this runs on every request): the consent, whether the
        # request is conditional, and an Accept-Encoding the rewriter can read.
        cookie = b""
        gpc = conditional = False
        narrow = False
        for name, value in scope["headers"]:
            if name not in REQUEST_HEADERS:  # one set lookup per header: most are none of these
                continue
            if name == b"cookie":  # several Cookie headers are read as one (gateway.net.headers.request_cookie)
                cookie = cookie + b"; " + value if cookie else value
            elif name == b"sec-gpc":
                gpc = value.strip() == b"1"
            elif name == b"accept-encoding":
                narrow = narrow or readable_encodings(value) != value
            else:
                conditional = True
        if narrow:
            narrow_accept_encoding(scope)
        consent = scope["consent"] = self.read_consent(cookie, gpc) if cookie else self.undecided[gpc]
        path: str = scope["path"]
        started = perf_counter()
        if path.startswith(self.api_paths) or path == self.prefix:
            await self.open_store_or_log()
            try:
                await self.api(scope, receive, send)
            finally:
                self.observe_api(perf_counter() - started)
            return
        granted = consent.categories
        if self.path_policies:
            granted = granted_for(path, granted, self.path_policies)
        revalidating = conditional and self.page_rules.adjust_conditional(scope, granted)
        try:
            await self.app(scope, receive, relay(send, self.page_rules, granted, scope, revalidating))
        finally:
            page_seconds = self.page_seconds
            page_seconds.append(perf_counter() - started)
            if len(page_seconds) >= FOLD_AT:
                page_seconds.fold()

    def read_consent(self, cookie: bytes, gpc: bool) -> Consent:
        consent = None
        if self.cookie_marker in cookie:
            consent = self.verified_tokens.loads(cookie_parser(cookie.decode("latin-1")).get(self.settings.cookie_name))
        if consent is None or consent.revision != self.settings.revision:
            return self.undecided[gpc]
        return consent

    async def open_store(self) -> None:
        """Open the store on start-up, or on first use when the server sends no lifespan."""
        if self._store_open:
            return
        async with self._store_lock:
            if not self._store_open:
                await self.store.open()
                self._store_open = True

    async def open_store_or_log(self) -> None:
        """A store that cannot open is reported, not raised: the API answers 503 and the health check says so."""
        try:
            await self.open_store()
        except Exception:
            logger.exception("the consent store cannot be opened")

    async def close_store(self) -> None:
        if self._store_open:
            await self.store.close()
            self._store_open = False

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_and_manage_store() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.open_store()
                self.retention.start()
                await self.collector.start()
            return message

        async def send_after_closing_store(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.retention.stop()
                await self.collector.stop()  # drains queued hits within collect_drain_timeout
                await self.close_store()
            await send(message)

        await self.app(scope, receive_and_manage_store, send_after_closing_store)


def narrow_accept_encoding(scope: Scope) -> None:
    """Have the site answer only in encodings the rewriter reads (most browsers offer zstd too)."""
    scope["headers"] = [
        (name, readable_encodings(value) if name == b"accept-encoding" else value) for name, value in scope["headers"]
    ]


def load_catalogue(settings: Settings) -> Catalogue:
    try:
        return Catalogue.load(settings.services, settings.open_cookie_database, categories=settings.category_names[1:])
    except ValueError as error:
        raise SettingsError(str(error)) from None
