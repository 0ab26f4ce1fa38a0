"""A site's own configuration reaching the blocking engine: extra services, the Open Cookie Database, path policies."""

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from support import OPEN_COOKIE_DATABASE
from support.helpers import SECRET

from gateway import ConsentMiddleware, Settings, SettingsError

EXTRA_SERVICE = {
    "id": "leerplein-stats",
    "name": "Leerplein Stats",
    "vendor": "Leerplein B.V.",
    "category": "analytics",
    "privacy_url": "https://www.leerplein.nl/privacy",
    "purpose": {"nl": "Eigen bezoekstatistieken.", "en": "Our own visitor statistics."},
    "retention": {"nl": "13 maanden", "en": "13 months"},
    "scripts": ["stats.leerplein.nl/tracker.js"],
    "inline": [],
    "beacons": [],
    "iframes": [],
    "hosts": ["stats.leerplein.nl"],
    "cookies": ["lp_visitor"],
}


def app_with(settings: Settings) -> TestClient:
    async def page(request):
        response = HTMLResponse(
            '<html><head><script src="https://stats.leerplein.nl/tracker.js"></script></head></html>'
        )
        response.set_cookie("lp_visitor", "1")
        response.set_cookie("tv_spot_tracker", "1")
        return response

    return TestClient(ConsentMiddleware(Starlette(routes=[Route("/", page)]), settings=settings))


@pytest.mark.skipif(
    not OPEN_COOKIE_DATABASE.is_file(), reason=f"the Open Cookie Database is not at {OPEN_COOKIE_DATABASE}"
)
def test_operator_services_and_the_open_cookie_database_are_enforced(tmp_path) -> None:
    settings = Settings(
        secret_key=SECRET,
        database_url=f"sqlite:///{tmp_path / 'c.db'}",
        services=(EXTRA_SERVICE,),
        open_cookie_database=str(OPEN_COOKIE_DATABASE),
    )
    with app_with(settings) as client:
        response = client.get("/")
    assert 'data-consent-service="leerplein-stats"' in response.text
    # Our own tracker cookie, and a TV-tracking one only the OCD knows.
    assert response.headers.get_list("set-cookie") == []


def test_without_the_open_cookie_database_unknown_cookies_pass(tmp_path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{tmp_path / 'c.db'}", services=(EXTRA_SERVICE,))
    with app_with(settings) as client:
        names = [c.split("=")[0] for c in client.get("/").headers.get_list("set-cookie")]
    assert names == ["tv_spot_tracker"]


def test_bad_extra_service_stops_start_up_naming_it(tmp_path) -> None:
    broken = {**EXTRA_SERVICE, "category": "ads"}
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{tmp_path / 'c.db'}", services=(broken,))
    with pytest.raises(SettingsError, match="leerplein-stats|services"):
        ConsentMiddleware(Starlette(), settings=settings)


@pytest.mark.parametrize(
    "policies",
    [
        ({"paths": ["/cursus/*"]},),
        ({"paths": ["cursus/*"], "deny": ["analytics"]},),
        ({"paths": ["/cursus/*"], "deny": ["tracking"]},),
        ({"paths": ["/cursus/*"], "deny": ["functional"]},),
    ],
)
def test_bad_path_policies_name_the_key(policies) -> None:
    with pytest.raises(SettingsError, match=r"^path_policies\[0\]"):
        Settings(secret_key=SECRET, path_policies=policies)


def test_table_settings_only_in_the_config_file() -> None:
    with pytest.raises(SettingsError, match="^GATEWAY_SERVICES"):
        Settings.load(environ={"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_SERVICES": "x"})


def test_path_policies_from_toml(tmp_path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'secret_key = "{SECRET}"\n[[path_policies]]\npaths = ["/cursus/*", "/toets/*"]\ndeny = ["analytics", "marketing"]\n'  # noqa: E501
    )
    [policy] = Settings.load(config, environ={}).path_policies
    assert policy.applies_to("/toets/3") and not policy.applies_to("/catalogus")
