"""The ``send`` the middleware hands the app, one per request.

It runs for every response of the wrapped site, so it does as little as it
can: the start message is judged by ``needs_work`` (``gateway.pages.triage``)
and a response that needs no work (JSON, images, scripts, styles) goes
straight to the server's ``send``, start and body alike. Only a response that
needs work gets a ``PageResponder``, which takes its start and every later
message.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.types import Message, Scope, Send

from gateway.pages.responder import PageResponder, PageRules
from gateway.pages.triage import needs_work


def relay(send: Send, rules: PageRules, granted: frozenset[str], scope: Scope, revalidating: bool) -> Send:
    """The ``send`` for one response: ``granted`` are the visitor's categories for this path, ``revalidating``
    whether the request asks to revalidate a page of this consent state (``PageRules.adjust_conditional``)."""
    forward: Send | None = None  # where messages go once the start is seen

    # A plain function handing back the awaitable of whoever takes the message: a coroutine of its
    # own would add one per message of every response (1.4 % to the instructions of a Starlette
    # JSON request, measured with callgrind). The responder, for the few that need work, is async.
    def send_response(message: Message) -> Awaitable[None]:
        nonlocal forward
        if forward is not None:
            return forward(message)
        if message["type"] != "http.response.start":
            return send(message)
        work = needs_work(message, revalidating)
        if work is None:
            forward = send
            return send(message)
        responder = PageResponder(rules, granted, scope, send)
        forward = responder.send_after_start
        return responder.on_start(message, work)

    return send_response
