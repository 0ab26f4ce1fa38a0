"""Reading and scrubbing hits, fuzzed: whatever arrives is a hit or a clear refusal, and personal data goes."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.collect.hits import Form, HitError, encode_body, parse_lines, parse_matomo, parse_single
from gateway.collect.protocol import Protocol
from gateway.collect.scrub import Scrubber, redact_emails
from gateway.collect.visitor import is_public, reduced_user_agent
from gateway.net.addresses import parse_address
from gateway.settings import COLLECT_STRIP_PARAMETERS

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARSERS = [
    lambda q, b: parse_lines(q, b, 25),
    lambda q, b: parse_lines(q, b, 20, batch=True),
    parse_single,
    lambda q, b: parse_matomo(q, b, 100),
]
hit_like = st.lists(st.tuples(st.text(min_size=1, max_size=12), st.text(max_size=40)), max_size=8).map(
    lambda pairs: urlencode(pairs).encode()
)


@FUZZ
@given(query=st.binary(max_size=300) | hit_like, body=st.binary(max_size=600) | hit_like, which=st.integers(0, 3))
def test_parsers_answer_a_submission_or_a_hit_error(query: bytes, body: bytes, which: int) -> None:
    try:
        submission = PARSERS[which](query, body)
    except HitError as error:
        assert error.status in (400, 413)
        assert json.loads(error.body())["error"] == error.code
        return
    assert submission.hits()
    for hit in submission.hits():
        assert all(isinstance(name, str) and name and isinstance(value, str) for name, value in hit)
    if submission.form is not Form.QUERY:
        encode_body(submission)


@FUZZ
@given(requests=st.lists(st.text(max_size=60) | hit_like.map(lambda b: "?" + b.decode()), max_size=5))
def test_matomo_bulk_bodies_are_read_or_refused(requests: list[str]) -> None:
    body = json.dumps({"requests": requests}).encode()
    try:
        submission = parse_matomo(b"", body, 100)
    except HitError as error:
        assert error.status == 400
        return
    assert submission.form is Form.BULK and len(submission.events) == len(requests)


def test_the_bulk_limit_is_413() -> None:
    with pytest.raises(HitError) as refused:
        parse_matomo(b"", json.dumps({"requests": ["?idsite=1"] * 101}).encode(), 100)
    assert refused.value.status == 413


local_part = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True)
domain = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,8}){0,2}\.[a-z]{2,6}", fullmatch=True)
around = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="@"), max_size=20)


@FUZZ
@given(local=local_part, host=domain, before=around, after=around, rounds=st.integers(0, 2))
def test_email_addresses_are_redacted_however_often_encoded(local, host, before, after, rounds) -> None:
    text = before + " " + f"{local}@{host}" + " " + after
    for _ in range(rounds):
        text = quote(text, safe="")
    redacted = redact_emails(text)
    assert f"{local}@{host}" not in redacted
    assert quote(f"{local}@{host}", safe="") not in redacted


ga4 = Protocol.from_catalogue("ga4")
matomo = Protocol.from_catalogue("matomo")


@FUZZ
@given(
    name=st.sampled_from(COLLECT_STRIP_PARAMETERS),
    secret=st.from_regex(r"S3[A-Z0-9]{10,18}", fullmatch=True),
    path=st.from_regex(r"/[a-z/-]{0,20}", fullmatch=True),
    kept=st.from_regex(r"[a-z]{1,6}", fullmatch=True),
    key=st.sampled_from(["dl", "dr", "ep.page_location"]),
)
def test_listed_query_parameters_are_removed_from_page_urls(name, secret, path, kept, key) -> None:
    scrubber = Scrubber(ga4, COLLECT_STRIP_PARAMETERS, keep_user_id=False)
    url = f"https://leerplein.test{path}?{quote(name.upper())}={secret}&q={kept}#frag-{secret}"
    [(_, scrubbed)] = scrubber.scrub([(key, url)])
    assert secret not in scrubbed and "frag" not in scrubbed
    assert scrubbed == f"https://leerplein.test{path}?q={kept}"


@FUZZ
@given(params=st.lists(st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=80)), max_size=10))
def test_scrubbing_never_fails(params) -> None:
    for protocol in (ga4, matomo):
        scrubbed = Scrubber(protocol, COLLECT_STRIP_PARAMETERS, keep_user_id=False).scrub(params)
        assert all(name not in protocol.dropped_parameters for name, _ in scrubbed)
        assert all(name not in protocol.user_id_parameters for name, _ in scrubbed)


def test_credentials_and_fragments_leave_urls() -> None:
    scrubber = Scrubber(ga4, COLLECT_STRIP_PARAMETERS, keep_user_id=False)
    [(_, url)] = scrubber.scrub([("dl", "https://jan:geheim@leerplein.test:8443/a/jan@example.nl/b?x=1#t")])
    assert url == "https://leerplein.test:8443/a/[email]/b?x=1"


@pytest.mark.parametrize(
    ("agent", "reduced"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Mozilla/5.0 (Linux) Firefox/128.0"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.4 Safari/605.1.15",
            "Mozilla/5.0 (Mac OS X) Safari/17.0",
        ),
    ],
)
def test_user_agents_are_reduced_to_family_major_version_and_os(agent: str, reduced: str) -> None:
    assert reduced_user_agent(agent) == reduced


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("203.0.113.77", True),
        ("2001:db8::1", True),
        ("10.0.0.1", False),
        ("172.20.1.1", False),
        ("192.168.0.1", False),
        ("127.0.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("169.254.1.1", False),
        ("100.64.0.1", False),
    ],
)
def test_only_public_addresses_count(address: str, public: bool) -> None:
    parsed = parse_address(address)
    assert parsed is not None and is_public(parsed) is public
