"""A small learning site with the tracker snippets real sites carry, for trying the gateway.

Nothing here knows about consent: the page markup is what a course platform
ships today, and the middleware around it does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gateway.app import ConsentMiddleware, build
from gateway.settings import Settings
from gateway.templating import template

COURSES = {
    "excel-voor-beginners": ("Excel voor beginners", "Formules, grafieken en draaitabellen in zes lessen."),
    "veilig-werken-met-data": ("Veilig werken met data", "AVG-proof omgaan met gegevens van cursisten."),
    "nederlands-b1": ("Nederlands op B1-niveau", "Lezen, schrijven en spreken voor je inburgering."),
}


def page(name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    return HTMLResponse(template(f"demo/{name}").render(**context), status_code=status_code)


async def catalogue(request: Request) -> Response:
    return page("catalogue.html", courses=COURSES)


async def lesson(request: Request) -> Response:
    slug = request.path_params["slug"]
    if slug not in COURSES:
        return page("not_found.html", status_code=404)
    title, summary = COURSES[slug]
    return page("lesson.html", slug=slug, title=title, summary=summary)


async def login(request: Request) -> Response:
    return page("login.html", attempted=request.method == "POST")


async def privacy(request: Request) -> Response:
    return page("privacy.html")


def demo_site() -> Starlette:
    return Starlette(
        routes=[
            Route("/", catalogue),
            Route("/cursus/{slug}", lesson),
            Route("/inloggen", login, methods=["GET", "POST"]),
            Route("/privacy", privacy),
        ]
    )


def demo_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Demo mode: a fresh secret per run and a SQLite file in the working directory."""
    return Settings.load(
        environ=environ,
        defaults={"database_url": "sqlite:///consent-demo.db"},
        demo=True,
    )


def demo_app(settings: Settings | None = None) -> ConsentMiddleware:
    return ConsentMiddleware(demo_site(), components=build(settings or demo_settings()))
