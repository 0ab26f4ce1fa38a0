"""Which responses need work (``needs_work``), and the relay that sends every other one straight on."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.helpers import SECRET

from gateway import ConsentMiddleware, Settings
from gateway.pages.relay import relay
from gateway.pages.triage import PAGE_TYPES, Kind, Work, needs_work

JSON = (b"content-type", b"application/json")
HTML = (b"content-type", b"text/html; charset=utf-8")
TRACKER_COOKIE = (b"set-cookie", b"_ga=GA1.1.1.1; Path=/; Max-Age=63072000")  # analytics, in the catalogue
SITE_COOKIE = (b"set-cookie", b"MoodleSession=abc; Path=/; HttpOnly")  # unknown to the catalogue: kept
NOTHING_GRANTED = frozenset({"functional"})


def start(status: int = 200, *headers: tuple[bytes, bytes]) -> dict:
    return {"type": "http.response.start", "status": status, "headers": list(headers)}


def body(chunk: bytes, more_body: bool = False) -> dict:
    return {"type": "http.response.body", "body": chunk, "more_body": more_body}


@pytest.mark.parametrize(
    ("message", "revalidating", "expected"),
    [
        (start(200, JSON), False, None),
        (start(200, (b"content-type", b"image/png"), (b"content-length", b"10")), False, None),
        ({"type": "http.response.start", "status": 200}, False, None),  # headers are optional in ASGI
        (start(200, HTML), False, Work(Kind.PAGE, False)),
        (start(404, (b"content-type", b"TEXT/HTML")), False, Work(Kind.PAGE, False)),
        (start(200, (b"content-type", b"application/xhtml+xml")), False, Work(Kind.PAGE, False)),
        (start(200, (b"content-type", b"text/html; charset=utf-16")), False, None),  # not ASCII markup
        (start(200, ("content-type", b"text/html")), False, None),  # ASGI header names are bytes
        (start(200, JSON, SITE_COOKIE), False, Work(Kind.OTHER, True)),
        (start(200, HTML, TRACKER_COOKIE), False, Work(Kind.PAGE, True)),
        (start(304, (b"etag", b'"v1"')), True, Work(Kind.NOT_MODIFIED, False)),
        (start(304, HTML, SITE_COOKIE), True, Work(Kind.NOT_MODIFIED, True)),
        (start(304, (b"etag", b'"v1"')), False, None),  # the site's own validator: not ours to mark
        (start(304, HTML), False, None),  # a 304 has no page to rewrite
        (start(304, SITE_COOKIE), False, Work(Kind.OTHER, True)),
    ],
)
def test_needs_work(message: dict, revalidating: bool, expected: Work | None) -> None:
    assert needs_work(message, revalidating) == expected


def test_the_last_content_type_counts_and_is_remembered() -> None:
    assert needs_work(start(200, JSON, HTML), False) == Work(Kind.PAGE, False)
    assert needs_work(start(200, HTML, JSON), False) is None
    assert PAGE_TYPES[b"text/html; charset=utf-8"] is True and PAGE_TYPES[b"application/json"] is False


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    database = tmp_path_factory.mktemp("relay") / "consent.db"
    return ConsentMiddleware(
        None, settings=Settings(secret_key=SECRET, database_url=f"sqlite:///{database}")
    ).page_rules


def deliver(rules, messages: list[dict], revalidating: bool = False, granted=NOTHING_GRANTED) -> list[dict]:
    """The messages the server receives when the app sends ``messages`` through a relay."""
    received: list[dict] = []

    async def server_send(message: dict) -> None:
        received.append(message)

    async def app() -> None:
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"host", b"leerplein.test")]}
        send = relay(server_send, rules, granted, scope, revalidating)
        for message in messages:
            await send(message)

    asyncio.run(app())
    return received


def test_a_response_that_needs_no_work_reaches_the_server_as_the_very_same_messages(rules) -> None:
    messages = [start(200, JSON, (b"content-length", b"2")), body(b"{", True), body(b"}")]
    headers = list(messages[0]["headers"])
    received = deliver(rules, messages)
    assert len(received) == 3 and all(got is sent for got, sent in zip(received, messages, strict=True))
    assert received[0]["headers"] == headers


def test_messages_before_the_start_go_straight_on(rules) -> None:
    early = {"type": "http.response.debug", "info": {}}
    messages = [early, start(200, HTML), body(b"<html><head></head></html>")]
    received = deliver(rules, messages)
    assert received[0] is early and received[1]["type"] == "http.response.start"


def test_a_page_goes_through_the_responder(rules) -> None:
    page = b"<html><head><title>Les</title></head><body></body></html>"
    start_message, body_message = deliver(rules, [start(200, HTML), body(page)])
    injection = rules.head_injection(None, "leerplein.test")
    assert body_message["body"] == page.replace(b"<head>", b"<head>" + injection)
    assert (b"content-length", b"%d" % len(body_message["body"])) in start_message["headers"]
    assert (b"vary", b"Cookie") in start_message["headers"]


def test_denied_tracker_cookies_are_dropped_and_the_body_passes_untouched(rules) -> None:
    messages = [start(200, JSON, TRACKER_COOKIE, SITE_COOKIE), body(b"{}")]
    received = deliver(rules, messages)
    assert received[0]["headers"] == [JSON, SITE_COOKIE]
    assert received[1] is messages[1]
    granted = deliver(
        rules,
        [start(200, JSON, TRACKER_COOKIE, SITE_COOKIE), body(b"{}")],
        granted=frozenset({"functional", "analytics"}),
    )
    assert granted[0]["headers"] == [JSON, TRACKER_COOKIE, SITE_COOKIE]


def test_a_304_is_marked_only_when_it_confirms_a_page_of_this_consent_state(rules) -> None:
    ours = deliver(rules, [start(304, (b"etag", b'"v1"')), body(b"")], revalidating=True)
    etag = dict(ours[0]["headers"])[b"etag"]
    assert etag != b'"v1"' and etag.startswith(b'W/"v1')  # the site's validator, marked with the consent state
    assert (b"vary", b"Cookie") in ours[0]["headers"]
    messages = [start(304, (b"etag", b'"v1"')), body(b"")]
    theirs = deliver(rules, messages, revalidating=False)
    assert theirs[0] is messages[0] and theirs[0]["headers"] == [(b"etag", b'"v1"')]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"status": 200}, KeyError),
        ({"type": "http.response.start"}, KeyError),
        ({"type": "http.response.start", "status": 200, "headers": [(b"content-type",)]}, ValueError),
        ({"type": "http.response.start", "status": 200, "headers": 5}, TypeError),
    ],
)
def test_malformed_messages_raise(rules, message: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        deliver(rules, [message])


names = st.sampled_from([b"content-type", b"set-cookie", b"content-length", b"content-typ", b"set-cookie2"])
values = st.sampled_from(
    [b"application/json", b"text/html; charset=utf-8", b"TEXT/HTML", b"", b"_ga=GA1.1.1.1", b"MoodleSession=abc"]
)
starts = st.builds(
    lambda status, headers: start(status, *headers),
    st.sampled_from([200, 204, 304, 404]),
    st.lists(st.tuples(names, values), max_size=6),
)
bodies = st.lists(st.sampled_from([b"", b"{}", b"<p>x</p>"]), min_size=1, max_size=3)


def untouched(message: dict, revalidating: bool) -> bool:
    """Independently of ``needs_work``: sets no cookie, is not a page, is not a 304 revalidating ours."""
    headers = message["headers"]
    content_type = ([value for name, value in headers if name == b"content-type"] or [b""])[-1]
    return (
        all(name != b"set-cookie" for name, _ in headers)
        and not content_type.lower().startswith(b"text/html")
        and not (message["status"] == 304 and revalidating)
    )


@settings(max_examples=300, deadline=None)
@given(start_message=starts, chunks=bodies, revalidating=st.booleans())
def test_every_response_keeps_its_site_cookies_and_loses_denied_ones(
    rules, start_message: dict, chunks: list[bytes], revalidating: bool
) -> None:
    messages = [start_message, *(body(chunk, index < len(chunks) - 1) for index, chunk in enumerate(chunks))]
    sent_cookies = [value for name, value in start_message["headers"] if name == b"set-cookie"]
    pass_through = untouched(start_message, revalidating)
    received = deliver(rules, messages, revalidating)
    received_cookies = [value for name, value in received[0]["headers"] if name == b"set-cookie"]
    assert b"_ga=GA1.1.1.1" not in received_cookies
    assert received_cookies.count(b"MoodleSession=abc") == sent_cookies.count(b"MoodleSession=abc")
    if pass_through:
        assert len(received) == len(messages) and all(a is b for a, b in zip(received, messages, strict=True))
