"""The cookie declaration: per category the services a site uses, to publish in a privacy statement.

``GET <prefix>/declaration`` answers HTML in Dutch or English (``?lang=``,
else ``Accept-Language``), a bare fragment for a server-side include
(``?fragment=1``), or JSON when the client asks for it (``Accept:
application/json`` or ``?format=json``). ``<prefix>/declaration.js`` inserts
the fragment where its ``<script>`` tag stands, on the gateway's own origin or
on one of ``allowed_origins`` (CORS, as for the banner). Every form is made
from one document (``declaration_document``), built from ``ServicesInUse``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from gateway.api.inuse import ServicesInUse, SiteServices, UsedService, requested_site
from gateway.banner.script import Script, minified
from gateway.banner.texts import negotiate, other_languages, texts
from gateway.settings import Settings
from gateway.templating import template

MAX_AGE = 300  # seconds a declaration may be cached; discovery may change it meanwhile
JSON_TYPE = "application/json"
HTML_TYPE = "text/html"


class Declaration:
    """``<prefix>/declaration`` and ``<prefix>/declaration.js``."""

    def __init__(self, settings: Settings, in_use: ServicesInUse) -> None:
        self.settings = settings
        self.in_use = in_use
        self.page_template = template("api/declaration.html")
        self.fragment_template = template("api/declaration_fragment.html")
        self.embed = Script(minified("declaration.js"))

    async def show(self, request: Request) -> Response:
        query = request.query_params
        language = negotiate(request.headers, query.get("lang"), self.settings.default_language)
        used = await self.in_use.of(requested_site(request.scope, self.settings))
        document = declaration_document(self.settings, used, language)
        headers = {"Cache-Control": f"public, max-age={MAX_AGE}", "Vary": "Accept, Accept-Language, Origin"}
        if wants_json(request.headers, query.get("format")):
            return JSONResponse(document, headers=headers)
        chosen = self.fragment_template if query.get("fragment") in ("1", "true") else self.page_template
        page = chosen.render(
            d=document,
            t=texts(language),
            language=language,
            languages=[
                (code, name, f"{self.settings.prefix}/declaration?lang={code}")
                for code, name in other_languages(language)
            ],
        )
        return HTMLResponse(page, headers=headers)

    async def script(self, request: Request) -> Response:
        return self.embed.response(request)


def wants_json(headers: Headers, format_: str | None) -> bool:
    """``?format=json`` (``?format=html`` for HTML), else JSON when ``Accept`` ranks it above HTML."""
    if format_ in ("json", "html"):
        return format_ == "json"
    ranges = accepted(headers.get("accept", ""))
    return preference(ranges, JSON_TYPE) > preference(ranges, HTML_TYPE)


def accepted(accept: str) -> dict[str, float]:
    """The media ranges of an ``Accept`` header with their quality."""
    ranges = {}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = max(0.0, min(1.0, float(value)))
                except ValueError:
                    weight = 0.0
        if media:
            ranges[media.lower()] = weight
    return ranges


def preference(ranges: dict[str, float], media: str) -> float:
    """The quality of ``media``: from its own range, else its type's (``text/*``), else ``*/*``."""
    for candidate in (media, media.split("/")[0] + "/*", "*/*"):
        if candidate in ranges:
            return ranges[candidate]
    return 0.0


def declaration_document(settings: Settings, used: SiteServices, language: str) -> dict[str, Any]:
    """The declaration as data: what the JSON answer is and what the HTML shows."""
    t = texts(language)
    return {
        "site": used.site,
        "language": language,
        "title": t["declaration_title"],
        "known": used.known,
        "last_scan": scan_json(used, language),
        "last_change": moment_json(used.last_change, language),
        "preferences_url": f"{settings.prefix}/preferences",
        "categories": [
            {
                "name": category.name,
                "label": category.text(language)[0],
                "description": category.text(language)[1],
                "required": category.required,
                "services": [service_json(u, language) for u in used.in_category(category.name)],
            }
            for category in settings.categories
        ],
    }


def service_json(used: UsedService, language: str) -> dict[str, Any]:
    purpose, retention = used.service.text(language)
    return {
        "id": used.service.id,
        "name": used.name(language),
        "provider": used.vendor(language),
        "purpose": purpose,
        "retention": retention,
        "cookies": [{"name": name, "retention": text} for name, text in used.cookie_retention(language).items()],
        "privacy_url": used.service.privacy_url,
        "source": "configured" if used.configured else "discovered",
    }


def scan_json(used: SiteServices, language: str) -> dict[str, Any] | None:
    scan = used.last_scan
    if scan is None:
        return None
    return {**moment_json(scan.finished_at, language), "pages": scan.pages, "mode": scan.mode}  # type: ignore[dict-item]


def moment_json(moment: datetime | None, language: str) -> dict[str, str] | None:
    """A moment as ISO 8601 (UTC) and as a date the visitor reads ("5 december 2026")."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    month = texts(language)["months"].split()[moment.month - 1]
    return {"at": moment.isoformat(timespec="seconds"), "date": f"{moment.day} {month} {moment.year}"}
