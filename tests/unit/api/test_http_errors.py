"""A route that raises Starlette's HTTPException is answered with its status, never a 500."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from gateway import ConsentMiddleware, Settings


def test_a_missing_static_file_is_a_404(client: TestClient) -> None:
    response = client.get("/_consent/static/no-such-file.svg")
    assert response.status_code == 404


def test_a_wrong_method_inside_a_starlette_site_is_a_405(settings: Settings) -> None:
    """Starlette puts ``app`` in the scope, and then its routes raise a 405 instead of answering it."""
    host = Starlette()
    host.add_middleware(ConsentMiddleware, settings=settings)
    with TestClient(host, raise_server_exceptions=False) as client:
        response = client.put("/_consent", json={})
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
