"""What the consent endpoints accept, and how they refuse everything else.

Every refusal is a JSON body ``{"error": code, "message": text}`` with a
status that says what was wrong; nothing a visitor sends can cause a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.consent.recorder import ACTIONS
from gateway.net.origin import is_cross_site
from gateway.net.request import request_head
from gateway.settings import Settings

MAX_BODY = 16 * 1024

Endpoint = Callable[[Request], Awaitable[Response]]


class APIError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.code, "message": self.message}, status_code=self.status)


def refusing_errors(endpoint: Endpoint) -> Endpoint:
    async def respond(request: Request) -> Response:
        try:
            return await endpoint(request)
        except APIError as error:
            return error.response()

    return respond


def check_same_site(request: Request, settings: Settings) -> None:
    if is_cross_site(request_head(request.scope, settings.trusted_proxies), settings.allowed_origins):
        raise APIError(403, "cross_site", "consent can only be changed from this site")


def check_media_type(request: Request, expected: str) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != expected:
        raise APIError(415, "unsupported_media_type", f"send the choice as {expected}")


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    too_large = APIError(413, "body_too_large", f"the body may be at most {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def validate_choice(settings: Settings, action: Any, categories: Any) -> tuple[str, list[str]]:
    if action not in ACTIONS:
        raise APIError(400, "unknown_action", f"action must be one of {', '.join(ACTIONS)}")
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise APIError(400, "invalid_categories", "categories must be a list of category names")
    unknown = [c for c in categories if c not in settings.category_names]
    if unknown:
        raise APIError(400, "unknown_category", f"unknown category: {', '.join(unknown)}")
    return action, categories
