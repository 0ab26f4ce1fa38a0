"""Headers across the proxy hop: what the upstream is told, and what the visitor gets back.

Hop-by-hop headers stop here. Forwarding headers are rebuilt by the gateway
(a visitor's own ``X-Forwarded-For`` is only kept when it came through a
trusted proxy). When the public host differs from the upstream's, the
upstream's own address in ``Location``, ``Content-Location`` and cookie
``Domain`` attributes is replaced, so visitors never get sent around the
gateway.
"""

from __future__ import annotations

import re

import aiohttp
from starlette.datastructures import Headers
from starlette.types import Scope

from .network import client_address, forwarded_chain, is_trusted, parse_address
from .origin import request_origin, request_scheme
from .settings import Settings

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
# Replaced with what this hop knows; a visitor must not be able to set them.
FORWARDING = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"})


def request_headers(scope: Scope, settings: Settings, upstream_host: str) -> list[tuple[str, str]]:
    """Headers for the upstream request: the visitor's, less hop-by-hop, plus forwarding information."""
    headers = Headers(scope=scope)
    dropped = HOP_BY_HOP | FORWARDING | {"host"}
    dropped |= {token.strip().lower() for token in headers.get("connection", "").split(",")}
    forwarded = [
        (k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k.decode("latin-1") not in dropped
    ]

    peer = scope.get("client")
    chain: list[str] = []
    if peer and is_trusted(parse_address(peer[0]), settings.trusted_proxies):
        chain = [hop.strip() for hop in forwarded_chain(headers)]
    visitor = client_address(scope, settings.trusted_proxies)
    if peer:
        chain.append(peer[0])
    scheme = request_scheme(scope, settings.trusted_proxies)
    host = headers.get("host", "")
    forwarded += [
        ("host", host if settings.preserve_host and host else upstream_host),
        ("x-forwarded-for", ", ".join(chain)),
        ("x-forwarded-proto", scheme),
        ("x-forwarded-host", host),
        ("forwarded", forwarded_element(visitor, scheme, host)),
    ]
    return forwarded


def forwarded_element(visitor: object, scheme: str, host: str) -> str:
    """One RFC 7239 element; IPv6 addresses are bracketed and every value quoted."""
    parts = [f"proto={scheme}", f'host="{host}"']
    if visitor is not None:
        address = str(visitor)
        parts.insert(0, f'for="[{address}]"' if ":" in address else f'for="{address}"')
    return ";".join(parts)


COOKIE_DOMAIN = re.compile(rb";\s*domain=[^;]*", re.IGNORECASE)


def response_headers(
    upstream: aiohttp.ClientResponse, scope: Scope, settings: Settings, upstream_base: str
) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers as the visitor should see them."""
    # uvicorn writes its own Date: one is enough.
    dropped = HOP_BY_HOP | {"date"} | {t.strip().lower() for t in upstream.headers.get("connection", "").split(",")}
    public = request_origin(scope, settings.trusted_proxies) or ""
    public_differs = bool(public) and public != upstream_base.lower()
    headers = []
    for raw_name, value in upstream.raw_headers:
        name = raw_name.decode("latin-1").lower()
        if name in dropped:
            continue
        if public_differs and name in ("location", "content-location"):
            value = to_public(value.decode("latin-1"), upstream_base, public).encode("latin-1")
        elif public_differs and not settings.preserve_host and name == "set-cookie":
            value = COOKIE_DOMAIN.sub(b"", value)  # the upstream's domain: host-only on the public host instead
        headers.append((name.encode("latin-1"), value))
    return headers


def to_public(url: str, upstream_base: str, public: str) -> str:
    """``url`` with the upstream's own origin replaced by the public one; other URLs unchanged."""
    if url.lower().startswith(upstream_base.lower()):
        rest = url[len(upstream_base) :]
        if not rest or rest[0] in "/?#":
            return public + rest
    return url
