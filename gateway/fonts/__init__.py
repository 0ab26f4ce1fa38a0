"""First-party fonts: the catalogue's font CDNs served from the gateway, so no visitor's address reaches them.

``hosts`` (which hosts, and the gateway path ``<prefix>/fonts/<host><path>``
for a URL on one), ``stylesheet`` (a vendor's CSS pointed at the gateway),
``cache`` (the vendor cache with the rules of fonts and the User-Agent sent)
and ``endpoint`` (the route). ``FirstPartyFonts`` holds them; the page
rewriter asks its ``local_url`` about every stylesheet link, ``@import``
and ``url()`` (``gateway.pages.rewrite``).
"""

from __future__ import annotations

from starlette.routing import Route

from gateway.fonts.cache import FontCache
from gateway.fonts.endpoint import FontEndpoint
from gateway.fonts.hosts import FontHosts
from gateway.metrics.registry import Registry
from gateway.net.urls import Target
from gateway.settings import Settings
from gateway.trackers.catalogue import font_cdns

__all__ = ["FirstPartyFonts"]


class FirstPartyFonts:
    """The font route and the page rewriter's question, built once from the settings."""

    def __init__(self, settings: Settings, metrics: Registry) -> None:
        self.hosts = FontHosts(font_cdns(), settings.prefix, settings.font_mirrors)
        self.cache = FontCache(self.hosts, metrics, timeout=settings.collect.timeout)

    def local_url(self, target: Target | None) -> str | None:
        """Where the gateway serves ``target`` when it is on a catalogued font host, else None."""
        return self.hosts.local_url(target)

    def routes(self) -> list[Route]:
        return [Route(self.hosts.base + "{rest:path}", FontEndpoint(self.hosts, self.cache), methods=["GET"])]

    async def stop(self) -> None:
        await self.cache.close()
