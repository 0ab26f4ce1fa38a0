"""Who a page may contact before consent: one judgement for every URL the gateway sees.

A URL is resolved as the browser resolves it (``gateway.net.urls``), then, in
this order:

1. a catalogued service (by its URL patterns or its own hosts) waits for the
   service's category: a tracker stays a tracker, whoever hosts the page;
2. the site itself (the page's host, its registrable domain, ``cookie_domain``
   and ``public_hosts``) may load;
3. a third-party image declared 1x1 or 0x0 is a web beacon (marketing);
4. under ``blocking = "strict"``: essential infrastructure from the catalogue
   and the operator's ``allowed_hosts`` may load; every other third party
   waits for the category of other third parties. Under ``"catalogue"`` it
   may load.

The banner's runtime guard applies the same order in the browser
(``banner.guard_config`` hands it the same data). ``explain`` gives the same
answer with the rule that gave it, for people (the admin's list of third
parties); the page path only asks ``judge``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.net.urls import Target, host_matches, site_of
from gateway.trackers.catalogue import Catalogue, Essential, Service

# Under strict blocking, third parties the catalogue does not know wait for this category.
OTHER_CATEGORY = "other"
GENERIC_BEACON_CATEGORY = "marketing"
# Labels of ``gateway_blocked_elements_total`` for elements that belong to no catalogued service.
WEB_BEACON = "web-beacon"
UNKNOWN_SERVICE = "unknown"
MEMO_SIZE = 4096  # page hosts, hosts per page host and pages, remembered for discovery
# What a page loads as discovery notes it: (kind of element, host, id of the service holding it or None).
Noted = tuple[str, str, "str | None"]
# The rule behind a judgement (``Ruling.rule``): held as a catalogued service, as a web beacon or as
# an unknown third party; or may load as the site itself, essential infrastructure, an allowed host,
# or because ``blocking = "catalogue"`` lets unknown third parties pass.
CATALOGUED, BEACON, UNKNOWN, SAME_SITE, ESSENTIAL, ALLOWED, PASSED = (
    "catalogued",
    "beacon",
    "unknown",
    "same-site",
    "essential",
    "allowed",
    "passed",
)


@dataclass(frozen=True, slots=True)
class Hold:
    """What an element waits for: a category, and the catalogued service it belongs to, if any."""

    category: str
    service: Service | None = None

    @property
    def label(self) -> str:
        """The service id, or one label for all generic beacons and one for all unknown third parties."""
        if self.service is not None:
            return self.service.id
        return UNKNOWN_SERVICE if self.category == OTHER_CATEGORY else WEB_BEACON


@dataclass(frozen=True, slots=True)
class Ruling:
    """``judge``'s answer and the rule that gave it; ``essential`` is the entry that let it load."""

    rule: str
    hold: Hold | None = None
    essential: Essential | None = None


