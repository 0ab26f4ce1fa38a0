"""The page "Third parties on this site": the discovery table, and what the gateway does to each row.

What the gateway does is asked of the rewriter's own judgement
(``ThirdParties.explain``) and of the catalogue's cookie categories, the ones
the cookie filter uses; this module only puts the answers in words and
orders the rows: unknown hosts first, then by the category they wait for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.admin.language import Texts
from gateway.net.urls import Target
from gateway.settings import Category, Settings
from gateway.store.discovery import COOKIE, Discovered, ScanRun
from gateway.store.record import format_time
from gateway.trackers.catalogue import Essential, Service
from gateway.trackers.thirdparty import (
    ALLOWED,
    BEACON,
    CATALOGUED,
    ESSENTIAL,
    PASSED,
    SAME_SITE,
    UNKNOWN,
    Ruling,
    ThirdParties,
)

# Discovery's element kinds as the rewriter judges them; every other kind (stylesheet, font, ...) is "other".
JUDGED_KINDS = {"script": "script", "iframe": "frame", "object": "frame", "image": "image", "beacon": "image"}
UNCLASSIFIED = frozenset({UNKNOWN, BEACON, PASSED})
# What the gateway does to a cookie: the rules of ``trackers.cookies``.
CLEARED, LEFT_ALONE = "cleared", "left-alone"


@dataclass(frozen=True, slots=True)
class Entry:
    """One discovery row with what the gateway does to it under the current settings."""

    row: Discovered
    rule: str  # a ``trackers.thirdparty`` rule, or CLEARED / LEFT_ALONE for a cookie
    action: str  # the same in words
    category: str | None  # the category it waits for; None: it loads (or is left alone)
    service: Service | None = None
    essential: Essential | None = None

    @property
    def unknown(self) -> bool:
        """A third-party host nobody classified yet: not catalogued, not essential, not allowed."""
        return self.row.kind != COOKIE and self.rule in UNCLASSIFIED


@dataclass(frozen=True, slots=True)
class Listing:
    """Everything the page shows of one site."""

    sites: tuple[str, ...]
    site: str | None
    entries: tuple[Entry, ...]
    last_scan: ScanRun | None

    @property
    def unknown_hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(entry.row.name for entry in self.entries if entry.unknown))


class Describer:
    """Words and order for the rows of one configuration."""

    def __init__(self, settings: Settings, third_parties: ThirdParties) -> None:
        self.settings = settings
        self.third_parties = third_parties
        self.categories: dict[str, Category] = {category.name: category for category in settings.categories}
        self.rank = {name: index for index, name in enumerate(self.categories)}

    @staticmethod
    def sites(rows: Sequence[Discovered], requested: str | None) -> tuple[tuple[str, ...], str | None]:
        """Every site with rows (and ``requested``), and the one to show: ``requested`` or the first."""
        sites = tuple(sorted({row.site for row in rows} | ({requested} if requested else set())))
        return sites, requested or (sites[0] if sites else None)

    def listing(
        self,
        rows: Sequence[Discovered],
        sites: tuple[str, ...],
        site: str | None,
        last_scan: ScanRun | None,
        language: str = "en",
    ) -> Listing:
        """The rows of ``site``, what the gateway does to each said in ``language`` (the download: English)."""
        texts = Texts(language)
        entries = sorted((self.entry(row, texts) for row in rows if row.site == site), key=self.order)
        return Listing(sites, site, tuple(entries), last_scan)

    def entry(self, row: Discovered, texts: Texts) -> Entry:
        return self.cookie(row, texts) if row.kind == COOKIE else self.host(row, texts)

    def host(self, row: Discovered, texts: Texts) -> Entry:
        kind = JUDGED_KINDS.get(row.kind, "other")
        target = Target("https", row.name, "/", "")
        ruling = self.third_parties.explain(target, kind, row.site, tiny=row.kind == "beacon", service_id=row.service)
        category = ruling.hold.category if ruling.hold is not None else None
        service = ruling.hold.service if ruling.hold is not None else None
        action = self.words(ruling, texts) + (
            self.essential_paths(row.name, texts) if ruling.rule in UNCLASSIFIED else ""
        )
        return Entry(row, ruling.rule, action, category, service, ruling.essential)

    def essential_paths(self, host: str, texts: Texts) -> str:
        """Essential infrastructure under some paths of a shared host (``www.google.com/recaptcha/``):
        a row keeps only the host, so say which of its URLs load all the same."""
        found = [
            (pattern, entry.name)
            for entry in self.third_parties.catalogue.essentials
            for pattern in entry.patterns
            if pattern.startswith(host + "/")
        ]
        return "".join(texts.plain("action.except", pattern=pattern, name=name) for pattern, name in found)

    def cookie(self, row: Discovered, texts: Texts) -> Entry:
        catalogue = self.third_parties.catalogue
        service = catalogue.service_of_cookie(row.name)
        if row.name == self.settings.cookie_name:  # the filter's protected cookie
            return Entry(row, LEFT_ALONE, texts.plain("action.consent_cookie"), None)
        category = catalogue.category_of_cookie(row.name)
        if category is None:
            return Entry(row, LEFT_ALONE, texts.plain("action.left_alone"), None, service)
        label = self.label(category, texts.language)
        return Entry(row, CLEARED, texts.plain("action.cleared", label=label), category, service)

    def words(self, ruling: Ruling, texts: Texts) -> str:
        label = self.label(ruling.hold.category, texts.language) if ruling.hold is not None else ""
        if ruling.rule in (CATALOGUED, BEACON, UNKNOWN):
            key = {CATALOGUED: "action.held", BEACON: "action.beacon", UNKNOWN: "action.other"}[ruling.rule]
            return texts.plain(key, label=label)
        if ruling.rule == ESSENTIAL and ruling.essential is not None:
            reason = ruling.essential.reason.get(texts.language) or ruling.essential.reason.get("en", "")
            return texts.plain("action.essential", name=ruling.essential.name, reason=reason)
        return texts.plain(
            {SAME_SITE: "action.same_site", ALLOWED: "action.allowed", PASSED: "action.passed"}[ruling.rule]
        )

    def label(self, category: str, language: str = "en") -> str:
        known = self.categories.get(category)
        return known.text(language)[0] if known is not None else category

    def order(self, entry: Entry) -> tuple:
        """Unknown hosts, then rows by the category they wait for (in the settings' order), then what loads."""
        group = 0 if entry.unknown else (1 if entry.category is not None else 2)
        rank = self.rank.get(entry.category or "", len(self.rank))
        return (group, rank, entry.row.kind == COOKIE, entry.row.name, entry.row.kind)


def as_json(listing: Listing, blocking: str) -> dict:
    """The listing for the download: one object per row, times in UTC."""
    scan = listing.last_scan
    return {
        "site": listing.site,
        "blocking": blocking,
        "last_scan": None
        if scan is None
        else {"finished_at": format_time(scan.finished_at), "pages": scan.pages, "mode": scan.mode},
        "rows": [row_json(entry) for entry in listing.entries],
    }


def row_json(entry: Entry) -> dict:
    row, service = entry.row, entry.service
    return {
        "kind": row.kind,
        "name": row.name,
        "service": service.id if service else None,
        "service_name": service.name if service else (entry.essential.name if entry.essential else None),
        "vendor": service.vendor if service else None,
        "unknown": entry.unknown,
        "rule": entry.rule,
        "category": entry.category,
        "action": entry.action,
        "pages": row.pages,
        "first_seen": format_time(row.first_seen),
        "last_seen": format_time(row.last_seen),
        "source": row.source,
    }
