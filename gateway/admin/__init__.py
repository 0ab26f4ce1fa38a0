"""The privacy officer's admin under ``<prefix>/admin``: consent rates, lookup, erasure, export, audit log.

The pages are ``templates/*.html``, each extending ``templates/layout.html`` (the admin's look).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from gateway.admin.views import AdminViews
from gateway.settings import Settings
from gateway.store import ConsentStore


def admin_routes(settings: Settings, store: ConsentStore) -> list[BaseRoute]:
    """The admin's routes, or none at all (so every admin path is a 404) when no sign-in is configured."""
    if not settings.admin_enabled:
        return []
    return list(AdminViews(settings, store).routes())
