"""First-party analytics end to end: a real gateway on loopback, fake GA4, UA and Matomo backends
that keep every forwarded byte, and a visitor who sends hits through a trusted proxy."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import fields
from types import SimpleNamespace
from urllib.parse import quote, urlencode

import httpx
import pytest
from support.backends import CapturingBackend
from support.helpers import SECRET, ThreadedServer, site

from gateway import CollectSettings, ConsentMiddleware, Settings
from gateway.consent.state import Consent, TokenCodec

VISITOR_IP = "203.0.113.77"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.126 Safari/537.36"
)
GA4_ID = "G-TEST1234"
UA_ID = "UA-12345-1"
MATOMO_SITE = "7"
EMAIL = "jan.jansen@example.nl"


@pytest.fixture
def backends() -> Iterator[SimpleNamespace]:
    with CapturingBackend() as ga4, CapturingBackend() as ua, CapturingBackend() as matomo:
        yield SimpleNamespace(ga4=ga4, ua=ua, matomo=matomo)


ANALYTICS_FIELDS = {f.name for f in fields(CollectSettings)}


def collect_settings(db_path, backends, **overrides) -> Settings:
    """Every backend pointed at its fake; ``overrides`` name fields of ``Settings`` or of ``settings.collect``."""
    analytics = dict(
        ga4_endpoint=backends.ga4.url + "/g/collect",
        ga4_measurement_ids=(GA4_ID,),
        ga4_script_url=backends.ga4.url + "/gtag/js",
        ua_endpoint=backends.ua.url + "/collect",
        ua_batch_endpoint=backends.ua.url + "/batch",
        ua_property_ids=(UA_ID,),
        matomo_url=backends.matomo.url + "/",
        matomo_site_ids=(MATOMO_SITE,),
    )
    analytics.update({name: overrides.pop(name) for name in list(overrides) if name in ANALYTICS_FIELDS})
    values = dict(secret_key=SECRET, database_url=f"sqlite:///{db_path}", trusted_proxies=("127.0.0.1/32",))
    values.update(overrides)
    return Settings(**values, collect=CollectSettings(**analytics))


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = ConsentMiddleware(site(), settings=settings)
        self.server = ThreadedServer(self.app)
        self.codec = TokenCodec(settings.secret_key, settings.cookie_max_age)

    def cookie(self, *categories: str) -> str:
        consent = Consent(str(uuid.uuid4()), frozenset({"functional", *categories}), 1, time.time(), "custom")
        return f"{self.settings.cookie_name}={self.codec.dumps(consent)}"

    def client(self, *categories: str, forwarded_for: str | None = VISITOR_IP, user_agent: str = CHROME):
        headers = {"User-Agent": user_agent}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        if categories:
            headers["Cookie"] = self.cookie(*categories)
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=10)

    def dropped(self, backend: str, reason: str) -> float:
        return self.app.components.metrics.metrics["gateway_collect_dropped_total"].value(
            backend=backend, reason=reason
        )


@pytest.fixture
def make_gateway(db_path, backends):
    started = []

    def make(**overrides) -> Gateway:
        gateway = Gateway(collect_settings(db_path, backends, **overrides))
        gateway.server.__enter__()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.server.stop()


@pytest.fixture
def gateway(make_gateway) -> Gateway:
    return make_gateway()


def ga4_query(**extra: str) -> str:
    params = {
        "v": "2",
        "tid": GA4_ID,
        "cid": "1234567890.1700000000",
        "sid": "1700000000",
        "dl": f"https://leerplein.test/over-ons?email={EMAIL}&token=s3cr3t-t0ken&page=2#access_token=zzz",
        "dr": f"https://mail.example.nl/inbox?u={quote(EMAIL)}",
        "dt": f"Welkom {EMAIL}",
        "uid": "learner-4711",
        "_uip": "198.51.100.99",
        "uafvl": "Chromium;126.0.6478.126",
    }
    params.update(extra)
    return urlencode(params)


def marker(client: httpx.Client, backend: CapturingBackend, count: int) -> None:
    """Send a hit that must arrive, and wait until ``count`` hits did: anything dropped earlier stayed away."""
    response = client.get("/_consent/g/collect", params={"v": "2", "tid": GA4_ID, "en": "marker", "dl": "https://x/"})
    assert response.status_code == 204
    hits = backend.wait_for(count)
    assert len(hits) == count, hits


# ---- with consent: what arrives, and what never does --------------------------------------------


def test_ga4_post_arrives_anonymised_and_scrubbed(gateway: Gateway, backends) -> None:
    body = f"en=page_view&ep.login={EMAIL}\nen=scroll&epn.percent_scrolled=90&up.mail={quote(quote(EMAIL))}"
    with gateway.client("analytics") as client:
        response = client.post(f"/_consent/g/collect?{ga4_query()}", content=body)
    assert response.status_code == 204
    [hit] = backends.ga4.wait_for(1)
    raw = hit.raw
    assert VISITOR_IP.encode() not in raw
    assert b"203.0.113.77" not in raw and b"203%2E0%2E113%2E77" not in raw
    query = dict(hit.query)
    assert query["_uip"] == "203.0.113.0"
    assert [v for k, v in hit.query if k == "_uip"] == ["203.0.113.0"]  # the visitor's own _uip is gone
    for secret in (b"jan.jansen", b"jan%2Ejansen", b"s3cr3t-t0ken", b"access_token", b"learner-4711", b"198.51.100.99"):
        assert secret not in raw, secret
    assert "uid" not in query and "uafvl" not in query
    assert query["dl"] == "https://leerplein.test/over-ons?page=2"
    assert query["dr"] == "https://mail.example.nl/inbox?u=%5Bemail%5D"
    assert query["dt"] == "Welkom [email]"
    assert query["tid"] == GA4_ID and query["cid"] == "1234567890.1700000000"
    assert [dict(line)["en"] for line in hit.body_lines()] == ["page_view", "scroll"]
    assert dict(hit.body_lines()[0])["ep.login"] == "[email]"
    assert hit.method == "POST" and hit.path == "/g/collect"
    assert hit.header("user-agent") == "Mozilla/5.0 (Windows) Chrome/126.0"
    assert b"6478" not in raw and b"Win64" not in raw
    for header in ("cookie", "x-forwarded-for", "forwarded", "referer", "accept-language"):
        assert hit.header(header) is None, header
    forwarded = gateway.app.components.metrics.metrics["gateway_collect_forwarded_total"]
    deadline = time.monotonic() + 5  # counted once the backend's answer is read, just after it captured the hit
    while forwarded.value(backend="ga4") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert forwarded.value(backend="ga4") == 1


def test_ga4_get_and_configured_strip_list(make_gateway, backends) -> None:
    gateway = make_gateway(strip_parameters=("leerling",))
    with gateway.client("analytics") as client:
        dl = "https://leerplein.test/?leerling=Piet&token=kept-now"
        assert client.get(f"/_consent/g/collect?{ga4_query(dl=dl, en='page_view')}").status_code == 204
    [hit] = backends.ga4.wait_for(1)
    assert hit.method == "GET"
    assert dict(hit.query)["dl"] == "https://leerplein.test/?token=kept-now"
    assert b"Piet" not in hit.raw


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("2001:db8:abcd:12:3456:789a:bcde:f012", "2001:db8:abcd::"),
        ("::ffff:203.0.113.77", "203.0.113.0"),
        ("198.51.100.7, 10.0.0.3", "198.51.100.0"),  # 10.0.0.3 is a trusted inner proxy: walk on to the visitor
    ],
)
def test_ipv6_is_cut_to_48_and_ipv4_mapped_counts_as_ipv4(make_gateway, backends, forwarded, expected) -> None:
    gateway = make_gateway(trusted_proxies=("127.0.0.1/32", "10.0.0.0/8"))
    with gateway.client("analytics", forwarded_for=forwarded) as client:
        assert client.get(f"/_consent/g/collect?{ga4_query()}").status_code == 204
    [hit] = backends.ga4.wait_for(1)
    assert dict(hit.query)["_uip"] == expected
    assert b"bcde" not in hit.raw and b"f012" not in hit.raw and b".77" not in hit.raw and b"100.7&" not in hit.raw


def test_private_and_loopback_addresses_are_never_passed_on(make_gateway, backends) -> None:
    gateway = make_gateway()
    for address in ("192.168.1.20", "10.1.2.3", "::1", "fe80::1"):
        with gateway.client("analytics", forwarded_for=address) as client:
            assert client.get(f"/_consent/g/collect?{ga4_query()}").status_code == 204
    hits = backends.ga4.wait_for(4)
    assert len(hits) == 4
    assert all("_uip" not in dict(hit.query) for hit in hits)
    assert b"192.168" not in backends.ga4.all_bytes() and b"10.1.2" not in backends.ga4.all_bytes()


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(make_gateway, backends) -> None:
    gateway = make_gateway(trusted_proxies=())
    with gateway.client("analytics", forwarded_for="203.0.113.77") as client:
        client.headers["Forwarded"] = "for=198.51.100.1"
        assert client.get(f"/_consent/g/collect?{ga4_query()}").status_code == 204
    [hit] = backends.ga4.wait_for(1)
    # The peer is loopback (not passed on); the claimed addresses are not believed.
    assert "_uip" not in dict(hit.query)
    assert b"203.0.113" not in hit.raw and b"198.51.100.1" not in hit.raw


# ---- consent, per-path policy and bots -----------------------------------------------------------


@pytest.mark.parametrize("categories", [(), ("marketing",)])
def test_without_analytics_consent_nothing_arrives(gateway: Gateway, backends, categories) -> None:
    with gateway.client(*categories) as client:
        assert client.post(f"/_consent/g/collect?{ga4_query()}", content="en=page_view").status_code == 204
        assert client.get("/_consent/collect", params={"v": "1", "tid": UA_ID, "t": "pageview"}).status_code == 204
        matomo = client.get("/_consent/matomo.php", params={"idsite": MATOMO_SITE, "rec": "1"})
        assert matomo.status_code == 204
    with gateway.client("analytics") as client:
        marker(client, backends.ga4, 1)
    assert backends.ua.hits() == [] and backends.matomo.hits() == []
    assert dict(backends.ga4.hits()[0].query)["en"] == "marker"
    assert gateway.dropped("ga4", "no_consent") == 1
    assert gateway.dropped("ua", "no_consent") == 1 and gateway.dropped("matomo", "no_consent") == 1


def test_a_tampered_cookie_is_no_consent(gateway: Gateway, backends) -> None:
    with gateway.client() as client:
        client.headers["Cookie"] = gateway.cookie("analytics")[:-3] + "abc"
        assert client.get(f"/_consent/g/collect?{ga4_query()}").status_code == 204
    with gateway.client("analytics") as client:
        marker(client, backends.ga4, 1)


def test_per_path_policy_applies_to_the_page_in_the_hit(make_gateway, backends) -> None:
    gateway = make_gateway(path_policies=({"paths": ["/cursus/*"], "deny": ["analytics"]},))
    lesson = "https://leerplein.test/cursus/les-1"
    with gateway.client("analytics") as client:
        assert client.get(f"/_consent/g/collect?{ga4_query(dl=lesson)}").status_code == 204
        # A batch from two pages: only the event of the page outside the policy goes on.
        body = f"en=a&dl={quote(lesson)}\nen=b&dl={quote('https://leerplein.test/over-ons')}"
        query = urlencode({"v": "2", "tid": GA4_ID})
        assert client.post(f"/_consent/g/collect?{query}", content=body).status_code == 204
        marker(client, backends.ga4, 2)
    batch = backends.ga4.hits()[0] if backends.ga4.hits()[0].method == "POST" else backends.ga4.hits()[1]
    assert [dict(line)["en"] for line in batch.body_lines()] == ["b"]
    assert b"les-1" not in backends.ga4.all_bytes()
    assert gateway.dropped("ga4", "no_consent") == 1


@pytest.mark.parametrize(
    "user_agent",
    [
        "curl/8.5.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
        "",
    ],
)
def test_bots_are_dropped(gateway: Gateway, backends, user_agent) -> None:
    with gateway.client("analytics", user_agent=user_agent) as client:
        assert client.get(f"/_consent/g/collect?{ga4_query()}").status_code == 204
    with gateway.client("analytics") as client:
        marker(client, backends.ga4, 1)
    assert gateway.dropped("ga4", "bot") == 1


# ---- no open relay ---------------------------------------------------------------------------------


def test_unknown_measurement_ids_are_refused(make_gateway, backends) -> None:
    gateway = make_gateway()
    with gateway.client("analytics") as client:
        refused = client.get(f"/_consent/g/collect?{ga4_query(tid='G-OTHER999')}")
        assert refused.status_code == 403 and refused.json()["error"] == "unknown_id"
        missing = client.post("/_consent/g/collect?v=2", content="en=page_view")
        assert missing.status_code == 400 and missing.json()["error"] == "missing_id"
        ua = client.get("/_consent/collect", params={"v": "1", "tid": "UA-99999-9", "t": "pageview"})
        assert ua.status_code == 403 and ua.json()["error"] == "unknown_id"
        # One foreign hit in a batch refuses the whole batch.
        batch = f"v=1&tid={UA_ID}&t=pageview\nv=1&tid=UA-99999-9&t=pageview"
        assert client.post("/_consent/batch", content=batch).status_code == 403
        bulk = {"requests": [f"?idsite={MATOMO_SITE}&rec=1", "?idsite=8&rec=1"]}
        assert client.post("/_consent/matomo.php", json=bulk).status_code == 403
        script = client.get("/_consent/gtag/js", params={"id": "G-OTHER999"})
        assert script.status_code == 403 and script.json()["error"] == "unknown_id"
        marker(client, backends.ga4, 1)
    assert backends.ua.hits() == [] and backends.matomo.hits() == []
    assert all(c.path != "/gtag/js" for c in backends.ga4.captured)


@pytest.mark.parametrize(
    ("path", "query", "body"),
    [
        ("/_consent/g/collect", f"v=2&tid=G-FOREIGN1&tid={GA4_ID}&en=page_view", None),
        ("/_consent/g/collect", f"v=2&%74id=G-FOREIGN1&tid={GA4_ID}&en=page_view", None),
        ("/_consent/g/collect", f"v=2&TID=G-FOREIGN1&tid={GA4_ID}&en=page_view", None),
        ("/_consent/g/collect", f"v=2&TID={GA4_ID}&en=page_view", None),
        ("/_consent/g/collect", f"v=2&tid={GA4_ID}", "en=page_view&tid=G-FOREIGN1"),  # query and body line
        ("/_consent/collect", f"v=1&t=pageview&tid=UA-99999-9&tid={UA_ID}", None),
        ("/_consent/collect", "v=1&t=pageview&tid=UA-99999-9", f"tid={UA_ID}"),  # query and form body
        ("/_consent/batch", "", f"v=1&t=pageview&tid=UA-99999-9&tid={UA_ID}"),
        ("/_consent/matomo.php", f"idsite=99&idsite={MATOMO_SITE}&rec=1", None),
        ("/_consent/matomo.php", "", json.dumps({"requests": [f"?idsite=99&idsite={MATOMO_SITE}&rec=1"]})),
        ("/_consent/matomo.php", "", json.dumps({"requests": [f"?%69dsite=99&idsite={MATOMO_SITE}&rec=1"]})),
    ],
)
def test_an_id_given_twice_or_respelt_is_refused(gateway: Gateway, backends, path, query, body) -> None:
    """The check and the backend could read different values: refused whole, nothing relayed."""
    with gateway.client("analytics") as client:
        url = f"{path}?{query}" if query else path
        response = client.get(url) if body is None else client.post(url, content=body)
        assert response.status_code == 403 and response.json()["error"] == "ambiguous_id", response.text
        script = client.get(f"/_consent/gtag/js?id=G-FOREIGN1&id={GA4_ID}")
        assert script.status_code == 403 and script.json()["error"] == "ambiguous_id"
        marker(client, backends.ga4, 1)
    assert backends.ua.hits() == [] and backends.matomo.hits() == []
    assert b"FOREIGN" not in backends.ga4.all_bytes() and b"idsite=99" not in backends.matomo.all_bytes()


def test_a_page_given_twice_is_forwarded_as_the_one_checked(make_gateway, backends) -> None:
    """``dl`` twice: the path policy reads the last, and only the last goes on."""
    gateway = make_gateway(path_policies=({"paths": ["/cursus/*"], "deny": ["analytics"]},))
    lesson, other = "https://leerplein.test/cursus/les-1", "https://leerplein.test/over-ons"
    with gateway.client("analytics") as client:
        denied = urlencode([("v", "2"), ("tid", GA4_ID), ("dl", other), ("dl", lesson), ("en", "a")])
        allowed = urlencode([("v", "2"), ("tid", GA4_ID), ("dl", lesson), ("en", "b")]) + f"&%64l={quote(other)}"
        assert client.get(f"/_consent/g/collect?{denied}").status_code == 204
        assert client.get(f"/_consent/g/collect?{allowed}").status_code == 204
        marker(client, backends.ga4, 2)
    (hit,) = [h for h in backends.ga4.hits() if ("en", "b") in h.query]
    assert b"les-1" not in backends.ga4.all_bytes()
    assert [value for name, value in hit.query if name == "dl"] == [other]


def test_a_backend_that_is_not_configured_refuses_hits(db_path, backends) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}")
    with ThreadedServer(ConsentMiddleware(site(), settings=settings)) as server:
        for path in ("/_consent/g/collect", "/_consent/collect", "/_consent/batch", "/_consent/matomo.php"):
            response = httpx.get(server.url + path, params={"tid": GA4_ID, "idsite": "1"})
            assert response.status_code == 403 and response.json()["error"] == "not_configured", path
        assert httpx.get(server.url + "/_consent/gtag/js", params={"id": GA4_ID}).status_code == 404


# ---- Universal Analytics and Matomo ----------------------------------------------------------------


def test_universal_analytics_collect_and_batch(gateway: Gateway, backends) -> None:
    hit = {
        "v": "1",
        "tid": UA_ID,
        "cid": "555",
        "t": "pageview",
        "uip": "1.2.3.4",
        "ua": "Custom/1",
        "dl": f"https://leerplein.test/?mail={EMAIL}",
        "cd1": EMAIL,
        "uid": "u-1",
    }
    with gateway.client("analytics") as client:
        assert client.get("/_consent/collect", params=hit).status_code == 204
        assert client.post("/_consent/collect", content=urlencode(hit)).status_code == 204
        batch = "\n".join(urlencode({**hit, "t": t}) for t in ("pageview", "event"))
        assert client.post("/_consent/batch", content=batch).status_code == 204
    hits = backends.ua.wait_for(3)
    assert len(hits) == 3
    assert sorted(h.path for h in hits) == ["/batch", "/collect", "/collect"]
    raw = backends.ua.all_bytes()
    for secret in (b"203.0.113.77", b"1.2.3.4", b"jan.jansen", b"Custom/1", b"u-1", b"6478"):
        assert secret not in raw, secret
    for h in hits:
        lines = h.body_lines() if h.method == "POST" else [h.query]
        for line in lines:
            params = dict(line)
            assert params["uip"] == "203.0.113.0" and params["aip"] == "1"
            assert params["ua"] == "Mozilla/5.0 (Windows) Chrome/126.0"
            assert params["cd1"] == "[email]" and params["dl"] == "https://leerplein.test/"
    assert len(next(h for h in hits if h.path == "/batch").body_lines()) == 2


def test_matomo_get_form_and_bulk(gateway: Gateway, backends) -> None:
    hit = {
        "idsite": MATOMO_SITE,
        "rec": "1",
        "url": f"https://leerplein.test/zoek?q=excel&email={EMAIL}",
        "urlref": "https://example.org/?sesskey=abc123",
        "action_name": f"Profiel {EMAIL}",
        "uid": "learner-9",
        "_cvar": json.dumps({"1": ["mail", EMAIL]}),
        "cip": "1.2.3.4",
        "token_auth": "guess",
        "_id": "0123456789abcdef",
    }
    with gateway.client("analytics") as client:
        assert client.get("/_consent/matomo.php", params=hit).status_code == 204
        form = client.post(
            "/_consent/matomo.php",
            content=urlencode(hit),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 204
        bulk = {"requests": ["?" + urlencode(hit), "?" + urlencode({**hit, "action_name": "Home"})]}
        assert client.post("/_consent/matomo.php", json=bulk).status_code == 204
    hits = backends.matomo.wait_for(3)
    assert len(hits) == 3
    raw = backends.matomo.all_bytes()
    for secret in (b"203.0.113", b"1.2.3.4", b"jan.jansen", b"abc123", b"learner-9", b"guess", b"token_auth", b"cip="):
        assert secret not in raw, secret
    get = next(h for h in hits if h.method == "GET")
    params = dict(get.query)
    assert get.path == "/matomo.php"
    assert params["url"] == "https://leerplein.test/zoek?q=excel"
    assert params["action_name"] == "Profiel [email]"
    assert json.loads(params["_cvar"]) == {"1": ["mail", "[email]"]}
    assert params["ua"] == "Mozilla/5.0 (Windows) Chrome/126.0" and params["_id"] == "0123456789abcdef"
    bulk_hit = next(h for h in hits if h.header("content-type") == "application/json")
    assert len(json.loads(bulk_hit.body)["requests"]) == 2


def test_matomo_gets_the_anonymised_address_only_with_a_token(make_gateway, backends) -> None:
    gateway = make_gateway(matomo_token_auth="operator-token-0123456789", user_id=True)
    hit = {"idsite": MATOMO_SITE, "rec": "1", "uid": "learner-9"}
    with gateway.client("analytics") as client:
        assert client.get("/_consent/matomo.php", params=hit).status_code == 204
        assert client.post("/_consent/matomo.php", json={"requests": ["?" + urlencode(hit)]}).status_code == 204
    hits = backends.matomo.wait_for(2)
    # The GET hit goes on as a form POST: the token stays out of URLs.
    form = next(h for h in hits if h.header("content-type") == "application/x-www-form-urlencoded")
    assert form.method == "POST" and form.query == [] and "token_auth" not in form.target
    params = dict(form.body_lines()[0])
    assert params["cip"] == "203.0.113.0" and params["token_auth"] == "operator-token-0123456789"
    assert params["uid"] == "learner-9"  # enabled by collect_user_id
    bulk = json.loads(next(h for h in hits if h.header("content-type") == "application/json").body)
    assert bulk["token_auth"] == "operator-token-0123456789"
    assert "cip=203.0.113.0" in bulk["requests"][0]
    assert b"203.0.113.77" not in backends.matomo.all_bytes()


# ---- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_consent/g/collect?v=2&tid=" + GA4_ID, b"\x00\x01\x02\xff\xfe binary", 400),
        ("/_consent/g/collect?v=2&tid=" + GA4_ID, "en=page_view".encode("utf-16"), 400),
        ("/_consent/g/collect?v=2&tid=" + GA4_ID, b"\xc3\x28 not utf-8", 400),
        ("/_consent/g/collect?v=2&tid=" + GA4_ID, b"en=a&&&novalue", 400),
        ("/_consent/g/collect?v=2&tid=" + GA4_ID, b"en=x\n" * 26, 413),
        ("/_consent/g/collect?v=2&tid=" + GA4_ID, b"en=" + b"x" * 70_000, 413),
        ("/_consent/batch", b"", 400),
        ("/_consent/collect", b"v=1\nv=1", 400),
        ("/_consent/matomo.php", b'{"requests": "nope"}', 400),
        ("/_consent/matomo.php", b'{"requests": [', 400),
        ("/_consent/matomo.php", b"[" * 5000 + b"]" * 5000, 400),
        ("/_consent/matomo.php", b"{" + b'"a":[' * 3000, 400),
    ],
)
def test_malformed_oversized_and_binary_bodies_are_refused(gateway: Gateway, backends, path, body, status) -> None:
    with gateway.client("analytics") as client:
        response = client.post(path, content=body)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json" and response.json()["error"]
        assert client.get("/_consent/healthz").status_code == 200
        marker(client, backends.ga4, 1)  # still forwarding


def test_declared_length_over_the_limit_is_refused_before_reading(make_gateway) -> None:
    gateway = make_gateway(max_body=1024)
    with gateway.client("analytics") as client:
        response = client.post("/_consent/g/collect?v=2&tid=" + GA4_ID, content=b"en=page_view&x=" + b"y" * 2000)
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"


# ---- first-party scripts and pages -------------------------------------------------------------------


def test_gtag_js_is_served_first_party_from_the_cache(gateway: Gateway, backends) -> None:
    with gateway.client() as client:
        first = client.get("/_consent/gtag/js", params={"id": GA4_ID})
        second = client.get("/_consent/gtag/js", params={"id": GA4_ID})
    assert first.status_code == second.status_code == 200
    assert first.content == backends.ga4.script
    assert "javascript" in first.headers["content-type"]
    fetches = [c for c in backends.ga4.captured if c.path == "/gtag/js"]
    assert len(fetches) == 1 and dict(fetches[0].query) == {"id": GA4_ID}
    assert b"203.0.113" not in fetches[0].raw and fetches[0].header("cookie") is None


def test_matomo_js_is_served_first_party(gateway: Gateway, backends) -> None:
    with gateway.client() as client:
        response = client.get("/_consent/matomo.js")
    assert response.status_code == 200 and response.content == backends.matomo.script
    assert [c.path for c in backends.matomo.captured] == ["/matomo.js"]


PAGE = """<!doctype html><html><head><title>Les</title>
<script async src="https://www.googletagmanager.com/gtag/js?id={ga4}"></script>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-NOTOURS1"></script>
<script src="{matomo}/matomo.js"></script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments);}}
gtag('js', new Date());gtag('config', '{ga4}');</script>
</head><body><p>Les</p></body></html>"""


def test_pages_point_catalogued_scripts_and_the_transport_at_the_gateway(db_path, backends) -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def page(request):
        return HTMLResponse(PAGE.format(ga4=GA4_ID, matomo=backends.matomo.url))

    settings = collect_settings(db_path, backends)
    app = ConsentMiddleware(Starlette(routes=[Route("/", page)]), settings=settings)
    with ThreadedServer(app) as server:
        html = httpx.get(server.url + "/").text
        consented = httpx.get(server.url + "/", headers={"Cookie": Gateway(settings).cookie("analytics")}).text
    head = html.split("</head>")[0]
    assert (
        'gtag(\'set\',{transport_url:location.origin+"/_consent",server_container_url:location.origin+"/_consent"})'
        in head
    )
    assert head.index("transport_url") < head.index("banner.js")
    # Ours: first-party, and still held until consent. Not ours: left pointing at Google, held as well.
    assert f'src="/_consent/gtag/js?id={GA4_ID}"' in html
    assert 'src="https://www.googletagmanager.com/gtag/js?id=G-NOTOURS1"' in html
    assert 'src="/_consent/matomo.js"' in html
    assert html.count('type="text/plain"') >= 4
    assert f'src="/_consent/gtag/js?id={GA4_ID}"' in consented and 'type="text/plain"' not in consented


def test_counters_are_registered_in_the_metrics_registry(gateway: Gateway) -> None:
    rendered = gateway.app.components.metrics.render()
    for name in (
        "gateway_collect_forwarded_total",
        "gateway_collect_dropped_total",
        "gateway_collect_failed_total",
        "gateway_collect_queue_length",
    ):
        assert f"# TYPE {name}" in rendered


# ---- lifespan -----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_hits_are_forwarded_when_the_server_sends_no_lifespan(db_path, backends) -> None:
    gateway = Gateway(collect_settings(db_path, backends))
    transport = httpx.ASGITransport(app=gateway.app, client=("127.0.0.1", 50000))
    headers = {"User-Agent": CHROME, "X-Forwarded-For": VISITOR_IP, "Cookie": gateway.cookie("analytics")}
    async with httpx.AsyncClient(transport=transport, base_url="http://leerplein.test", headers=headers) as client:
        assert (await client.get(f"/_consent/g/collect?{ga4_query()}")).status_code == 204
        for _ in range(500):
            if backends.ga4.hits():
                break
            await asyncio.sleep(0.01)
    assert dict(backends.ga4.hits()[0].query)["_uip"] == "203.0.113.0"
    await gateway.app.components.collector.stop()


@pytest.mark.slow  # waits out real timeouts
def test_server_shutdown_drains_queued_hits(make_gateway, backends) -> None:
    backends.ga4.delay = 0.2  # 20 hits take 4 s: most are still queued when the server stops
    gateway = make_gateway(concurrency=1, drain_timeout=10)
    with gateway.client("analytics") as client:
        for n in range(20):
            assert client.get(f"/_consent/g/collect?{ga4_query(en=f'e{n}')}").status_code == 204
    assert len(backends.ga4.hits()) < 20  # still queued when the server is told to stop
    gateway.server.stop()
    assert sorted(dict(h.query)["en"] for h in backends.ga4.hits()) == sorted(f"e{n}" for n in range(20))


def test_a_head_request_is_no_hit(gateway: Gateway, backends) -> None:
    with gateway.client("analytics") as client:
        assert client.head(f"/_consent/g/collect?{ga4_query()}").status_code == 204
        marker(client, backends.ga4, 1)


def test_every_endpoint_answers_fuzzed_requests_with_204_or_a_json_error(db_path, backends) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from starlette.testclient import TestClient

    gateway = Gateway(collect_settings(db_path, backends, max_body=4096))
    paths = ["/_consent/g/collect", "/_consent/collect", "/_consent/batch", "/_consent/matomo.php"]
    valid = st.sampled_from(
        [f"v=2&tid={GA4_ID}&en=x", f"v=1&tid={UA_ID}&t=pageview", f"idsite={MATOMO_SITE}&rec=1", ""]
    )
    queries = valid | st.text(max_size=60).map(lambda text: quote(text, safe="=&%+"))
    bodies = st.binary(max_size=600) | valid.map(str.encode) | st.text(max_size=300).map(str.encode)

    with TestClient(gateway.app, base_url="http://leerplein.test") as client:
        cookie = gateway.cookie("analytics")

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(path=st.sampled_from(paths), query=queries, body=bodies, method=st.sampled_from(["GET", "POST"]))
        def hit(path: str, query: str, body: bytes, method: str) -> None:
            headers = {"User-Agent": CHROME, "Cookie": cookie}
            response = client.request(method, f"{path}?{query}", content=body if method == "POST" else None,
                                      headers=headers)  # fmt: skip
            assert response.status_code in (204, 400, 403, 413), (response.status_code, response.text)
            if response.status_code != 204:
                assert response.headers["content-type"] == "application/json" and response.json()["error"]

        hit()
        assert client.get("/_consent/healthz").status_code == 200
