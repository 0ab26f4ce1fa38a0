"""The consent cookie on the wire: set, read and expired the same way everywhere."""

from __future__ import annotations

import re
from functools import lru_cache

from starlette.responses import Response
from starlette.types import Scope

from gateway.net.request import request_head
from gateway.settings import Settings


def consent_token(scope: Scope, settings: Settings) -> str | None:
    return request_head(scope, settings.trusted_proxies).cookies.get(settings.cookie_name)


# Characters http.cookies leaves unquoted; a signed token only uses base64url and dots.
UNQUOTED_VALUE = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]+")


def set_consent_cookie(response: Response, token: str, scope: Scope, settings: Settings) -> None:
    # Not HttpOnly: the banner script reads the (signed) payload to know what to revive.
    secure = is_https(scope, settings)
    if UNQUOTED_VALUE.fullmatch(token):
        attributes = cookie_attributes(settings.cookie_name, settings.cookie_max_age, settings.cookie_domain, secure)
        response.raw_headers.append((b"set-cookie", f"{settings.cookie_name}={token}{attributes}".encode("latin-1")))
        return
    response.set_cookie(
        settings.cookie_name,
        token,
        max_age=settings.cookie_max_age,
        path="/",
        domain=settings.cookie_domain,
        secure=secure,
        httponly=False,
        samesite="lax",
    )


@lru_cache(maxsize=64)
def cookie_attributes(name: str, max_age: int, domain: str | None, secure: bool) -> str:
    """Everything after ``name=value`` in the header Starlette's ``set_cookie`` builds, made once:
    ``http.cookies`` costs tens of microseconds per response and the attributes never change."""
    probe = Response()
    probe.set_cookie(name, "v", max_age=max_age, path="/", domain=domain, secure=secure, httponly=False, samesite="lax")
    header = probe.raw_headers[-1][1].decode("latin-1")
    return header[len(f"{name}=v") :]


def expire_consent_cookie(response: Response, scope: Scope, settings: Settings) -> None:
    response.delete_cookie(
        settings.cookie_name,
        path="/",
        domain=settings.cookie_domain,
        secure=is_https(scope, settings),
        httponly=False,
        samesite="lax",
    )


def is_https(scope: Scope, settings: Settings) -> bool:
    """Does the visitor see the site over https? Then the cookie is ``Secure``."""
    return request_head(scope, settings.trusted_proxies).scheme == "https"
