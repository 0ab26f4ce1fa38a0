"""Cross-origin use of the consent API, for sites that load the banner from the gateway's origin.

Only origins listed in ``allowed_origins`` get CORS headers. Credentials are
never allowed: the banner keeps the consent cookie first-party on the site
and sends the signed token in the request body instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.net.addresses import Network
from gateway.net.origin import normalise_origin
from gateway.net.request import request_head

ALLOWED_METHODS = "GET, POST, DELETE"
PREFLIGHT_MAX_AGE = "600"


class CrossOrigin:
    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...], trusted: Sequence[Network] = ()) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins)
        self.trusted = trusted  # the gateway's trusted proxies: the request's head is parsed under them

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = request_head(scope, self.trusted).origin
        if not origin or normalise_origin(origin) not in self.allowed:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            headers = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                "Vary": "Origin",
            }
            await Response(status_code=204, headers=headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message.setdefault("headers", []))
                headers["Access-Control-Allow-Origin"] = origin
                headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)
