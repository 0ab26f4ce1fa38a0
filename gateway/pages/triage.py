"""Which responses of the wrapped site the gateway has to touch: ``needs_work``.

Read once per response from its start message, by the relay
(``gateway.pages.relay``): most responses (JSON, images, scripts, styles)
need nothing and go straight to the server. The ``Work`` it hands back is
what the responder (``gateway.pages.responder``) acts on, so the rule lives
here only.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from starlette.types import Message

HTML_TYPES = (b"text/html", b"application/xhtml+xml")
# Charsets whose markup is not ASCII bytes: the rewriter cannot read such a page, which goes on as it is.
ASCII_UNSAFE_CHARSETS = (b"utf-16", b"utf-32", b"ucs-2", b"ucs-4", b"utf-7")
START_HEADERS = frozenset({b"content-type", b"set-cookie"})  # the headers the rule reads


class Kind(Enum):
    """What a response that needs work is."""

    PAGE = "page"  # an HTML page: marked for the consent state, rewritten when it can be
    NOT_MODIFIED = "not modified"  # a 304 confirming a page of the visitor's consent state: marked
    OTHER = "other"  # anything else: only its Set-Cookie headers need filtering


class Work(NamedTuple):
    """What ``needs_work`` found a response needs."""

    kind: Kind
    sets_cookies: bool  # Set-Cookie headers to filter; a page that sets cookies is never shared either


def needs_work(start: Message, revalidating: bool) -> Work | None:
    """The work the response beginning with ``start`` needs; ``None`` when it may pass as it is.

    ``revalidating``: the request asked whether a page of the visitor's consent
    state changed (``PageRules.adjust_conditional``); any other 304 is the
    site's own business. Runs for every response: one pass over the headers
    and a dict lookup for the content type.
    """
    content_type = b""
    sets_cookies = False
    try:
        headers = start["headers"]
    except KeyError:  # optional in ASGI
        headers = ()
    for name, value in headers:
        if name in START_HEADERS:
            if name == b"set-cookie":
                sets_cookies = True
            else:
                content_type = value
    if start["status"] == 304:
        if revalidating:
            return Work(Kind.NOT_MODIFIED, sets_cookies)
    elif PAGE_TYPES[content_type]:
        return Work(Kind.PAGE, sets_cookies)
    return Work(Kind.OTHER, True) if sets_cookies else None


def is_html(content_type: bytes) -> bool:
    """An HTML page in a charset whose markup bytes are ASCII (UTF-16 and kin are passed on as they are)."""
    content_type = content_type.lower()
    return content_type.startswith(HTML_TYPES) and not any(map(content_type.__contains__, ASCII_UNSAFE_CHARSETS))


class PageTypes(dict[bytes, bool]):
    """``Content-Type`` values seen, each to whether it is a page to rewrite. Looked up for every
    response: a dict lookup costs less than a call (a site sends a handful of distinct values)."""

    def __missing__(self, content_type: bytes) -> bool:
        if len(self) >= 256:
            self.clear()
        page = self[content_type] = is_html(content_type)
        return page


PAGE_TYPES = PageTypes()
