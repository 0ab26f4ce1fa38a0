"""The README against the code: the test set-up CI runs, the endpoint table, the configuration table."""

from __future__ import annotations

import re
import tomllib

import pytest
from starlette.routing import Mount, Route, Router
from support import REPOSITORY
from support.helpers import SECRET

from gateway import Settings, SettingsError
from gateway.app import build
from gateway.settings import FIELDS

README = (REPOSITORY / "README.md").read_text(encoding="utf-8")
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def section(title: str) -> str:
    """The README's text under ``## title``, up to the next heading of that level."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def table_rows(text: str) -> list[list[str]]:
    """The cells of every row of the first Markdown table in ``text`` (header and rule left out)."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    rows = []
    for line in lines[2:]:
        cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
        rows.append([cell.strip() for cell in cells])
    return rows


# ---- the test command ----------------------------------------------------------------------


def readme_test_commands() -> list[str]:
    text = section("Run the tests")
    block = text[text.index("```sh\n") + len("```sh\n") : text.index("\n```", text.index("```sh\n"))]
    return [line.strip() for line in block.splitlines() if line.strip()]


def ci_commands() -> list[str]:
    """The commands ``.ci/run`` runs, without its shell plumbing (comments, ``set``, ``cd``, the ``if``)."""
    plumbing = ("#", "set ", "cd ", "if ", "fi")
    lines = (line.strip() for line in (REPOSITORY / ".ci" / "run").read_text().splitlines())
    return [line for line in lines if line and not line.startswith(plumbing)]


def test_ci_runs_exactly_the_readme_test_commands_in_its_order() -> None:
    as_root = [line.replace("sudo ", "") for line in readme_test_commands()]
    assert ci_commands() == as_root


def test_the_readme_lists_the_prerequisites_before_the_test_command() -> None:
    commands = readme_test_commands()
    [apt] = [n for n, line in enumerate(commands) if "apt-get install" in line]
    [npm] = [n for n, line in enumerate(commands) if line == "npm ci"]
    [pytest_line] = [n for n, line in enumerate(commands) if "python -m pytest" in line]
    assert apt < npm < pytest_line
    assert {"chromium", "nginx-light"} <= set(commands[apt].split())
    assert 'pip install -e ".[test]" && python -m pytest' in commands


def test_the_test_extra_brings_what_the_test_command_exercises() -> None:
    """``.[test]`` alone runs every test the README's command collects: the PostgreSQL driver is in it."""
    extras = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras["postgres"]) <= set(extras["test"])
    assert any(requirement.startswith("playwright") for requirement in extras["test"])


# ---- the endpoint table --------------------------------------------------------------------


def pattern(path: str) -> str:
    """A path with everything from its first placeholder on as ``*``: ``/_consent/fonts/<host>/<path>``
    and the route ``/_consent/fonts/{rest:path}`` are both ``/_consent/fonts/*``."""
    path = path.split("?", 1)[0]
    for marker in ("<", "{", "..."):
        if marker in path:
            path = path[: path.index(marker)] + "*"
    return path


def documented_endpoints() -> dict[str, set[str]]:
    """Each path pattern of the endpoint table with its methods ("GET, POST `/a`, POST `/b`"; a path
    without methods of its own takes the ones before it; none at all: any method)."""
    documented: dict[str, set[str]] = {}
    for cells in table_rows(section("HTTP endpoints")):
        methods: set[str] = set()
        after_path = False
        for token in re.findall(r"`[^`]+`|[A-Z]+", cells[0]):
            if token in METHODS:
                if after_path:
                    methods, after_path = set(), False
                methods.add(token)
            elif token.startswith("`"):
                path = pattern(token.strip("`"))
                known = documented.setdefault(path, set())
                assert not known & methods and (methods or not known), f"{path} is in the endpoint table twice"
                known |= methods
                after_path = True
    return documented


