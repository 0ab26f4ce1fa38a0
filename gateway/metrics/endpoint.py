"""``GET <prefix>/metrics``: the process's figures in the Prometheus text format.

The figures are aggregates only (counts and latencies, never an id, address
or path), so the endpoint is open by default like any exporter on an
internal network; with ``metrics_token`` set a scraper must send
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from gateway.metrics.registry import CONTENT_TYPE, Registry


class MetricsEndpoint:
    """ASGI endpoint rendering ``registry``, behind an optional bearer token."""

    def __init__(self, registry: Registry, token: str | None = None) -> None:
        self.registry = registry
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        if request.method not in ("GET", "HEAD"):
            response: Response = JSONResponse(
                {"error": "method_not_allowed", "message": "use GET"}, status_code=405, headers={"Allow": "GET, HEAD"}
            )
        elif not self.authorised(request):
            response = JSONResponse(
                {"error": "unauthorised", "message": "send Authorization: Bearer <metrics_token>"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        else:
            response = Response(self.registry.render(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
        await response(scope, receive, send)

    def authorised(self, request: Request) -> bool:
        if self.expected is None:
            return True
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        return hmac.compare_digest(given, self.expected)
