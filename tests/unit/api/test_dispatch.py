"""Fixed paths found by dictionary (gateway.api.dispatch): every request answered as Starlette's router answers it."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Mount, Route, Router
from starlette.testclient import TestClient

from gateway import Settings
from gateway.api.dispatch import ExactPaths
from gateway.app import StatusOnHTTPError, build


def answer(text: str):
    async def endpoint(request: Request) -> Response:
        return JSONResponse({"by": text, "endpoint": request.scope["endpoint"].__name__, "params": request.path_params})

    endpoint.__name__ = text
    return endpoint


async def mounted(scope, receive, send) -> None:
    await PlainTextResponse("mounted")(scope, receive, send)


class Plain:
    """An ASGI app as a route's endpoint: Route calls it as it is."""

    async def __call__(self, scope, receive, send) -> None:
        await PlainTextResponse(f"asgi {scope['method']}")(scope, receive, send)


ROUTES = [
    Route("/first", answer("first"), methods=["GET"]),
    Route("/first", answer("shadowed"), methods=["GET", "POST"]),  # GET goes to the route above
    Mount("/files", app=mounted),
    Route("/files/index", answer("under_the_mount"), methods=["GET"]),  # the mount takes it
    Route("/user/{name}", answer("parameter"), methods=["GET"]),
    Route("/user/me", answer("after_parameter"), methods=["GET"]),  # the route with a parameter takes it
    Route("/plain", answer("plain"), methods=["GET", "DELETE"]),
    Route("/asgi", Plain(), methods=["GET"]),
]
REQUESTS = [
    ("GET", "/first"),
    ("POST", "/first"),
    ("HEAD", "/first"),
    ("GET", "/files/index"),
    ("GET", "/user/me"),
    ("GET", "/user/ann"),
    ("GET", "/plain"),
    ("DELETE", "/plain"),
    ("PUT", "/plain"),  # 405 with Allow
    ("GET", "/asgi"),
    ("GET", "/nowhere"),  # 404
    ("GET", "/plain/"),  # 404: no slash redirects here
]


def answers(app, method: str, path: str, root_path: str = "") -> tuple[int, str, str | None]:
    with TestClient(app, root_path=root_path) as client:
        response = client.request(method, root_path + path)
    return response.status_code, response.text, response.headers.get("allow")


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_every_request_gets_the_routers_answer(method: str, path: str) -> None:
    router = Router(ROUTES, redirect_slashes=False)
    assert answers(ExactPaths(router), method, path) == answers(router, method, path)


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_under_a_root_path_the_router_answers(method: str, path: str) -> None:
    router = Router(ROUTES, redirect_slashes=False)
    assert answers(ExactPaths(router), method, path, "/site") == answers(router, method, path, "/site")


def test_only_routes_the_router_would_pick_are_in_the_table() -> None:
    table = ExactPaths(Router(ROUTES)).endpoints
    names = {key: getattr(endpoint, "__name__", "asgi") for key, (_, _, endpoint) in table.items()}
    assert names[("/first", "GET")] == "first"
    assert names[("/first", "POST")] == "shadowed"
    assert names[("/plain", "HEAD")] == "plain"  # Starlette adds HEAD to a GET route
    assert ("/files/index", "GET") not in names
    assert ("/user/me", "GET") not in names
    assert ("/user/{name}", "GET") not in names
    assert names[("/asgi", "GET")] == "asgi"


def test_the_endpoint_and_its_parameters_are_in_the_scope() -> None:
    status, text, _ = answers(ExactPaths(Router(ROUTES)), "GET", "/plain")
    assert status == 200
    assert text == '{"by":"plain","endpoint":"plain","params":{}}'


def test_the_gateways_table_agrees_with_its_router(settings: Settings) -> None:
    """For each fixed path and method of the real consent API, the router's first full match is the endpoint."""
    exact = build(settings).api.app.app
    assert isinstance(exact, ExactPaths) and isinstance(exact.router, Router)
    assert ("/_consent", "POST") in exact.endpoints
    assert any(path.startswith("/_consent/collect") for path, _ in exact.endpoints)
    for (path, method), (_, _, endpoint) in exact.endpoints.items():
        probe = {"type": "http", "path": path, "root_path": "", "method": method}
        first = next(route for route in exact.router.routes if route.matches(probe)[0] is Match.FULL)
        assert first.endpoint is endpoint, (path, method)


def test_a_host_applications_exception_handlers_still_apply(settings: Settings) -> None:
    """Inside a Starlette site, an HTTPException from a gateway route reaches the site's own handler."""

    async def teapot(request: Request, error: Exception) -> Response:
        return PlainTextResponse("handled by the site", status_code=418)

    async def refuses(request: Request) -> Response:
        raise HTTPException(409)

    host = Starlette(exception_handlers={HTTPException: teapot})
    exact = ExactPaths(Router([Route("/x", refuses)]))
    host.mount("/", StatusOnHTTPError(exact))
    with TestClient(host) as client:
        response = client.get("/x")
    assert (response.status_code, response.text) == (418, "handled by the site")
    without_host = TestClient(StatusOnHTTPError(exact)).get("/x")
    assert without_host.status_code == 409


def test_a_choice_is_recorded_through_the_table(client: TestClient) -> None:
    given = client.post("/_consent", json={"action": "accept_all"})
    read = client.get("/_consent")
    assert given.status_code == 200 and given.json()["method"] == "accept_all"
    assert read.json()["id"] == given.json()["id"]
