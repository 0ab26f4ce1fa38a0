"""Personal data out of hits: e-mail addresses, secrets in page URLs, user ids.

Page URLs (``dl``, ``dr``, Matomo's ``url``) lose their fragment, any
user:password, and every query parameter on the strip list; every value of
every parameter loses e-mail addresses, also when they hide behind one or
more rounds of percent-encoding. Titles and custom parameters cannot be
checked for names in general, so sites keep names out of titles (or strip
them with a path policy); the user id goes unless the operator enables it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from gateway.collect.hits import Params
from gateway.collect.protocol import Protocol
from gateway.net.jsonbody import JSONBodyError, parse_json

# The local part as RFC 5322 allows it, less '/', which in a URL path separates segments.
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
REDACTED = "[email]"
MAX_DECODING_ROUNDS = 4
CACHED_LENGTH = 256  # values up to this long are cached (bounded memory: at most 8192 pairs per protocol)


def redact_emails(text: str) -> str:
    """``text`` with every e-mail address replaced, decoding percent-escapes as far as they hide one."""
    if "@" not in text and "%" not in text:
        return text
    for _ in range(MAX_DECODING_ROUNDS):
        if "@" in text:
            text = EMAIL.sub(REDACTED, text)
        if "%" not in text and "+" not in text:
            return text
        decoded = unquote_plus(text)
        if decoded == text or "@" not in decoded or not EMAIL.search(decoded):
            return text
        text = decoded
    return EMAIL.sub(REDACTED, text) if "@" in text else text


class Scrubber:
    """Removes personal data from the parameters of one protocol's hits."""

    def __init__(self, protocol: Protocol, strip_parameters: Iterable[str], keep_user_id: bool) -> None:
        self.protocol = protocol
        self.strip = frozenset(name.lower() for name in strip_parameters)
        self.drop = protocol.dropped_parameters | (frozenset() if keep_user_id else protocol.user_id_parameters)
        # Visitors of one site send the same few page URLs over and over.
        self.scrub_url = lru_cache(maxsize=4096)(self._scrub_url)
        self.scrub_short = lru_cache(maxsize=8192)(self.scrub_pair)

    def scrub(self, params: Params) -> Params:
        kept = []
        for pair in params:
            # Most pairs (ids, page URLs, titles, event names) come again and again: short ones are cached.
            cleaned = self.scrub_short(pair) if len(pair[1]) <= CACHED_LENGTH else self.scrub_pair(pair)
            if cleaned is not None:
                kept.append(cleaned)
        return kept

    def scrub_pair(self, pair: tuple[str, str]) -> tuple[str, str] | None:
        """The pair as it may be forwarded, or None when it goes."""
        name, text = pair
        if name in self.drop:
            return None
        if name in self.protocol.url_parameters:
            text = self.scrub_url(text)
        elif name in self.protocol.json_parameters:
            cleaned = scrub_json(text)
            if cleaned is None:
                return None
            text = cleaned
        elif looks_like_url(text):
            text = self.scrub_url(text)  # ep.page_location, ep.link_url and the like
        else:
            text = redact_emails(text)
        return pair if text is pair[1] else (name, text)

    def _scrub_url(self, url: str) -> str:
        """A page URL without fragment, credentials, listed query parameters and e-mail addresses."""
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname or ""
            netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
        except ValueError:
            return redact_emails(url.split("?", 1)[0].split("#", 1)[0])
        query = [
            (redact_emails(name), redact_emails(text))
            for name, text in parse_qsl(parts.query, keep_blank_values=True)
            if name.strip().lower() not in self.strip
        ]
        return urlunsplit((parts.scheme, netloc, redact_emails(parts.path), urlencode(query), ""))


def looks_like_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


def scrub_json(text: str) -> str | None:
    """Matomo's custom variables (``{"1": ["name", "value"]}``) with e-mail addresses removed; None if not JSON."""
    try:
        document = parse_json(text, max_depth=8)
    except JSONBodyError:
        return None
    return json.dumps(_redact_strings(document), separators=(",", ":"), ensure_ascii=False)


def _redact_strings(node: Any, depth: int = 0) -> Any:
    if depth > 8:
        return None
    if isinstance(node, str):
        return redact_emails(node)
    if isinstance(node, list):
        return [_redact_strings(item, depth + 1) for item in node]
    if isinstance(node, dict):
        return {redact_emails(str(k)): _redact_strings(v, depth + 1) for k, v in node.items()}
    return node
