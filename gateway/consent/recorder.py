"""Turning a visitor's choice into a durable record and a signed consent."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.types import Scope

from gateway.consent.state import Consent, TokenCodec, new_consent_id
from gateway.metrics.registry import Registry
from gateway.net.addresses import anonymise
from gateway.net.request import request_head
from gateway.net.useragent import classify
from gateway.settings import Settings
from gateway.store import ConsentRecord, ConsentStore

ACTIONS = ("accept_all", "reject_all", "custom")
# Global Privacy Control is an objection to selling and sharing: a blanket
# "accept all" does not override it, an explicit tick on the category does.
GPC_DENIED_CATEGORIES = frozenset({"marketing"})
MAX_PATH_LENGTH = 512


def clean_path(page: str | None) -> str:
    """The path of a page, without query string or fragment (they can carry personal data)."""
    if not page:
        return ""
    path = urlsplit(page).path if "://" in page else page.split("?", 1)[0].split("#", 1)[0]
    return path[:MAX_PATH_LENGTH] if path.startswith("/") else ""


def decide(action: str, requested: Iterable[str], settings: Settings, gpc: bool) -> tuple[frozenset[str], str]:
    """Granted categories and the recorded method for ``action``."""
    required = settings.categories[0].name
    if action == "accept_all":
        granted = frozenset(settings.category_names)
        if gpc and granted & GPC_DENIED_CATEGORIES:
            return granted - GPC_DENIED_CATEGORIES, "gpc"
        return granted, action
    if action == "custom":
        return frozenset({required, *requested}), action
    return frozenset({required}), action  # reject_all, withdraw


class Recorder:
    """Stores a choice first, then hands back the consent to sign into the cookie."""

    def __init__(
        self,
        settings: Settings,
        store: ConsentStore,
        codec: TokenCodec,
        text_hashes: dict[str, str],
        metrics: Registry | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.codec = codec
        self.text_hashes = text_hashes
        self.category_names = settings.category_names  # a property that builds a tuple: read it once
        self.known = frozenset(self.category_names)
        registry = metrics if metrics is not None else Registry()
        self.choices = registry.counter("gateway_choices_total", "Choices stored, by method.", ["method"])
        self.category_choices = registry.counter(
            "gateway_choice_categories_total",
            "Stored choices per category, granted or denied.",
            ["category", "decision"],
        )
        # One incrementer per (method, granted) seen, made on first use so unused samples stay absent.
        self._counters: dict[tuple[str, frozenset[str]], list] = {}

    def previous(self, token: str | None) -> Consent | None:
        """The visitor's earlier consent, even under an older revision: its id carries over."""
        return self.codec.loads(token)

    async def record(
        self,
        scope: Scope,
        action: str,
        requested: Iterable[str],
        language: str,
        page: str | None,
        previous: Consent | None,
    ) -> Consent:
        head = request_head(scope, self.settings.trusted_proxies)
        gpc = head.gpc
        granted, method = decide(action, requested, self.settings, gpc)
        now = time.time()
        consent = Consent(
            id=previous.id if previous else new_consent_id(),
            categories=granted,
            revision=self.settings.revision,
            given_at=now,
            method=method,
            gpc=gpc,
        )
        agent = classify(head.user_agent)
        names = self.category_names
        await self.store.record(
            ConsentRecord(
                consent_id=consent.id or "",
                recorded_at=datetime.fromtimestamp(now, UTC),
                granted=tuple(c for c in names if c in granted),
                denied=tuple(c for c in names if c not in granted),
                revision=self.settings.revision,
                method=method,
                language=language,
                banner_hash=self.text_hashes[language],
                page_path=clean_path(page),
                ip_prefix=anonymise(head.client_address),
                browser=agent.browser,
                device=agent.device,
                gpc=gpc,
            )
        )
        self.count(method, granted)
        return consent

    def count(self, method: str, granted: frozenset[str]) -> None:
        """Metrics move only for choices that were stored."""
        increments = self._counters.get((method, granted))
        if increments is None:
            increments = [self.choices.incrementer(method=method)] + [
                self.category_choices.incrementer(category=c, decision="granted" if c in granted else "denied")
                for c in self.category_names
            ]
            if granted <= self.known:  # only known categories: the cache stays bounded
                self._counters[(method, granted)] = increments
        for increment in increments:
            increment()
