"""The privacy officer's admin under ``<prefix>/admin``: consent rates, lookup, erasure, export, audit log,
the third parties the site uses, and the statistics counted without consent.

``views`` (every page and its route), ``auth`` (sessions, CSRF, sign-in throttle), ``passwords``,
``period`` (the date-range filter), ``chart`` (SVG charts), ``export`` (records as CSV),
``statistics`` (the figures counted without consent, added up for their page and their CSV),
``thirdparties`` (the discovery table and what the gateway does to each row) and ``snippets``
(the TOML that classifies an unknown host), ``language`` (Dutch or English, the words in
``locales/<language>.json``). The pages are ``templates/*.html``, each extending
``templates/layout.html`` (the admin's look); ``templates/copy.js`` is the third-party page's copy button.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from gateway.admin.views import AdminViews
from gateway.settings import Settings
from gateway.store import ConsentStore
from gateway.trackers.thirdparty import ThirdParties


def admin_routes(settings: Settings, store: ConsentStore, third_parties: ThirdParties) -> list[BaseRoute]:
    """The admin's routes, or none at all (so every admin path is a 404) when no sign-in is configured.

    ``third_parties`` is the page rewriter's judgement, which the third-party page explains."""
    if not settings.admin_enabled:
        return []
    return list(AdminViews(settings, store, third_parties).routes())
