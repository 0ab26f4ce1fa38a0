"""The consent API under the prefix: read, record and withdraw a choice.

``gateway.app`` mounts these endpoints beside the preferences form, the
metrics, the admin and the analytics endpoints.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.inuse import ServicesInUse, requested_site
from gateway.api.preferences import PreferencesForm
from gateway.banner.script import Banner
from gateway.banner.texts import negotiate
from gateway.consent.choice import (
    APIError,
    Endpoint,
    check_media_type,
    check_same_site,
    read_body,
    validate_choice,
)
from gateway.consent.cookie import consent_token, expire_consent_cookie, set_consent_cookie
from gateway.consent.recorder import Recorder
from gateway.consent.state import Consent
from gateway.net.jsonbody import JSONBodyError, parse_json
from gateway.net.request import RequestHead, request_head
from gateway.settings import Settings
from gateway.store import ConsentStore
from gateway.trackers.catalogue import Catalogue
from gateway.trackers.cookies import expire_denied

HEALTH_TIMEOUT = 1.0  # seconds: a health check that hangs is no answer for a load balancer
SERVICES_MAX_AGE = 60  # seconds; discovery may find more on the site meanwhile


class ConsentAPI:
    """The consent endpoints: the visitor's choice, the banner's scripts, the catalogue and the health check."""

    def __init__(
        self,
        settings: Settings,
        store: ConsentStore,
        recorder: Recorder,
        banner: Banner,
        catalogue: Catalogue,
        in_use: ServicesInUse,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.in_use = in_use
        self.by_category = catalogue_by_category(catalogue, settings.category_names)
        self.store = store
        self.recorder = recorder
        self.banner = banner

    def head(self, request: Request) -> RequestHead:
        return request_head(request.scope, self.settings.trusted_proxies)

    def language(self, request: Request, requested: Any = None) -> str:
        return negotiate(
            request.headers, requested if isinstance(requested, str) else None, self.settings.default_language
        )

    async def current(self, request: Request) -> Response:
        consent: Consent = request.scope["consent"]
        return JSONResponse(consent.as_json(self.settings.category_names) | {"gpc": self.head(request).gpc})

    async def give(self, request: Request) -> Response:
        check_same_site(request, self.settings)
        check_media_type(request, "application/json")
        try:
            choice = parse_json(await read_body(request))
        except JSONBodyError as error:
            raise APIError(400, "invalid_json", str(error)) from None
        if not isinstance(choice, dict):
            raise APIError(400, "invalid_json", "the body must be a JSON object")
        action, categories = validate_choice(
            self.settings, choice.get("action", "custom"), choice.get("categories", [])
        )
        page = choice.get("page") if isinstance(choice.get("page"), str) else None
        language = self.language(request, choice.get("language"))
        consent = await self.confirm(request, action, categories, language, page, body_token(choice))
        token = self.recorder.codec.dumps(consent)
        response = JSONResponse(
            {
                "id": consent.id,
                "categories": [c for c in self.settings.category_names if consent.allows(c)],
                "revision": consent.revision,
                "method": consent.method,
                "token": token,
            }
        )
        set_consent_cookie(response, token, request.scope, self.settings)
        head = self.head(request)
        if head.cookie is not None:  # without cookies there is nothing to expire
            response.raw_headers.extend(
                expire_denied(head, consent.categories, self.settings.category_names, self.catalogue)
            )
        return response

    async def confirm(
        self,
        request: Request,
        action: str,
        categories: list[str],
        language: str,
        page: str | None,
        token: str | None = None,
    ) -> Consent:
        """Record the choice durably; a store that fails is a 503, never a silent loss."""
        previous = self.previous(request, token)
        try:
            return await self.recorder.record(request.scope, action, categories, language, page, previous)
        except Exception:
            raise APIError(503, "store_unavailable", "the choice could not be stored; please try again") from None

    def previous(self, request: Request, token: str | None) -> Consent | None:
        """The visitor's earlier consent: from the cookie, or from the body when the banner runs on another origin."""
        return self.recorder.previous(consent_token(request.scope, self.settings)) or self.recorder.previous(token)

    async def withdraw(self, request: Request) -> Response:
        check_same_site(request, self.settings)
        body: Any = None
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = parse_json(await read_body(request))
            except JSONBodyError as error:
                raise APIError(400, "invalid_json", str(error)) from None
        previous = self.previous(request, body_token(body))
        # The banner says which language it was shown in; the record keeps that text's hash.
        language = self.language(request, body.get("language") if isinstance(body, dict) else None)
        required = self.settings.categories[0].name
        answer = {"id": None, "categories": [required], "revision": self.settings.revision, "method": "withdraw"}
        if previous is not None:
            try:
                consent = await self.recorder.record(
                    request.scope, "withdraw", [], language, self.head(request).referer, previous
                )
            except Exception:
                raise APIError(
                    503, "store_unavailable", "the withdrawal could not be stored; please try again"
                ) from None
            answer["id"] = consent.id
        response = JSONResponse(answer)
        expire_consent_cookie(response, request.scope, self.settings)
        response.raw_headers.extend(
            expire_denied(self.head(request), frozenset({required}), self.settings.category_names, self.catalogue)
        )
        return response

    def submit_form(self, form: PreferencesForm) -> Endpoint:
        async def submit(request: Request) -> Response:
            check_same_site(request, self.settings)
            check_media_type(request, "application/x-www-form-urlencoded")
            return await form.submit(request, await read_body(request))

        return submit

    async def banner_script(self, request: Request) -> Response:
        return self.banner.response(request)

    async def settings_script(self, request: Request) -> Response:
        return self.banner.settings_layer.response(request)

    async def services(self, request: Request) -> Response:
        """The services this site uses, for the banner's settings layer; and, for reviving Klaro
        markup and clearing cookies, every catalogued service's category and cookies by category."""
        language = self.language(request, request.query_params.get("lang"))
        used = await self.in_use.of(requested_site(request.scope, self.settings))
        names = self.settings.category_names
        body: dict[str, Any] = {
            "site": used.site,
            "known": used.known,
            "services": [u.as_json(language) for u in used.services if u.service.category in names],
            "catalogue": self.by_category,
        }
        headers = {"Cache-Control": f"public, max-age={SERVICES_MAX_AGE}", "Vary": "Origin"}
        return JSONResponse(body, headers=headers)

    async def health(self, request: Request) -> Response:
        """200 when the store answers a read and takes a write within a second; else 503 and why."""
        try:
            await asyncio.wait_for(self.store.check_health(), HEALTH_TIMEOUT)
        except Exception as error:
            reason = "timeout" if isinstance(error, TimeoutError) else type(error).__name__
            return JSONResponse({"status": "failing", "store": reason}, status_code=503)
        return JSONResponse({"status": "ok"})


def catalogue_by_category(catalogue: Catalogue, categories: tuple[str, ...]) -> dict[str, dict[str, list[str]]]:
    """Every catalogued service id and cookie pattern per category: what the banner clears and revives."""
    return {
        category: {
            "services": [s.id for s in catalogue.services if s.category == category],
            "cookies": list(catalogue.cookie_patterns(category)),
        }
        for category in categories
    }


def body_token(body: Any) -> str | None:
    token = body.get("token") if isinstance(body, dict) else None
    return token if isinstance(token, str) else None
