"""``/_consent/metrics`` and ``/_consent/healthz`` through the whole gateway."""

from __future__ import annotations

import asyncio
import math
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from support import CORPUS
from support.helpers import SECRET, ThreadedServer, free_port, site

from gateway import ConsentMiddleware, Settings
from gateway.proxy.app import proxy_app

TRACKED_PAGE = (
    "<!doctype html><html><head><title>Les</title>"
    + (CORPUS / "google-analytics-gtag.html").read_text()
    + "</head><body><p>Hallo</p></body></html>"
)
METRICS_TOKEN = "metrics-token-0123456789"

SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\[\\\"n])*\""
    r"(?:,[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\[\\\"n])*\")*)\})?"
    r" (?P<value>[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\+Inf|-Inf|NaN))$"
)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Check the Prometheus text format line by line; the samples by name and sorted labels."""
    assert text.endswith("\n"), "the exposition ends with a newline"
    types: dict[str, str] = {}
    helped: set[str] = set()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helped, f"line {number}: second HELP for {name}"
            helped.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), f"line {number}: {kind}"
            assert name not in types, f"line {number}: second TYPE for {name}"
            types[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"line {number} is no sample: {line!r}"
            name = match["name"]
            family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
            assert family in types, f"line {number}: {name} has no TYPE line before it"
            labels = tuple(sorted(LABEL.findall(match["labels"] or "")))
            assert (name, labels) not in samples, f"line {number}: duplicate sample"
            samples[(name, labels)] = float(match["value"])
    for name, kind in types.items():
        if kind == "counter":
            assert all(v >= 0 for (n, _), v in samples.items() if n == name)
        if kind == "histogram":
            check_histogram(name, samples)
    return samples


def check_histogram(name: str, samples: dict) -> None:
    series: dict[tuple, list[tuple[float, float]]] = {}
    for (sample, labels), value in samples.items():
        if sample == f"{name}_bucket":
            rest = tuple(pair for pair in labels if pair[0] != "le")
            bound = dict(labels)["le"]
            series.setdefault(rest, []).append((math.inf if bound == "+Inf" else float(bound), value))
    for rest, buckets in series.items():
        buckets.sort()
        counts = [count for _, count in buckets]
        assert counts == sorted(counts), f"{name}{rest}: buckets are not cumulative"
        assert buckets[-1][0] == math.inf and buckets[-1][1] == samples[(f"{name}_count", rest)]
        assert (f"{name}_sum", rest) in samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def tracked_site() -> Starlette:
    async def tracked(request):
        return HTMLResponse(TRACKED_PAGE)

    async def clean(request):
        return HTMLResponse("<!doctype html><html><head><title>Les</title></head><body>Hallo</body></html>")

    return Starlette(routes=[Route("/les", tracked), Route("/schoon", clean)])


@pytest.fixture
def gateway(settings: Settings):
    with TestClient(ConsentMiddleware(tracked_site(), settings=settings), base_url="http://leerplein.test") as client:
        yield client


def metrics(client, **headers) -> dict:
    response = client.get("/_consent/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(response.text)


def test_counts_move_when_a_choice_is_stored_and_a_page_rewritten(gateway: TestClient) -> None:
    before = metrics(gateway)
    assert value(before, "gateway_choices_total", method="custom") == 0
    answer = gateway.post("/_consent", json={"action": "custom", "categories": ["analytics"]}).json()
    gateway.cookies.clear()  # the next page is seen by a visitor without consent
    assert 'type="text/plain"' in gateway.get("/les").text
    gateway.get("/schoon")
    after = metrics(gateway)
    assert value(after, "gateway_choices_total", method="custom") == 1
    assert value(after, "gateway_choice_categories_total", category="analytics", decision="granted") == 1
    assert value(after, "gateway_choice_categories_total", category="marketing", decision="denied") == 1
    assert value(after, "gateway_pages_rewritten_total", outcome="blocked") == 1
    assert value(after, "gateway_pages_rewritten_total", outcome="clean") == 1
    blocked = {
        dict(labels)["service"]: v for (name, labels), v in after.items() if name == "gateway_blocked_elements_total"
    }
    assert sum(blocked.values()) >= 2  # the gtag.js loader and the inline configuration
    assert all(
        dict(labels)["category"] == "analytics" for (name, labels) in after if name == "gateway_blocked_elements_total"
    )
    assert value(after, "gateway_request_duration_seconds_count", kind="page") == 2
    assert value(after, "gateway_request_duration_seconds_count", kind="api") >= 2
    text = gateway.get("/_consent/metrics").text
    assert answer["id"] not in text and "/les" not in text  # aggregates only


def test_a_failed_choice_is_not_counted(tmp_path: Path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{unopenable(tmp_path)}")
    client = TestClient(ConsentMiddleware(site(), settings=settings))  # no lifespan: start-up would stop here
    assert client.post("/_consent", json={"action": "accept_all"}).status_code == 503
    assert value(metrics(client), "gateway_choices_total", method="accept_all") == 0


def test_a_metrics_token_is_required_when_configured(db_path: Path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}", metrics_token=METRICS_TOKEN)
    with TestClient(ConsentMiddleware(site(), settings=settings)) as client:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": METRICS_TOKEN}):
            refused = client.get("/_consent/metrics", headers=headers)
            assert refused.status_code == 401 and refused.json()["error"] == "unauthorised"
            assert refused.headers["www-authenticate"].startswith("Bearer")
        samples = metrics(client, authorization=f"Bearer {METRICS_TOKEN}")
        assert ("gateway_request_duration_seconds_count", (("kind", "api"),)) in samples
        assert client.post("/_consent/metrics").status_code == 405


# ---- upstream errors ------------------------------------------------------------------------


async def slow(request):
    await asyncio.sleep(3)
    return Response("late")


@pytest.mark.slow  # waits out real timeouts
def test_upstream_errors_are_counted_by_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    monkeypatch.setenv("GATEWAY_UPSTREAM_READ_TIMEOUT", "1")
    slow_site = Starlette(routes=[Route("/traag", slow)])
    with ThreadedServer(slow_site) as upstream, ThreadedServer(proxy_app(upstream.url)) as gateway:
        assert httpx.get(gateway.url + "/traag", timeout=10).status_code == 504
        samples = parse_exposition(httpx.get(gateway.url + "/_consent/metrics").text)
        assert value(samples, "gateway_upstream_errors_total", kind="timeout") == 1
        assert value(samples, "gateway_upstream_errors_total", kind="unreachable") == 0
    with ThreadedServer(proxy_app(f"http://127.0.0.1:{free_port()}")) as gateway:
        assert httpx.get(gateway.url + "/", timeout=10).status_code == 502
        assert httpx.get(gateway.url + "/", timeout=10).status_code == 502
        samples = parse_exposition(httpx.get(gateway.url + "/_consent/metrics").text)
        assert value(samples, "gateway_upstream_errors_total", kind="unreachable") == 2


# ---- health ---------------------------------------------------------------------------------


def unopenable(tmp_path: Path) -> Path:
    """A database path whose directory is a plain file: no store can open there, not even as root."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    return blocker / "consent.db"


def corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "consent.db"
    path.write_bytes(b"this is no SQLite database, it was overwritten" * 100)
    return path


@pytest.mark.parametrize("broken", [unopenable, corrupt])
def test_health_is_503_with_json_when_the_store_fails(tmp_path: Path, broken) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{broken(tmp_path)}")
    # No lifespan: the store is opened on first use, as under servers that send none.
    client = TestClient(ConsentMiddleware(site(), settings=settings), base_url="http://leerplein.test")
    health = client.get("/_consent/healthz")
    assert health.status_code == 503
    assert health.headers["content-type"] == "application/json"
    assert health.json()["status"] == "failing" and health.json()["store"]
    choice = client.post("/_consent", json={"action": "reject_all"})
    assert choice.status_code == 503 and choice.json()["error"] == "store_unavailable"
    assert client.get("/").status_code == 200  # pages are still served
    assert client.get("/_consent/healthz").status_code == 503


def test_health_is_200_when_the_store_answers(client: TestClient) -> None:
    health = client.get("/_consent/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_unknown_third_parties_count_under_one_label(settings: Settings) -> None:
    async def page(request):
        hosts = [f"https://cdn{n}.partner-{n}.example/w.js" for n in range(5)]
        scripts = "".join(f'<script src="{url}"></script>' for url in hosts)
        return HTMLResponse(
            f"<!doctype html><html><head>{scripts}</head><body><img src='https://px.example.org/p.gif' width=1 height=1></body></html>"  # noqa: E501
        )

    app = ConsentMiddleware(Starlette(routes=[Route("/", page)]), settings=settings)
    with TestClient(app, base_url="http://leerplein.test") as client:
        assert client.get("/").text.count('data-consent="other"') == 5
        after = metrics(client)
    blocked = {
        dict(labels)["service"]: (dict(labels)["category"], v)
        for (name, labels), v in after.items()
        if name == "gateway_blocked_elements_total"
    }
    assert blocked == {"unknown": ("other", 5), "web-beacon": ("marketing", 1)}
