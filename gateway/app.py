"""The gateway put together: every component built from the settings, every route under the prefix.

``build`` is the one place that makes the gateway's parts and wires them to
each other; ``ConsentMiddleware`` only dispatches between them, and the
reverse proxy (``gateway.proxy.app``) and the demo are short factories over
``build``. Whatever counts something registers in the one ``Registry`` made
here, which ``<prefix>/metrics`` renders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.admin import admin_routes
from gateway.api.cors import CrossOrigin
from gateway.api.declaration import Declaration
from gateway.api.discovery import CookieReport
from gateway.api.dispatch import ExactPaths
from gateway.api.inuse import ServicesInUse
from gateway.api.preferences import PreferencesForm
from gateway.api.routes import ConsentAPI
from gateway.assets import STATIC_DIR
from gateway.banner.script import Banner
from gateway.collect import Collector
from gateway.consent.cache import VerifiedTokens
from gateway.consent.choice import refusing_errors
from gateway.consent.recorder import Recorder
from gateway.consent.state import TokenCodec
from gateway.discovery.cookies import KnownCookies
from gateway.discovery.tally import Tally
from gateway.discovery.task import DiscoveryTask
from gateway.fonts import FirstPartyFonts
from gateway.metrics.endpoint import MetricsEndpoint
from gateway.metrics.registry import PendingObservations, Registry
from gateway.middleware import ConsentDispatch
from gateway.pages.responder import PageRules
from gateway.settings import Settings, SettingsError
from gateway.statistics.counter import PageCounter
from gateway.statistics.task import StatisticsTask
from gateway.store import ConsentStore, open_store
from gateway.store.retention import RetentionTask
from gateway.trackers.catalogue import Catalogue
from gateway.trackers.thirdparty import ThirdParties

logger = logging.getLogger("gateway.app")


@dataclass(eq=False)
class Components:
    """What ``build`` made from one ``Settings``, and how it starts and stops."""

    settings: Settings
    metrics: Registry
    codec: TokenCodec
    verified_tokens: VerifiedTokens  # the same cookie comes back with every request
    store: ConsentStore
    catalogue: Catalogue  # with the operator's services and category moves applied: the one source of categories
    in_use: ServicesInUse  # the services each site uses (configured and discovered)
    banner: Banner
    recorder: Recorder
    collector: Collector
    fonts: FirstPartyFonts | None  # None when first_party_fonts is off
    page_rules: PageRules
    retention: RetentionTask  # records older than retention_days become day counts, once a day
    discovery: DiscoveryTask | None  # the third parties and cookies seen, flushed to the store; None: off
    statistics: StatisticsTask | None  # the page figures counted, flushed to the store; None: off
    api: ASGIApp  # every route under the prefix
    observe_api: Callable[[float], None]  # the time to answer an API request
    page_seconds: PendingObservations  # the time to answer a page request, appended to: the hot path
    _store_open: bool = field(default=False, init=False, repr=False)
    _store_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def start(self) -> None:
        await self.open_store()
        self.retention.start()
        if self.discovery is not None:
            self.discovery.start()
        if self.statistics is not None:
            self.statistics.start()
        await self.collector.start()

    async def stop(self) -> None:
        await self.retention.stop()
        if self.discovery is not None:
            await self.discovery.stop()  # the last tally goes into the store before it closes
        if self.statistics is not None:
            await self.statistics.stop()  # the last page counts too
        await self.collector.stop()  # drains queued hits within collect_drain_timeout
        if self.fonts is not None:
            await self.fonts.stop()
        await self.close_store()

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


def build(settings: Settings, store: ConsentStore | None = None, metrics: Registry | None = None) -> Components:
    """Every component of the gateway for ``settings``; ``store`` and ``metrics`` when the caller has them."""
    metrics = metrics if metrics is not None else Registry()
    codec = TokenCodec(settings.secret_key, settings.cookie_max_age)
    store = store if store is not None else open_store(settings.database_url, settings.store_timeout)
    catalogue = load_catalogue(settings)
    banner = Banner(settings, catalogue)
    recorder = Recorder(settings, store, codec, banner.text_hashes, metrics)
    collector = Collector(settings, metrics)
    fonts = FirstPartyFonts(settings, metrics) if settings.first_party_fonts else None
    in_use = ServicesInUse(settings, catalogue, store)
    api = ConsentAPI(settings, store, recorder, banner, catalogue, in_use)
    tally = known_cookies = discovery = None
    if settings.discovery:
        tally, known_cookies = Tally(catalogue), KnownCookies([settings.cookie_name])
        discovery = DiscoveryTask(store, tally, known_cookies)
    counter = statistics = None
    if settings.statistics:
        counter = PageCounter(settings)
        statistics = StatisticsTask(store, counter.tally, settings.statistics_retention_days)
    latency = metrics.histogram(
        "gateway_request_duration_seconds", "Time to answer a request, by kind (api or page).", ["kind"]
    )
    page_rules = PageRules(
        settings,
        catalogue,
        banner,
        metrics,
        fonts.local_url if fonts is not None else None,
        tally=tally,
        known_cookies=known_cookies,
        statistics=counter,
    )
    form = PreferencesForm(settings, recorder, api.confirm, in_use)
    declaration = Declaration(settings, in_use)
    routes = api_routes(settings, api, form, declaration, metrics, store, collector, page_rules.third_parties)
    if fonts is not None:
        routes += fonts.routes()
    if tally is not None and known_cookies is not None:
        report = CookieReport(settings, tally, known_cookies)
        routes.append(Route(f"{settings.prefix}/discovery/cookies", refusing_errors(report.report), methods=["POST"]))
    return Components(
        settings=settings,
        metrics=metrics,
        codec=codec,
        verified_tokens=VerifiedTokens(codec),
        store=store,
        catalogue=catalogue,
        in_use=in_use,
        banner=banner,
        recorder=recorder,
        collector=collector,
        fonts=fonts,
        page_rules=page_rules,
        retention=RetentionTask(store, settings.retention_days),
        discovery=discovery,
        statistics=statistics,
        api=CrossOrigin(
            StatusOnHTTPError(ExactPaths(Router(routes, redirect_slashes=False))),
            settings.allowed_origins,
            settings.trusted_proxies,
        ),
        observe_api=latency.observer(kind="api"),
        page_seconds=latency.pending(metrics, kind="page"),
    )


class StatusOnHTTPError:
    """A route's ``HTTPException`` (StaticFiles' 404, a 405 when a Starlette host put ``app`` in the
    scope) answered with its status, not a 500. Starlette's ``ExceptionMiddleware`` does this too, at
    a cost on every request (handler tables in the scope, a wrapped ``send``); this costs nothing
    until something is raised."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except HTTPException as error:  # raised before a response began: StaticFiles and Route check first
            response = PlainTextResponse(error.detail, error.status_code, headers=error.headers)
            await response(scope, receive, send)


