"""The ``send`` the middleware hands the app, one per request.

It runs for every response, so the common case (neither a page nor setting
cookies) is settled in it and the start and body go straight to the server's
``send``. Only a response whose start shows it needs work (a page, cookies
set, a 304) goes to ``PageRules.start``, which makes a ``PageResponder`` and
hands back the ``send`` for the later messages. Each call hands back the
awaitable of whoever takes the message, never a coroutine of its own.

``gateway/_relay.c`` is the same compiled (built with the package when a C
compiler is at hand); ``python_relay`` is the reference and the fallback, and
the two are tested against each other. ``CONSENT_GATEWAY_PURE_PYTHON=1`` picks the
fallback.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.types import Message, Scope, Send

from gateway.pages.responder import PAGE_TYPES, START_HEADERS

if TYPE_CHECKING:
    from gateway.pages.responder import PageRules


def python_relay(send: Send, rules: PageRules, granted: frozenset[str], scope: Scope, revalidating: bool) -> Send:
    forward: Send | None = None  # where messages go once the start is seen

    def send_response(message: Message) -> Awaitable[None]:
        nonlocal forward
        if forward is not None:
            return forward(message)
        if message["type"] != "http.response.start":
            return send(message)
        content_type = b""
        sets_cookies = False
        try:
            headers = message["headers"]
        except KeyError:  # optional in ASGI
            headers = ()
        for name, value in headers:
            if name in START_HEADERS:
                if name == b"set-cookie":
                    sets_cookies = True
                else:
                    content_type = value
        if sets_cookies or message["status"] == 304 or PAGE_TYPES[content_type]:
            forward, started = rules.start(message, content_type, sets_cookies, granted, scope, send, revalidating)
            return started
        forward = send
        return send(message)

    return send_response


def compiled_relay() -> Callable[..., Send] | None:
    if os.environ.get("CONSENT_GATEWAY_PURE_PYTHON"):
        return None
    try:
        from gateway import _relay
    except ImportError:
        return None
    _relay.use_page_types(PAGE_TYPES)
    return _relay.Relay


Relay: Callable[[Send, PageRules, frozenset[str], Scope, bool], Send] = compiled_relay() or python_relay
