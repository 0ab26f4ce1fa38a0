"""``ExactPaths``: requests for a fixed path go straight to their endpoint, the rest to Starlette's router.

Starlette's ``Router`` tries every route's regular expression in turn and
wraps each endpoint call in an exception-handling layer with a second
``send``. The consent API's routes are nearly all fixed paths, and the ones
with the most traffic (a visitor's choice, the analytics hits, which come
last in the list) paid for every route before them. Here a dictionary keyed
by ``(path, method)`` finds the endpoint, which is called as ``Route`` would
call it. The table is worked out from the router's own routes when it is
built: a fixed-path route is only taken when no route before it would have
answered that path and method first (a ``Mount``, a route with parameters).
Anything else (an unknown path, a method the path does not allow, a
``root_path`` set by a host application, a host's exception handlers in the
scope) is left to the router, which answers as it always did.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

HANDLERS_KEY = "starlette.exception_handlers"  # set by a Starlette host's ExceptionMiddleware


class ExactPaths:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.endpoints: dict[tuple[str, str], tuple[ASGIApp, Callable | None, Callable]] = {}
        for index, route in enumerate(router.routes):
            if not isinstance(route, Route) or route.param_convertors or not route.methods:
                continue
            for method in route.methods:
                key = (route.path, method)
                if key not in self.endpoints and not answered_before(router.routes[:index], *key):
                    self.endpoints[key] = (route.app, plain_function(route), route.endpoint)

    @property
    def routes(self) -> list:
        """The router's routes, as ``Router.routes`` lists them."""
        return self.router.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            self.endpoints.get((scope["path"], scope["method"]))
            if scope["type"] == "http" and not scope.get("root_path")
            else None
        )
        if found is None:
            await self.router(scope, receive, send)
            return
        app, function, endpoint = found
        scope["endpoint"], scope["path_params"] = endpoint, {}
        if function is None or HANDLERS_KEY in scope:
            await app(scope, receive, send)  # as the router would call it
            return
        response = await function(Request(scope, receive, send))
        await response(scope, receive, send)


def answered_before(routes: list, path: str, method: str) -> bool:
    """Would one of ``routes`` take a request for ``path`` and ``method`` (the router takes the first)?"""
    probe: Scope = {"type": "http", "path": path, "root_path": "", "method": method}
    return any(route.matches(probe)[0] is Match.FULL for route in routes)


def plain_function(route: Route) -> Callable[[Request], Awaitable[Response]] | None:
    """The endpoint when the route's app is only ``request_response`` around it (an async function or
    method, no route middleware), else ``None``: then the route's own app is called."""
    endpoint = route.endpoint
    wrapped_only = getattr(route.app, "__qualname__", "") == "request_response.<locals>.app"
    plain = inspect.isfunction(endpoint) or inspect.ismethod(endpoint)
    return endpoint if wrapped_only and plain and inspect.iscoroutinefunction(endpoint) else None
