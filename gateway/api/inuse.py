"""The services a site uses: what the operator configured and what discovery found there.

A site's privacy information lists only its own third parties, never the whole
catalogue: the operator's ``[[services]]``, the services named in
``[categories.<name>] services``, and the catalogued services the discovery
table holds for the site (its host name, as ``gateway.store.discovery`` keys
it), each with the catalogue's cookie names and the discovered ones. The
banner's settings layer, ``/_consent/services``, the preferences page and the
cookie declaration all ask ``ServicesInUse``, which reads the store at most
once every ``CACHE_SECONDS`` per site.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from types import MappingProxyType
from urllib.parse import urlsplit

from starlette.types import Scope

from gateway.banner.texts import texts
from gateway.languages import LANGUAGES
from gateway.net.origin import normalise_origin
from gateway.net.request import request_head
from gateway.settings import Settings
from gateway.store import ConsentStore
from gateway.store.discovery import COOKIE, Discovered, ScanRun, site_name
from gateway.trackers.catalogue import Catalogue, Service
from gateway.trackers.lifetimes import lifetime_text

logger = logging.getLogger("gateway.api.inuse")

CACHE_SECONDS = 5.0
CACHED_SITES = 512  # a Host header is the visitor's to choose: the cache stays bounded
CONSENT_COOKIE_SERVICE = "consent-cookie"  # the gateway's own cookie, listed under the required category


def cookie_retention(service: Service, cookie: str, language: str) -> str:
    """How long ``cookie`` of ``service`` is kept, in ``language``: the catalogue's lifetime of the cookie
    (by name, or by a pattern such as ``_ga_*``), else the service's own retention text."""
    lifetimes = service.cookie_lifetimes
    lifetime = lifetimes.get(cookie)
    if lifetime is None:
        lifetime = next((value for pattern, value in lifetimes.items() if fnmatchcase(cookie, pattern)), None)
    return lifetime_text(lifetime, language) if lifetime is not None else service.text(language)[1]


@dataclass(frozen=True)
class UsedService:
    """A service a site uses: its catalogue entry, its cookies, and whether the operator named it."""

    service: Service
    cookies: tuple[str, ...]  # the catalogue's names and patterns, then names discovery found
    configured: bool  # named by the operator; otherwise discovery found it

    @property
    def own(self) -> bool:
        """Is this the gateway's own consent cookie (named in the visitor's language)?"""
        return self.service.id == CONSENT_COOKIE_SERVICE

    def name(self, language: str) -> str:
        return texts(language)["consent_cookie_name"] if self.own else self.service.label(language)

    def vendor(self, language: str) -> str:
        return texts(language)["consent_cookie_provider"] if self.own else self.service.vendor

    def cookie_retention(self, language: str) -> dict[str, str]:
        return {name: cookie_retention(self.service, name, language) for name in self.cookies}

    def as_json(self, language: str) -> dict:
        purpose, retention = self.service.text(language)
        return {
            "id": self.service.id,
            "name": self.name(language),
            "vendor": self.vendor(language),
            "category": self.service.category,
            "purpose": purpose,
            "retention": retention,
            "cookies": list(self.cookies),
            "cookie_retention": self.cookie_retention(language),
            "privacy_url": self.service.privacy_url,
            "source": "configured" if self.configured else "discovered",
        }


@dataclass(frozen=True)
class SiteServices:
    """What one site uses, with the dates a privacy statement quotes."""

    site: str
    services: tuple[UsedService, ...]  # by name; the gateway's own cookie first
    last_scan: ScanRun | None
    last_change: datetime | None  # when discovery last found something new on the site

    @property
    def known(self) -> bool:
        """Does the gateway know any third party of this site (configured or discovered)?"""
        return any(not used.own for used in self.services)

    def in_category(self, category: str) -> list[UsedService]:
        return [used for used in self.services if used.service.category == category]


class ServicesInUse:
    """Which services each site uses, from the settings, the catalogue and the discovery table."""

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        store: ConsentStore,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.store = store
        self.ttl = ttl
        self.clock = clock
        configured = [s.get("id") for s in settings.services if isinstance(s, dict)]
        self.configured = frozenset(i for i in (*configured, *settings.moved_services) if isinstance(i, str))
        self.own_cookie = consent_cookie_service(settings)
        self.by_id = {service.id: service for service in catalogue.services}
        self._cache: OrderedDict[str, tuple[float, SiteServices]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[SiteServices]] = {}

    async def of(self, site: str) -> SiteServices:
        """The services ``site`` uses; the store is read only when the cached answer is older than ``ttl``."""
        cached = self._cache.get(site)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        pending = self._pending.get(site)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = self._pending[site] = asyncio.ensure_future(self._refresh(site))
        return await asyncio.shield(pending)

    async def _refresh(self, site: str) -> SiteServices:
        try:
            answer = await self.read(site)
        finally:
            self._pending.pop(site, None)
        self._cache[site] = (self.clock(), answer)
        self._cache.move_to_end(site)
        while len(self._cache) > CACHED_SITES:
            self._cache.popitem(last=False)
        return answer

    async def read(self, site: str) -> SiteServices:
        """The answer for ``site`` from the store itself; a failing store leaves what is configured."""
        try:
            rows, last_scan = await self.store.discovered(site), await self.store.last_scan(site)
        except Exception:
            logger.warning("the discovery table of %s cannot be read; listing configured services only", site)
            rows, last_scan = [], None
        last_change = max((row.first_seen for row in rows), default=None)
        return SiteServices(site, self.used(rows), last_scan, last_change)

    def used(self, rows: Iterable[Discovered]) -> tuple[UsedService, ...]:
        found: dict[str, list[str]] = {service_id: [] for service_id in self.configured}
        for row in rows:
            if row.service not in self.by_id:
                continue
            names = found.setdefault(row.service, [])
            if row.kind == COOKIE:
                names.append(row.name)
        services = [self._used(self.by_id[i], names) for i, names in found.items() if i in self.by_id]
        services.sort(key=lambda used: used.service.name.casefold())
        return (UsedService(self.own_cookie, self.own_cookie.cookies, True), *services)

    def _used(self, service: Service, discovered_cookies: list[str]) -> UsedService:
        cookies = tuple(dict.fromkeys((*service.cookies, *sorted(discovered_cookies))))
        return UsedService(service, cookies, service.id in self.configured)


def consent_cookie_service(settings: Settings) -> Service:
    """The gateway's own consent cookie, described like a service so every list can show it."""
    days = settings.cookie_max_age // 86400 or 1
    return Service(
        id=CONSENT_COOKIE_SERVICE,
        name=texts("en")["consent_cookie_name"],  # UsedService.name gives it in the visitor's language
        vendor=texts("en")["consent_cookie_provider"],
        category=settings.categories[0].name,
        privacy_url=settings.privacy_url,
        purpose=_per_language(lambda language: texts(language)["consent_cookie_purpose"]),
        retention=_per_language(lambda language: texts(language)["days"].format(n=days)),
        cookies=(settings.cookie_name,),
    )


def _per_language(text: Callable[[str], str]) -> MappingProxyType:
    return MappingProxyType({language: text(language) for language in LANGUAGES})


def requested_site(scope: Scope, settings: Settings) -> str:
    """The site a request is about: the origin of a page on an allowed other origin (the banner
    and the declaration script embedded there), else the request's own ``Host``."""
    head = request_head(scope, settings.trusted_proxies)
    origin = normalise_origin(head.origin) if head.origin else None
    if origin is not None and origin in settings.allowed_origins:
        return site_name(urlsplit(origin).netloc)
    return site_name(head.host or "")
