"""The compiled ``send`` (gateway/_relay.c) against its Python reference, message by message."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pages import relay
from gateway.pages.responder import PAGE_TYPES

compiled = pytest.importorskip("gateway._relay", reason="gateway/_relay.c was not compiled").Relay
compiled_or_not = [relay.python_relay, compiled]


class Recorder:
    """Stands in for the server's ``send`` and for ``PageRules``: notes where each message went."""

    def __init__(self) -> None:
        self.trail: list[tuple] = []

    def send(self, message):
        self.trail.append(("send", message))
        return "awaitable of send"

    def later(self, message):
        self.trail.append(("later", message))
        return "awaitable of later"

    def start(self, message, content_type, sets_cookies, granted, scope, send, revalidating):
        self.trail.append(
            ("start", message, content_type, sets_cookies, granted, scope, send == self.send, revalidating)
        )
        return self.later, "awaitable of start"


def run(make, messages, revalidating=False):
    recorder = Recorder()
    send = make(recorder.send, recorder, frozenset({"functional"}), {"path": "/"}, revalidating)
    results = []
    for message in messages:
        try:
            results.append(send(message))
        except Exception as error:  # noqa: BLE001 - both must fail alike
            results.append(type(error).__name__)
            break
    return results, recorder.trail


names = st.sampled_from(
    [b"content-type", b"set-cookie", b"content-length", b"content-typ", b"set-cookie2", "content-type"]
)
values = st.sampled_from(
    [
        b"application/json",
        b"text/html; charset=utf-8",
        b"TEXT/HTML",
        b"application/xhtml+xml",
        b"",
        b"text/html; charset=utf-16",
    ]
)
headers = st.lists(
    st.tuples(names, values) | st.lists(st.sampled_from([b"content-type", b"text/html"]), min_size=2, max_size=2),
    max_size=6,
)
starts = st.fixed_dictionaries(
    {"type": st.just("http.response.start"), "status": st.sampled_from([200, 204, 304, 404])},
    optional={"headers": headers},
)
others = st.sampled_from(
    [
        {"type": "http.response.body", "body": b"x", "more_body": True},
        {"type": "http.response.body", "body": b""},
        {"type": "http.response.trailers"},
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    before=st.lists(others, max_size=1), start=starts, after=st.lists(others, max_size=3), revalidating=st.booleans()
)
def test_compiled_relay_sends_every_message_where_the_reference_does(before, start, after, revalidating) -> None:
    messages = [*before, start, *after]
    assert run(compiled, messages, revalidating) == run(relay.python_relay, messages, revalidating)


@pytest.mark.parametrize("make", compiled_or_not)
def test_json_passes_straight_and_a_page_goes_to_the_rules(make) -> None:
    json_start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    results, trail = run(make, [json_start, {"type": "http.response.body", "body": b"{}"}])
    assert results == ["awaitable of send", "awaitable of send"]
    assert [step[0] for step in trail] == ["send", "send"]
    page_start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
    results, trail = run(make, [page_start, {"type": "http.response.body", "body": b"<p>"}], revalidating=True)
    assert results == ["awaitable of start", "awaitable of later"]
    assert trail[0][:4] == ("start", page_start, b"text/html", False) and trail[0][-1] is True
    assert PAGE_TYPES[b"text/html"] is True


@pytest.mark.parametrize("make", compiled_or_not)
@pytest.mark.parametrize(
    "message",
    [
        {"status": 200},
        {"type": "http.response.start"},
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type",)]},
        {"type": "http.response.start", "status": 200, "headers": 5},
    ],
)
def test_malformed_messages_raise_in_both(make, message) -> None:
    results, _ = run(make, [message])
    assert isinstance(results[0], str) and results[0].endswith("Error")


def test_the_middleware_uses_the_compiled_relay_when_built() -> None:
    assert relay.Relay is compiled
