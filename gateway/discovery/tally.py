"""Sightings counted in memory by one worker until the next flush to the store.

A page is counted by adding one to the tally of its key, ``(site, frozenset
of (kind, host, service))``, made once when the page is rewritten and kept
with it in the page cache: a frozenset keeps its hash, so a page costs one
dictionary update however many third parties it loads. Cookie names are
counted by site and source. ``drain`` turns both into the ``Sighting``
counts the store adds up, computing each cookie's service once per flush.
"""

from __future__ import annotations

import functools
from collections import Counter

from gateway.store.discovery import COOKIE, Sighting
from gateway.trackers.catalogue import Catalogue
from gateway.trackers.thirdparty import Noted

# (kind of row, third-party host, service id or None): one element of a page's sightings.
Seen = Noted
# A page's sightings under its site: what pages are tallied by.
PageSeen = tuple[str, frozenset[Seen]]
# Distinct keys held between two flushes; more are dropped until the next flush (a flood of invented names).
MAX_PENDING = 20_000


@functools.lru_cache(maxsize=1024)
def site_name(host: str) -> str:
    """The site a request's ``Host`` names: lower case, without port or IPv6 brackets."""
    host = host.strip()
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    return (host.rpartition(":")[0] if host.count(":") == 1 else host).lower().rstrip(".")


def page_seen(site: str, seen: set[Seen] | frozenset[Seen] | None) -> PageSeen | None:
    """The tally key of one page's sightings; ``None`` when discovery is off or the page loads no third party."""
    return (site, frozenset(seen)) if seen and site else None


class Tally:
    """Pages and cookie names seen since the last ``drain``, in memory, per worker."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.pages: dict[PageSeen, int] = {}
        self.cookies: dict[tuple[str, str, str], int] = {}  # (source, site, name)

    def count_page(self, seen: PageSeen) -> None:
        """Count one page whose third parties are ``seen`` (``page_seen``)."""
        pages = self.pages
        count = pages.get(seen)
        if count is not None:
            pages[seen] = count + 1
        elif len(pages) < MAX_PENDING:
            pages[seen] = 1

    def count_cookies(self, site: str, names: set[str], source: str) -> None:
        """Count one page on which ``names`` (distinct, already checked) were seen by ``source``."""
        cookies = self.cookies
        for name in names:
            key = (source, site, name)
            count = cookies.get(key)
            if count is not None:
                cookies[key] = count + 1
            elif len(cookies) < MAX_PENDING:
                cookies[key] = 1

    def __bool__(self) -> bool:
        return bool(self.pages or self.cookies)

    def drain(self) -> dict[str, Counter[Sighting]]:
        """Everything counted so far, as pages per sighting by source; the tally starts again empty."""
        pages, self.pages = self.pages, {}
        cookies, self.cookies = self.cookies, {}
        by_source: dict[str, Counter[Sighting]] = {}
        if pages:
            counts = by_source["page"] = Counter()
            for (site, seen), count in pages.items():
                for kind, host, service in seen:
                    counts[Sighting(site, kind, host, service)] += count
        for (source, site, name), count in cookies.items():
            service = self.catalogue.service_of_cookie(name)
            sighting = Sighting(site, COOKIE, name, service.id if service is not None else None)
            by_source.setdefault(source, Counter())[sighting] += count
        return by_source
