"""The first-party analytics endpoints: check, clean and queue each hit, answer at once.

A hit goes through, in order: reading (400 for anything malformed, 413 for
too large), the measurement id (403 for an id that is not ours: no open
relay), the user agent (bots are dropped), the visitor's consent for the
backend's category, narrowed by the path policy of the page in the hit
(without it the hit is dropped), then scrubbing and anonymising, and the
delivery queue. Dropped hits are answered 204 like forwarded ones, so a
page cannot tell consent from its absence by the answer.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.collect.delivery import Delivery, Outgoing
from gateway.collect.hits import (
    Form,
    HitError,
    Params,
    Submission,
    decode_text,
    encode,
    encode_body,
    parse_lines,
    parse_matomo,
    parse_params,
    parse_single,
    value,
)
from gateway.collect.protocol import Backend, configured_backends
from gateway.collect.scripts import ScriptCache, ScriptUnavailable
from gateway.collect.scrub import Scrubber
from gateway.collect.visitor import is_bot, reduced_user_agent, visitor_prefix
from gateway.consent.state import Consent
from gateway.metrics.registry import Registry
from gateway.net.request import RequestHead, request_head
from gateway.net.urls import page_paths
from gateway.settings import Settings
from gateway.trackers.catalogue import measurement_protocols
from gateway.trackers.paths import granted_for

Parser = Callable[[bytes, bytes, Backend], Submission]
NO_CONTENT = {"type": "http.response.start", "status": 204, "headers": [(b"cache-control", b"no-store")]}


class Collector:
    """Everything first-party analytics needs at run time, built once from the settings."""

    def __init__(self, settings: Settings, metrics: Registry) -> None:
        self.settings = settings
        collect = settings.collect
        self.backends = configured_backends(collect)
        self.delivery = Delivery(
            metrics,
            queue_size=collect.queue_size,
            concurrency=collect.concurrency,
            retries=collect.retries,
            timeout=collect.timeout,
            drain_timeout=collect.drain_timeout,
        )
        self.scripts = ScriptCache(self.delivery, metrics, collect.script_ttl, collect.timeout)
        self.scrubbers = {
            name: Scrubber(backend.protocol, collect.strip_parameters, collect.user_id)
            for name, backend in self.backends.items()
        }
        self.received = metrics.counter(
            "gateway_collect_received_total", "Analytics hits received from browsers.", ["backend"]
        )

    async def start(self) -> None:
        if self.backends:  # nothing configured: no workers
            await self.delivery.start()

    async def stop(self) -> None:
        await self.delivery.stop()

    def routes(self) -> list[Route]:
        """The endpoints under the prefix, for the consent API's router."""
        prefix = self.settings.prefix
        routes = []
        for name, spec in measurement_protocols().items():
            backend = self.backends.get(name)
            paths = [(path, PARSERS[name]) for path in spec["paths"]]
            paths += [(path, parse_batch) for path in spec.get("batch_paths", ())]
            for path, parser in paths:
                endpoint = NotConfigured(name) if backend is None else HitEndpoint(self, backend, parser)
                routes.append(Route(prefix + path, endpoint, methods=["GET", "POST"]))
        for backend in self.backends.values():
            script = backend.protocol.spec.get("script")
            if script is not None and backend.script_url is not None:
                routes.append(Route(prefix + script["path"], ScriptEndpoint(self, backend), methods=["GET"]))
        return routes

    def forward(self, backend: Backend, submission: Submission, scope: Scope) -> str | None:
        """Queue the hits of ``submission`` the visitor allows; the reason when nothing was queued."""
        head = request_head(scope, self.settings.trusted_proxies)
        user_agent = head.user_agent
        if is_bot(user_agent):
            return "bot"
        kept = self.consented(backend, submission.single_valued(), scope["consent"], head)
        if kept is None:
            return "no_consent"
        scrubber = self.scrubbers[backend.name]
        kept.shared = scrubber.scrub(kept.shared)
        kept.events = [scrubber.scrub(event) for event in kept.events]
        reduced = reduced_user_agent(user_agent)
        self.add_visitor(backend, kept, visitor_prefix(head), reduced)
        queued = self.delivery.submit(outgoing(backend, kept, reduced))
        return None if queued else "queue_full"

    def consented(
        self, backend: Backend, submission: Submission, consent: Consent, head: RequestHead
    ) -> Submission | None:
        """The part of ``submission`` whose pages may be measured for this visitor; None if no part."""
        if backend.category not in consent.categories:
            return None
        if not self.settings.path_policies:
            return submission
        page = backend.protocol.page_parameter
        fallback = value(submission.shared, page) or head.referer or ""
        if not submission.events:
            return submission if self.allows(backend, fallback, consent) else None
        events = [e for e in submission.events if self.allows(backend, value(e, page) or fallback, consent)]
        if not events:
            return None
        return Submission(submission.form, submission.shared, events, submission.batch)

    def allows(self, backend: Backend, page_url: str, consent: Consent) -> bool:
        policies = self.settings.path_policies
        return all(backend.category in granted_for(path, consent.categories, policies) for path in page_paths(page_url))

    def add_visitor(self, backend: Backend, submission: Submission, prefix: str | None, user_agent: str) -> None:
        """The anonymised address and reduced user agent as the protocol names them, plus fixed parameters."""
        protocol = backend.protocol
        added: Params = list(protocol.set_parameters)
        if prefix is not None and (protocol.token_parameter is None or backend.token is not None):
            added.append((protocol.ip_parameter, prefix))  # Matomo only believes cip with a token
        if protocol.user_agent_parameter is not None:
            added.append((protocol.user_agent_parameter, user_agent))
        if backend.token is not None and protocol.token_parameter is not None and submission.form is not Form.BULK:
            added.append((protocol.token_parameter, backend.token))
            if submission.form is Form.QUERY:  # a token goes in a body, never in a URL a log might keep
                submission.form, submission.shared, submission.events = Form.FORM, [], [submission.shared]
        shared_applies = submission.form is Form.QUERY or (submission.form is Form.LINES and not submission.batch)
        if shared_applies:
            submission.shared = submission.shared + added
        else:
            submission.events = [event + added for event in submission.events]


