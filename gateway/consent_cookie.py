"""The consent cookie on the wire: set, read and expired the same way everywhere."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Scope

from .origin import request_scheme
from .settings import Settings


def consent_token(scope: Scope, settings: Settings) -> str | None:
    return cookie_parser(Headers(scope=scope).get("cookie", "")).get(settings.cookie_name)


def set_consent_cookie(response: Response, token: str, scope: Scope, settings: Settings) -> None:
    # Not HttpOnly: the banner script reads the (signed) payload to know what to revive.
    response.set_cookie(
        settings.cookie_name,
        token,
        max_age=settings.cookie_max_age,
        path="/",
        domain=settings.cookie_domain,
        secure=request_scheme(scope, settings.trusted_proxies) == "https",
        httponly=False,
        samesite="lax",
    )


def expire_consent_cookie(response: Response, scope: Scope, settings: Settings) -> None:
    response.delete_cookie(
        settings.cookie_name,
        path="/",
        domain=settings.cookie_domain,
        secure=request_scheme(scope, settings.trusted_proxies) == "https",
        httponly=False,
        samesite="lax",
    )