def everything_on(tmp_path) -> Settings:
    """Every optional route mounted: admin, fonts, discovery, every analytics backend with its script."""
    return Settings.load(
        environ={},
        secret_key=SECRET,
        database_url=f"sqlite:///{tmp_path / 'c.db'}",
        admin_token="a-token-of-sixteen-chars",
        ga4_measurement_ids=("G-TEST123",),
        ua_property_ids=("UA-1234-1",),
        matomo_url="https://matomo.example.nl/",
        matomo_site_ids=("1",),
    )


def mounted_routes(settings: Settings) -> dict[str, set[str]]:
    router = build(settings).api.app.app.router  # CrossOrigin(StatusOnHTTPError(ExactPaths(Router)))
    assert isinstance(router, Router)
    mounted: dict[str, set[str]] = {}
    for route in router.routes:
        if isinstance(route, Mount):
            mounted.setdefault(pattern(route.path + "/{file}"), set()).add("GET")
        else:
            assert isinstance(route, Route)
            mounted.setdefault(pattern(route.path), set()).update((route.methods or set()) - {"HEAD"})
    return mounted


def covered(path: str, documented: dict[str, set[str]]) -> str | None:
    """The documented pattern ``path`` falls under (exactly, or under a ``*``)."""
    if path in documented:
        return path
    for entry in documented:
        if entry.endswith("*") and (path + "/").startswith(entry[:-1]):
            return entry
    return None


def test_every_mounted_route_is_in_the_endpoint_table_with_its_methods(tmp_path) -> None:
    documented = documented_endpoints()
    for path, methods in mounted_routes(everything_on(tmp_path)).items():
        entry = covered(path, documented)
        assert entry is not None, f"{path} is mounted but not in the README's endpoint table"
        if entry == path and methods and documented[entry]:
            assert methods == documented[entry], (
                f"{path}: the code answers {methods}, the README says {documented[entry]}"
            )


def test_everything_in_the_endpoint_table_is_mounted(tmp_path) -> None:
    mounted = mounted_routes(everything_on(tmp_path))
    for entry in documented_endpoints():
        assert any(covered(path, {entry: set()}) for path in mounted), f"the README lists {entry}; nothing answers it"


def test_the_current_consent_fields_are_documented(client) -> None:
    """GET ``/_consent`` answers the fields its table row names, ``given_at`` among them."""
    [row] = [cells for cells in table_rows(section("HTTP endpoints")) if cells[0] == "GET `/_consent`"]
    named = set(re.findall(r"`(\w+)`", row[1]))
    assert named == set(client.get("/_consent").json())


# ---- the configuration table ---------------------------------------------------------------


def documented_settings() -> list[str]:
    keys = []
    for cells in table_rows(section("Configuration")):
        keys += re.findall(r"`(\w+)`", cells[0])
    return keys


def test_every_setting_is_in_the_configuration_table_and_nothing_else() -> None:
    keys = documented_settings()
    assert len(keys) == len(set(keys)), "a setting is in the configuration table twice"
    assert set(keys) == set(FIELDS)


def test_the_test_database_variable_is_outside_the_gateway_prefix() -> None:
    """``serve`` refuses every ``GATEWAY_*`` name that is not a setting: a tester's exported variable must not
    stop it. The conftest and the README name ``CONSENT_TEST_POSTGRES_URL``, which settings pass over."""
    name = "CONSENT_TEST_POSTGRES_URL"
    assert name in (REPOSITORY / "tests" / "conftest.py").read_text() and name in section("Run the tests")
    assert "GATEWAY_TEST" not in README
    settings = Settings.load(environ={name: "postgresql://elsewhere/test", "GATEWAY_SECRET_KEY": SECRET})
    assert settings.database_url.startswith("sqlite:")
    with pytest.raises(SettingsError, match="GATEWAY_TEST_POSTGRES_URL: unknown setting"):
        Settings.load(
            environ={"GATEWAY_TEST_POSTGRES_URL": "postgresql://elsewhere/test", "GATEWAY_SECRET_KEY": SECRET}
        )