def outgoing(backend: Backend, submission: Submission, user_agent: str) -> Outgoing:
    url = backend.batch_endpoint if submission.batch and backend.batch_endpoint else backend.endpoint
    headers: tuple[tuple[str, str], ...] = (("User-Agent", user_agent),)
    if submission.shared:
        url += ("&" if "?" in url else "?") + encode(submission.shared)
    if submission.form is Form.QUERY:
        return Outgoing(backend.name, "GET", url, None, headers)
    token_name = backend.protocol.token_parameter
    token = (token_name, backend.token) if backend.token and token_name else None
    body, content_type = encode_body(submission, token)
    return Outgoing(backend.name, "POST", url, body, (*headers, ("Content-Type", content_type)))


def parse_ga4(query: bytes, body: bytes, backend: Backend) -> Submission:
    return parse_lines(query, body, backend.protocol.max_events)


def parse_ua(query: bytes, body: bytes, backend: Backend) -> Submission:
    return parse_single(query, body)


def parse_batch(query: bytes, body: bytes, backend: Backend) -> Submission:
    if not body:
        raise HitError(400, "empty_batch", "send the hits in the body, one per line")
    submission = parse_lines(query, body, backend.protocol.max_events, batch=True)
    return submission


def parse_matomo_hit(query: bytes, body: bytes, backend: Backend) -> Submission:
    return parse_matomo(query, body, backend.protocol.max_events)


PARSERS: dict[str, Parser] = {"ga4": parse_ga4, "ua": parse_ua, "matomo": parse_matomo_hit}


def check_ids(backend: Backend, submission: Submission) -> None:
    """Every hit names one of our measurement ids, once: the gateway relays for its own properties only.

    An id parameter given twice (``tid=G-THEIRS&tid=G-OURS``, also spelt ``%74id`` or ``TID``, or
    once in the query and once in a body line) is refused as a whole: the backend might read the
    other value than the one checked here."""
    name = backend.protocol.id_parameter
    for hit in submission.hits():
        measurement_id = single_id(hit, name)
        if measurement_id not in backend.ids:
            raise HitError(403, "unknown_id", f"{name} {measurement_id[:40]!r} is not forwarded by this gateway")


