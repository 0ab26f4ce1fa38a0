"""The preferences page: a plain HTML form that works with JavaScript off.

It is also where the banner's "settings" button leads, so every visitor can
give, change or withdraw consent with the same few clicks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Scope

from gateway.api.inuse import ServicesInUse, requested_site
from gateway.banner.texts import negotiate, other_languages, texts
from gateway.consent.choice import APIError, validate_choice
from gateway.consent.cookie import set_consent_cookie
from gateway.consent.recorder import Recorder
from gateway.consent.state import Consent
from gateway.net.origin import normalise_origin
from gateway.net.request import request_head
from gateway.settings import Settings
from gateway.templating import template

Confirm = Callable[[Request, str, list[str], str, str | None], Awaitable[Consent]]


def safe_next(target: str | None, scope: Scope, settings: Settings) -> str:
    """``target`` when it stays on this site, else ``/``: the form is no open redirect."""
    if not target or any(ord(char) < 0x20 for char in target) or "\\" in target:
        return "/"
    if target.startswith("/") and not target.startswith("//"):
        return target
    own = request_head(scope, settings.trusted_proxies).own_origin
    return target if own is not None and normalise_origin(target) == own else "/"


class PreferencesForm:
    def __init__(self, settings: Settings, recorder: Recorder, confirm: Confirm, in_use: ServicesInUse) -> None:
        self.settings = settings
        self.recorder = recorder
        self.confirm = confirm
        self.in_use = in_use
        self.template = template("api/preferences.html")

    async def show(self, request: Request) -> Response:
        language = negotiate(request.headers, request.query_params.get("lang"), self.settings.default_language)
        consent: Consent = request.scope["consent"]
        next_url = safe_next(request.query_params.get("next"), request.scope, self.settings)
        used = await self.in_use.of(requested_site(request.scope, self.settings))
        categories = [
            {
                "name": category.name,
                "label": category.text(language)[0],
                "description": category.text(language)[1],
                "required": category.required,
                "checked": consent.allows(category.name),
                "services": [u.as_json(language) for u in used.in_category(category.name)],
            }
            for category in self.settings.categories
        ]
        page = self.template.render(
            t=texts(language),
            language=language,
            categories=categories,
            known=used.known,
            consent=consent,
            gpc=request_head(request.scope, self.settings.trusted_proxies).gpc,
            next_url=next_url,
            action=f"{self.settings.prefix}/preferences",
            languages=[
                (code, name, f"{self.settings.prefix}/preferences?" + urlencode({"lang": code, "next": next_url}))
                for code, name in other_languages(language)
            ],
            privacy_url=self.settings.privacy_url,
            declaration_url=f"{self.settings.prefix}/declaration?lang={language}",
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def submit(self, request: Request, body: bytes) -> Response:
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise APIError(400, "invalid_form", "the form is not valid UTF-8") from None
        action, categories = validate_choice(
            self.settings, fields.get("action", ["custom"])[-1], fields.get("categories", [])
        )
        language = negotiate(request.headers, fields.get("lang", [None])[-1], self.settings.default_language)
        next_url = safe_next(fields.get("next", ["/"])[-1], request.scope, self.settings)
        consent = await self.confirm(request, action, categories, language, next_url)
        response = RedirectResponse(next_url, status_code=303)
        set_consent_cookie(response, self.recorder.codec.dumps(consent), request.scope, self.settings)
        return response
