"""Reading hits as the trackers send them, and writing them out again for the backend.

Every protocol arrives in one of four shapes (``Form``): all parameters in
the query string; shared parameters in the query and one event per body line
(GA4's batches, UA's ``/batch``); one hit as a form body; or Matomo's bulk
JSON. Anything that is not text, not well formed or too large is refused with
a ``HitError``; nothing a visitor sends can raise anything else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from urllib.parse import quote_plus, unquote_plus

from gateway.net.jsonbody import JSONBodyError, parse_json

Params = list[tuple[str, str]]

MAX_FIELDS = 400  # parameters in one hit
MAX_LINE = 16 * 1024
CACHED_LENGTH = 256  # fields up to this long are cached whole (bounded memory: 8192 of each)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


class Form(Enum):
    QUERY = "query"  # GET: everything in the query string
    LINES = "lines"  # POST: shared parameters in the query, one event (or hit) per body line
    FORM = "form"  # POST: one hit as an urlencoded body
    BULK = "bulk"  # POST: Matomo's {"requests": ["?idsite=1&...", ...]}


class HitError(Exception):
    """A request that is not a hit we forward; becomes a JSON error response."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> bytes:
        return json.dumps({"error": self.code, "message": self.message}).encode()


@dataclass
class Submission:
    """One request's hits: shared parameters, and per-event parameters when the body carries events."""

    form: Form
    shared: Params
    events: list[Params] = field(default_factory=list)
    batch: bool = False  # UA's /batch endpoint

    def single_valued(self) -> Submission:
        """The same hits with every parameter named once per list (``single_valued``)."""
        events = [single_valued(event) for event in self.events]
        return Submission(self.form, single_valued(self.shared), events, self.batch)

    def hits(self) -> list[Params]:
        """Each hit with the shared parameters first (an event's own value comes later and wins)."""
        if not self.events:
            return [self.shared]
        return [self.shared + event for event in self.events]


def single_valued(params: Params) -> Params:
    """``params`` with each name once, at the value ``value`` reads (the last), in the order of those values.

    What the consent check read is then all the backend can read: a page URL given twice
    (``dl=…/cursus/…&dl=…/elders/…``) cannot pass the path policy with one value and be counted
    under the other."""
    last = {key: index for index, (key, _) in enumerate(params)}
    if len(last) == len(params):
        return params
    return [pair for index, pair in enumerate(params) if last[pair[0]] == index]


def value(params: Params, name: str) -> str | None:
    """The last value of ``name``: what the backend reads when a parameter appears twice."""
    found = None
    for key, text in params:
        if key == name:
            found = text
    return found