def single_id(params: Params, name: str) -> str:
    """The one value of the id parameter ``name``; ``HitError`` when it is missing or ambiguous."""
    folded = name.casefold()
    found = [(key, text) for key, text in params if key.casefold() == folded]
    if not found:
        raise HitError(400, "missing_id", f"the hit has no {name}")
    if len(found) > 1 or found[0][0] != name:
        raise HitError(403, "ambiguous_id", f"the hit names its {name} more than once or in another spelling")
    return found[0][1]


async def read_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):  # the usual case: one piece
        body = message.get("body", b"")
        if len(body) > limit:
            raise body_too_large(limit)
        return body
    buffer = bytearray()
    while True:
        if message["type"] == "http.disconnect":
            raise HitError(400, "disconnected", "the client went away")
        buffer += message.get("body", b"")
        if len(buffer) > limit:
            raise body_too_large(limit)
        if not message.get("more_body", False):
            return bytes(buffer)
        message = await receive()


def body_too_large(limit: int) -> HitError:
    return HitError(413, "body_too_large", f"the body may be at most {limit} bytes")


async def send_json_error(send: Send, error: HitError) -> None:
    body = error.body()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HitEndpoint:
    """One hit endpoint (``/g/collect``, ``/collect``, ``/batch``, ``/matomo.php``) as a pure ASGI app."""

    def __init__(self, collector: Collector, backend: Backend, parse: Parser) -> None:
        self.collector = collector
        self.backend = backend
        self.parse = parse
        self.count_received = collector.received.incrementer(backend=backend.name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        collector, backend = self.collector, self.backend
        if scope["method"] == "HEAD":  # Starlette routes HEAD with GET; a HEAD is no hit
            await send(NO_CONTENT)
            await send({"type": "http.response.body", "body": b""})
            return
        headers = Headers(scope=scope)
        self.count_received()
        try:
            body = b""
            if scope["method"] == "POST":
                body = await read_body(receive, headers, collector.settings.collect.max_body)
            submission = self.parse(scope.get("query_string", b""), body, backend)
            check_ids(backend, submission)
        except HitError as error:
            collector.delivery.dropped.inc(backend=backend.name, reason=error.code)
            await send_json_error(send, error)
            return
        reason = collector.forward(backend, submission, scope)
        if reason is not None:
            collector.delivery.dropped.inc(backend=backend.name, reason=reason)
        await send(NO_CONTENT)
        await send({"type": "http.response.body", "body": b""})


class ScriptEndpoint:
    """``/gtag/js?id=G-...`` and ``/matomo.js``: the vendor's script, from the cache."""

    def __init__(self, collector: Collector, backend: Backend) -> None:
        self.collector = collector
        self.backend = backend
        self.script = backend.protocol.spec["script"]

    def upstream_url(self, scope: Scope) -> str:
        assert self.backend.script_url is not None
        id_parameter = self.script.get("id_parameter")
        if id_parameter is None:
            return self.backend.script_url
        measurement_id = single_id(parse_query(scope.get("query_string", b"")), id_parameter)
        if measurement_id not in self.backend.ids:
            raise HitError(403, "unknown_id", f"{id_parameter} {measurement_id[:40]!r} is not served by this gateway")
        return f"{self.backend.script_url}?{encode([(id_parameter, measurement_id)])}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            cached = await self.collector.scripts.get(self.upstream_url(scope))
        except HitError as error:
            await send_json_error(send, error)
            return
        except ScriptUnavailable:
            await send_json_error(send, HitError(502, "script_unavailable", "the script could not be fetched"))
            return
        max_age = int(min(self.collector.settings.collect.script_ttl, 900))
        headers = [
            (b"content-type", cached.content_type.encode("latin-1")),
            (b"content-length", str(len(cached.body)).encode()),
            (b"cache-control", f"public, max-age={max_age}".encode()),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": cached.body})


def parse_query(query: bytes) -> Params:
    return parse_params(decode_text(query, "query"))


class NotConfigured:
    """A protocol's endpoints when the operator configured no backend for it: refused, not relayed."""

    def __init__(self, protocol: str) -> None:
        self.error = HitError(403, "not_configured", f"this gateway forwards no {protocol} hits")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json_error(send, self.error)