def api_routes(
    settings: Settings,
    api: ConsentAPI,
    form: PreferencesForm,
    declaration: Declaration,
    metrics: Registry,
    store: ConsentStore,
    collector: Collector,
    third_parties: ThirdParties,
) -> list[BaseRoute]:
    """Everything the gateway answers under the prefix."""
    prefix = settings.prefix
    return [
        Route(prefix, refusing_errors(api.current), methods=["GET"]),
        Route(prefix, refusing_errors(api.give), methods=["POST"]),
        Route(prefix, refusing_errors(api.withdraw), methods=["DELETE"]),
        Route(f"{prefix}/banner.js", api.banner_script, methods=["GET"]),
        Route(f"{prefix}/settings.js", api.settings_script, methods=["GET"]),
        Route(f"{prefix}/preferences", refusing_errors(form.show), methods=["GET"]),
        Route(f"{prefix}/preferences", refusing_errors(api.submit_form(form)), methods=["POST"]),
        Route(f"{prefix}/services", api.services, methods=["GET"]),
        Route(f"{prefix}/declaration", declaration.show, methods=["GET"]),
        Route(f"{prefix}/declaration.js", declaration.script, methods=["GET"]),
        Route(f"{prefix}/healthz", api.health, methods=["GET"]),
        Mount(f"{prefix}/static", StaticFiles(directory=STATIC_DIR)),
        Route(f"{prefix}/metrics", MetricsEndpoint(metrics, settings.metrics_token)),
        *admin_routes(settings, store, third_parties),
        *collector.routes(),
    ]


def load_catalogue(settings: Settings) -> Catalogue:
    """The catalogue as this site sees it: built-in services, the operator's ``[[services]]`` and the
    services ``[categories.<name>] services`` moves; every component reads categories from it."""
    try:
        return Catalogue.load(
            settings.services,
            settings.open_cookie_database,
            categories=settings.category_names[1:],
            moved=settings.moved_services,
        )
    except ValueError as error:
        raise SettingsError(str(error)) from None


class ConsentMiddleware(ConsentDispatch):
    """The gateway around any ASGI app: ``ConsentMiddleware(app, settings=Settings(...))``.

    It builds every component from ``settings`` (``Settings.load()`` when none
    is given: the TOML file and ``GATEWAY_*``), then only dispatches
    (``gateway.middleware``). Factories that built the components already pass
    ``components`` instead.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        store: ConsentStore | None = None,
        *,
        components: Components | None = None,
    ) -> None:
        if components is None:
            components = build(settings if settings is not None else Settings.load(), store)
        elif settings is not None or store is not None:
            raise TypeError("pass settings and store, or components built from them, not both")
        super().__init__(app, components)
