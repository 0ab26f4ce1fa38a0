"""Put the banner tag at the top of ``<head>`` of HTML responses, streaming.

The responder holds back ``http.response.start`` until the body shows where
the tag goes, then sends everything it held with the tag spliced in and
passes every later chunk through untouched. A complete body in one message
gets an exact ``Content-Length``; a streamed one is sent without it. HTML
fragments (no doctype, ``<html>`` or ``<head>`` before the first element),
compressed bodies and non-HTML responses pass through as they are.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Give up looking for <head> after this much markup: the page is odd, not ours to fix.
MAX_LOOKAHEAD = 64 * 1024
ASCII_UNSAFE_CHARSETS = ("utf-16", "utf-32", "ucs-2", "ucs-4")

TAG_NAME = re.compile(rb"<([a-zA-Z][a-zA-Z0-9-]*)")


class NeedMore(Exception):
    """The buffer ends before a decision can be made."""


def _tag_end(buffer: bytes, start: int) -> int:
    """Index just past the ``>`` closing the tag at ``start``, respecting quoted values."""
    quote = None
    for index in range(start, len(buffer)):
        char = buffer[index]
        if quote is not None:
            if char == quote:
                quote = None
        elif char in b"\"'":
            quote = char
        elif char == ord(">"):
            return index + 1
    raise NeedMore


def injection_point(buffer: bytes, finished: bool) -> int | None:
    """Where the banner tag goes in ``buffer``, or ``None`` when it does not belong.

    Raises ``NeedMore`` when more of the body is needed to decide.
    """
    position = 0
    seen_document = False
    try:
        while True:
            start = buffer.find(b"<", position)
            if start < 0 or start + 1 >= len(buffer):
                raise NeedMore
            if buffer.startswith(b"<!--", start):
                end = buffer.find(b"-->", start + 4)
                if end < 0:
                    raise NeedMore
                position = end + 3
                continue
            if buffer[start + 1] in b"!?":  # doctype or processing instruction
                seen_document = seen_document or buffer[start + 2 : start + 9].lower() == b"doctype"
                position = _tag_end(buffer, start)
                continue
            match = TAG_NAME.match(buffer, start)
            if match is None:  # a closing tag or a stray "<" in text
                position = start + 1
                continue
            if match.end() >= len(buffer):  # the tag name may go on in the next chunk
                raise NeedMore
            name = match.group(1).lower()
            if name == b"html":
                seen_document = True
                position = _tag_end(buffer, start)
            elif name == b"head":
                return _tag_end(buffer, start)
            else:
                return start if seen_document else None
    except NeedMore:
        if finished or len(buffer) > MAX_LOOKAHEAD:
            return None
        raise


def is_html(headers: Headers) -> bool:
    content_type = headers.get("content-type", "").lower()
    return content_type.startswith("text/html") and not any(c in content_type for c in ASCII_UNSAFE_CHARSETS)


def is_injectable(message: Message, headers: Headers, scope: Scope) -> bool:
    if not is_html(headers) or headers.get("content-encoding", "identity").lower() != "identity":
        return False
    return message["status"] not in (204, 206, 304) and scope.get("method") != "HEAD"


class BannerInjector:
    """Wraps an app's responses; one instance per request."""

    def __init__(self, app: ASGIApp, tag: bytes) -> None:
        self.app = app
        self.tag = tag
        self.send: Send
        self.start: Message | None = None
        self.buffer = b""
        self.passing_through = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.send = send
        self.scope = scope
        await self.app(scope, receive, self.send_with_banner)

    async def send_with_banner(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(raw=message.setdefault("headers", []))
            if is_injectable(message, headers, self.scope):
                self.start = message
                return
            if self.scope.get("method") == "HEAD" and is_html(headers) and "content-length" in headers:
                # The GET body would carry the tag too: don't announce a length that is off.
                del headers["content-length"]
            self.passing_through = True
            await self.send(message)
            return
        if self.passing_through or message["type"] != "http.response.body":
            await self.send(message)
            return
        await self.hold_or_inject(message)

    async def hold_or_inject(self, message: Message) -> None:
        more_body = message.get("more_body", False)
        self.buffer += message.get("body", b"")
        try:
            point = injection_point(self.buffer, finished=not more_body)
        except NeedMore:
            return
        body = self.buffer if point is None else self.buffer[:point] + self.tag + self.buffer[point:]
        assert self.start is not None
        if point is not None:
            headers = MutableHeaders(raw=self.start["headers"])
            if not more_body:
                headers["content-length"] = str(len(body))
            elif "content-length" in headers:
                del headers["content-length"]
            if headers.get("etag", "").startswith('"'):
                headers["etag"] = "W/" + headers["etag"]
        self.passing_through = True
        await self.send(self.start)
        await self.send({"type": "http.response.body", "body": body, "more_body": more_body})