class ThirdParties:
    """The blocking rules of one configuration; ``judge`` answers per URL.

    ``strict``: unknown third parties wait for ``OTHER_CATEGORY`` (``blocking =
    "strict"``); ``allowed_hosts`` may load all the same; ``site_hosts`` are the
    site itself besides the page's own host (host patterns, ``*.`` for a domain
    and its subdomains)."""

    def __init__(
        self, catalogue: Catalogue, *, strict: bool, allowed_hosts: Iterable[str] = (), site_hosts: Iterable[str] = ()
    ) -> None:
        self.catalogue = catalogue
        self.strict = strict
        self.allowed = tuple(allowed_hosts)
        self.own_hosts = tuple(site_hosts)
        self._other = Hold(OTHER_CATEGORY)
        self._beacon = Hold(GENERIC_BEACON_CATEGORY)
        self._holds: dict[Service, Hold] = {}
        # For discovery: per page host and host, the third party it is (None: the site itself); sites repeat hosts.
        self._sightings: dict[str, dict[str, tuple[str, Service | None] | None]] = {}
        # For discovery: a page's notes and what they come to; the pages of a site repeat their elements.
        self._pages: dict[tuple[str, frozenset[Noted]], frozenset[Noted]] = {}

    def judge(self, target: Target | None, kind: str, site_host: str, tiny: bool = False) -> Hold | None:
        """What a request for ``target`` waits for, whatever is granted; ``None`` when it may go now.

        ``kind`` is ``script``, ``frame``, ``image`` or ``other`` (links, media,
        objects, CSS): it picks the catalogue's patterns. ``site_host`` is the
        page's host without port; ``tiny`` says an image is declared 1x1 or 0x0.
        """
        if target is None:
            return None
        service = self._catalogued(target, kind)
        if service is not None:
            return self._hold(service)
        if self.is_same_site(target.host, site_host):
            return None
        if tiny and kind == "image":
            return self._beacon
        if not self.strict or self.is_allowed(target):
            return None
        return self._other

    def third_party(self, host: str, site_host: str) -> tuple[str, Service | None] | None:
        """``host`` and the service owning it when it is a third party to a page of ``site_host``; ``None``
        for the site itself. Remembered per page host: discovery asks for every URL of every page."""
        known = self._sightings.get(site_host)
        if known is None or len(known) >= MEMO_SIZE:
            if len(self._sightings) >= MEMO_SIZE:
                self._sightings.clear()
            known = self._sightings[site_host] = {}
        try:
            return known[host]
        except KeyError:
            pass
        found = None if not host or self.is_same_site(host, site_host) else (host, self.catalogue.match_host(host))
        known[host] = found
        return found

    def third_parties_of(self, site_host: str, noted: frozenset[Noted]) -> frozenset[Noted]:
        """The third parties among one page's ``noted`` requests, each with its catalogued service.

        The rewriter only notes (a tuple into a set, per URL); which hosts are the site's own is
        worked out here once per distinct page, so discovery costs the page path next to nothing."""
        key = (site_host, noted)
        found = self._pages.get(key)
        if found is None:
            if len(self._pages) >= MEMO_SIZE:
                self._pages.clear()
            found = self._pages[key] = frozenset(self._resolve(site_host, noted))
        return found

    def _resolve(self, site_host: str, noted: frozenset[Noted]) -> Iterable[Noted]:
        for kind, host, service_id in noted:
            third_party = self.third_party(host, site_host)
            if third_party is not None:
                service = third_party[1]
                yield (kind, host, service_id or (service.id if service is not None else None))

    def is_same_site(self, host: str, site_host: str) -> bool:
        if host == site_host or any(host_matches(host, pattern) for pattern in self.own_hosts):
            return True
        return bool(site_host) and site_of(host) == site_of(site_host)

    def is_allowed(self, target: Target) -> bool:
        """Essential infrastructure or one of the operator's ``allowed_hosts``."""
        if self.catalogue.match_essential(target.host, target.path) is not None:
            return True
        return self.is_listed(target.host)

    def is_listed(self, host: str) -> bool:
        """One of the operator's ``allowed_hosts``."""
        return any(host_matches(host, pattern) for pattern in self.allowed)

    def explain(
        self, target: Target, kind: str, site_host: str, tiny: bool = False, service_id: str | None = None
    ) -> Ruling:
        """``judge``'s answer for ``target`` and which rule gave it.

        ``service_id`` is the catalogued service a full URL was matched to when
        it was seen (a discovery row keeps only the host): it still holds the
        URL while the catalogue knows it, as rule 1 says.
        """
        recorded = self._known(service_id)
        hold = self._hold(recorded) if recorded is not None else self.judge(target, kind, site_host, tiny)
        if hold is not None:
            if hold.service is not None:
                return Ruling(CATALOGUED, hold)
            return Ruling(UNKNOWN if hold.category == OTHER_CATEGORY else BEACON, hold)
        if self.is_same_site(target.host, site_host):
            return Ruling(SAME_SITE)
        essential = self.catalogue.match_essential(target.host, target.path)
        if essential is not None:
            return Ruling(ESSENTIAL, essential=essential)
        return Ruling(ALLOWED if self.is_listed(target.host) else PASSED)

    def _catalogued(self, target: Target, kind: str) -> Service | None:
        catalogue, href = self.catalogue, target.href
        if kind == "script":
            return catalogue.match_script(href)
        if kind == "frame":
            return catalogue.match_iframe(href)
        if kind == "image":
            return catalogue.match_beacon(href) or catalogue.match_host(target.host)
        return catalogue.match_script(href) or catalogue.match_beacon(href)

    def _known(self, service_id: str | None) -> Service | None:
        try:
            return self.catalogue.service(service_id) if service_id is not None else None
        except KeyError:
            return None  # a service the operator has since removed: the host is judged afresh

    def _hold(self, service: Service) -> Hold:
        hold = self._holds.get(service)
        if hold is None:
            hold = self._holds[service] = Hold(service.category, service)
        return hold
