"""Every endpoint under the prefix, fed hostile input: nothing a visitor sends gives a 5xx.

The routes are read from the running gateway (``components.api``), so an endpoint added later is
fuzzed without anyone listing it here. Each gets methods, query strings, headers and bodies from
hypothesis: JSON of any shape (deeply nested, numbers of thousands of digits), form bodies, Matomo
bulk documents, and raw bytes. The gateway runs with every part switched on (admin, metrics
token, all three analytics backends pointed at a local sink).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from support.backends import CapturingBackend
from support.helpers import site
from support.records import admin_settings

from gateway import CollectSettings, ConsentMiddleware

JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
CHOICE_KEYS = st.sampled_from(["action", "categories", "page", "language", "token", "requests", "id"])
CHOICES = st.dictionaries(CHOICE_KEYS, JSON, max_size=5)
HOSTILE_JSON_BODIES = (
    "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    '{"action": "custom", "categories": [' + "1" * 5000 + "]}",
    '{"action": 1e999999}',
    '{"requests": ["?idsite=7&rec=1"], "x": ' + "9" * 5000 + "}",
    '{"action": NaN}',
    '{"action": "accept_all"',
    "\udcff",
)
HOSTILE_JSON = st.sampled_from(HOSTILE_JSON_BODIES)
QUERY_NAMES = st.sampled_from(
    ["tid", "idsite", "id", "v", "dl", "lang", "from", "to", "revision", "next", "%74id", "x"]
)
QUERY = st.lists(st.tuples(QUERY_NAMES, st.text(max_size=30)), max_size=6).map(
    lambda pairs: "&".join(f"{name}={quote(value, safe='%=&+/')}" for name, value in pairs)
)
FORM = st.dictionaries(
    st.sampled_from(["action", "categories", "csrf", "user", "password", "next"]), st.text(max_size=30)
)
BODIES = st.one_of(
    JSON.map(json.dumps),
    CHOICES.map(json.dumps),
    HOSTILE_JSON,
    FORM.map(lambda form: "&".join(f"{k}={v}" for k, v in form.items())),
    st.binary(max_size=200),
    st.text(max_size=200),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain;charset=UTF-8",
        "multipart/form-data",
        "",
        "application/json; charset=latin-1",
    ]
)
HEADERS = st.fixed_dictionaries(
    {"content-type": CONTENT_TYPES},
    optional={
        "cookie": st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=80),
        "origin": st.sampled_from(["https://leerplein.test", "https://elders.test", "null", "x"]),
        "accept-language": st.sampled_from(["nl", "en", "*", "xx;q=abc", ""]),
        "sec-gpc": st.sampled_from(["1", "0", "x"]),
        "authorization": st.sampled_from(["Bearer x", "Basic !!!", "Bearer " + "a" * 300]),
    },
)


@pytest.fixture(scope="module")
def sink() -> Iterator[CapturingBackend]:
    with CapturingBackend() as backend:
        yield backend


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, sink: CapturingBackend) -> Iterator[tuple[TestClient, list]]:
    collect = CollectSettings(
        ga4_endpoint=sink.url + "/g/collect",
        ga4_measurement_ids=("G-TEST1234",),
        ga4_script_url=sink.url + "/gtag/js",
        ua_endpoint=sink.url + "/collect",
        ua_batch_endpoint=sink.url + "/batch",
        ua_property_ids=("UA-12345-1",),
        matomo_url=sink.url + "/",
        matomo_site_ids=("7",),
    )
    db_path = tmp_path_factory.mktemp("fuzz") / "consent.db"
    config = admin_settings(db_path, collect=collect, metrics_token="t" * 32)
    app = ConsentMiddleware(site(), settings=config)
    with TestClient(app, base_url="https://leerplein.test", raise_server_exceptions=False) as client:
        yield client, endpoints(app)


def endpoints(app: ConsentMiddleware) -> list[tuple[str, tuple[str, ...]]]:
    """Every (path, methods) the gateway answers under its prefix; path parameters filled in."""
    router = app.components.api.app.app  # CrossOrigin(StatusOnHTTPError(ExactPaths(Router)))
    found = []
    for route in router.routes:
        if isinstance(route, Mount):
            found += [(route.path + "/cookie.svg", ("GET",)), (route.path + "/missing.css", ("GET",))]
        elif isinstance(route, Route):
            path = route.path.replace("{", "").replace("}", "")
            found.append((path, tuple(sorted(route.methods or {"GET"}))))
    return found


def test_every_endpoint_is_fuzzed(gateway) -> None:
    _, found = gateway
    paths = {path for path, _ in found}
    assert {"/_consent", "/_consent/preferences", "/_consent/g/collect", "/_consent/matomo.php"} <= paths
    assert any(path.startswith("/_consent/admin") for path in paths)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_no_input_gives_a_server_error(gateway, data) -> None:
    client, found = gateway
    path, methods = data.draw(st.sampled_from(found), label="endpoint")
    method = data.draw(st.sampled_from([*methods, "PUT", "OPTIONS"]), label="method")
    query = data.draw(QUERY, label="query")
    headers = data.draw(HEADERS, label="headers")
    body = data.draw(BODIES, label="body") if method in ("POST", "PUT", "DELETE") else None
    content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    url = f"{path}?{query}" if query else path
    response = client.request(method, url, content=content, headers=headers)
    assert response.status_code < 500, (method, url, headers, body, response.status_code, response.text[:300])


@pytest.mark.parametrize("body", HOSTILE_JSON_BODIES)
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/_consent"), ("DELETE", "/_consent"), ("POST", "/_consent/matomo.php")]
)
def test_hostile_json_is_a_400_with_a_json_reason(gateway, method, path, body) -> None:
    client, _ = gateway
    headers = {"content-type": "application/json", "origin": "https://leerplein.test"}
    response = client.request(method, path, content=body.encode("utf-8", "surrogatepass"), headers=headers)
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:
        assert response.json()["error"]  # a reason the client can read