def decode_text(raw: bytes, what: str) -> str:
    if b"\x00" in raw:
        raise HitError(400, "binary_body", f"the {what} is binary, not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HitError(400, "invalid_encoding", f"the {what} is not UTF-8 text") from None
    if CONTROL.search(text):
        raise HitError(400, "binary_body", f"the {what} holds control characters")
    return text


def parse_params(text: str, what: str = "query") -> Params:
    """``a=1&b=2`` into pairs; each pair needs a name and an ``=`` (``parse_qsl``'s strict rules, faster)."""
    if not text:
        return []
    if len(text) > MAX_LINE:
        raise HitError(413, "hit_too_large", f"one hit may be at most {MAX_LINE} bytes")
    fields = text.split("&")
    if len(fields) > MAX_FIELDS:
        raise HitError(413, "hit_too_large", f"one hit may have at most {MAX_FIELDS} parameters")
    pairs = []
    for field_ in fields:
        if not field_:
            continue  # "a=1&&b=2": an empty field carries nothing
        pair = _pair(field_) if len(field_) <= CACHED_LENGTH else _read_pair(field_)
        if pair is None:
            raise HitError(400, "malformed_hit", f"the {what} is not name=value pairs joined by &")
        pairs.append(pair)
    return pairs


def _read_pair(field_: str) -> tuple[str, str] | None:
    name, equals, text_value = field_.partition("=")
    if not equals or not name:
        return None
    return _unquote(name), _unquote(text_value)


_pair = lru_cache(maxsize=8192)(_read_pair)  # the same fields come in again and again


@lru_cache(maxsize=16384)
def _unquote(text: str) -> str:
    # Cached: the same page URLs, titles and client ids come in again and again.
    return unquote_plus(text) if "%" in text or "+" in text else text


def body_lines(body: str, max_events: int) -> list[Params]:
    lines = [line for line in body.replace("\r\n", "\n").split("\n") if line]
    if len(lines) > max_events:
        raise HitError(413, "too_many_events", f"at most {max_events} events in one request")
    return [parse_params(line, "body line") for line in lines]


def parse_lines(query: bytes, body: bytes, max_events: int, batch: bool = False) -> Submission:
    """GA4's ``/g/collect`` (query, plus events in the body of a POST) and UA's ``/batch``."""
    shared = parse_params(decode_text(query, "query"))
    events = body_lines(decode_text(body, "body"), max_events) if body else []
    if not events and not shared:
        raise HitError(400, "empty_hit", "no parameters in the query or the body")
    return Submission(Form.LINES if events else Form.QUERY, shared, events, batch)


def parse_single(query: bytes, body: bytes) -> Submission:
    """UA's ``/collect``: the hit in the query (GET) or as a form body (POST)."""
    params = parse_params(decode_text(query, "query"))
    if body:
        text = decode_text(body, "body").strip()
        if "\n" in text:
            raise HitError(400, "malformed_hit", "send several hits to the batch endpoint")
        params += parse_params(text, "body")
    if not params:
        raise HitError(400, "empty_hit", "no parameters in the query or the body")
    return Submission(Form.FORM if body else Form.QUERY, [] if body else params, [params] if body else [])


def parse_matomo(query: bytes, body: bytes, max_events: int) -> Submission:
    """Matomo's tracker: GET, POST form, or bulk JSON ``{"requests": ["?idsite=1&...", ...]}``."""
    params = parse_params(decode_text(query, "query"))
    text = decode_text(body, "body").strip() if body else ""
    if text.startswith("{"):
        return Submission(Form.BULK, [], parse_bulk(text, max_events))
    if text:
        params += parse_params(text, "body")
    if not params:
        raise HitError(400, "empty_hit", "no parameters in the query or the body")
    return Submission(Form.FORM if text else Form.QUERY, [] if text else params, [params] if text else [])


def parse_bulk(text: str, max_events: int) -> list[Params]:
    try:
        document = parse_json(text)
    except JSONBodyError as error:
        raise HitError(400, "invalid_json", f"the bulk body: {error}") from None
    requests = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(requests, list) or not requests or not all(isinstance(r, str) for r in requests):
        raise HitError(400, "invalid_bulk", 'expected {"requests": ["?idsite=...", ...]}')
    if len(requests) > max_events:
        raise HitError(413, "too_many_events", f"at most {max_events} requests in one bulk request")
    events = []
    for request in requests:
        if any(ord(c) < 32 for c in request):
            raise HitError(400, "malformed_hit", "a bulk request holds control characters")
        params = parse_params(request.split("?", 1)[1] if "?" in request else request, "bulk request")
        if not params:
            raise HitError(400, "empty_hit", "a bulk request has no parameters")
        events.append(params)
    return events


def encode(params: Params) -> str:
    """``urlencode``'s output, without quoting what needs no quoting (most values)."""
    return "&".join([_encode_short(pair) if len(pair[1]) <= CACHED_LENGTH else _encode_pair(pair) for pair in params])


def _encode_pair(pair: tuple[str, str]) -> str:
    return _quote(pair[0]) + "=" + _quote(pair[1])


_encode_short = lru_cache(maxsize=8192)(_encode_pair)


@lru_cache(maxsize=16384)
def _quote(text: str) -> str:
    return text if UNRESERVED.fullmatch(text) else quote_plus(text)


def encode_body(submission: Submission, token: tuple[str, str] | None = None) -> tuple[bytes, str]:
    """The body to forward and its content type."""
    if submission.form is Form.BULK:
        document: dict = {"requests": ["?" + encode(event) for event in submission.events]}
        if token is not None:
            document[token[0]] = token[1]
        return json.dumps(document, separators=(",", ":")).encode(), "application/json"
    if submission.form is Form.FORM:
        return encode(submission.events[0]).encode(), "application/x-www-form-urlencoded"
    return "\n".join(encode(event) for event in submission.events).encode(), "text/plain;charset=UTF-8"
