"""Headers across the proxy hop: what the upstream is told, and what the visitor gets back.

Hop-by-hop headers stop here. Forwarding headers are rebuilt by the gateway
(a visitor's own ``X-Forwarded-For`` is only kept when it came through a
trusted proxy). When the public host differs from the upstream's, the
upstream's own address in ``Location``, ``Content-Location`` and cookie
``Domain`` attributes is replaced, so visitors never get sent around the
gateway.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from starlette.types import Scope

from gateway.net.addresses import parse_address
from gateway.net.request import request_head
from gateway.settings import Settings

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
# Headers in which proxies and CDNs name the client's address. An upstream may believe any of them,
# so a visitor's own never cross; behind a trusted proxy the ones it sent carry the address this
# hop worked out (``client_address``), like ``X-Forwarded-For``.
CLIENT_IP = ("x-real-ip", "true-client-ip", "cf-connecting-ip", "x-client-ip", "x-cluster-client-ip")
# Replaced with what this hop knows; a visitor must not be able to set them.
FORWARDING = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", *CLIENT_IP})
DROPPED_REQUEST = frozenset(name.encode() for name in HOP_BY_HOP | FORWARDING | {"host"})


def request_headers(scope: Scope, settings: Settings, upstream_host: str) -> list[tuple[str, str]]:
    """Headers for the upstream request: the visitor's, less hop-by-hop, plus forwarding information."""
    kept, host = passed_on(scope)
    forwarded = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in kept]
    return forwarded + forwarding_headers(scope, settings, upstream_host, host)


def passed_on(scope: Scope) -> tuple[list[tuple[bytes, bytes]], str]:
    """The visitor's headers that cross the hop, and the ``Host`` they asked for."""
    dropped = DROPPED_REQUEST
    host = None
    headers = scope["headers"]
    for name, value in headers:
        if name == b"host" and host is None:
            host = value.decode("latin-1")
        elif name == b"connection":
            dropped = dropped | connection_tokens(value)
    return [(k, v) for k, v in headers if k not in dropped], host or ""


def forwarding_headers(scope: Scope, settings: Settings, upstream_host: str, host: str) -> list[tuple[str, str]]:
    """``Host`` for the upstream and the forwarding headers this hop vouches for."""
    head = request_head(scope, settings.trusted_proxies)
    chain: list[str] = []
    if head.from_trusted_proxy:
        chain = [hop.strip() for hop in head.forwarded_chain]
    # Without a trusted proxy in front (the common case) nothing forwarded is believed:
    # the visitor is the peer and the scheme the connection's.
    visitor, scheme = head.client_address, head.scheme
    if head.peer is not None:
        chain.append(head.peer)
    upstream = host if settings.preserve_host and host else upstream_host
    forwarding = forwarding_list(upstream, ", ".join(chain), scheme, host, visitor)
    if head.from_trusted_proxy and visitor is not None:
        forwarding += [(name, str(visitor)) for name in CLIENT_IP if head_has(scope, name.encode())]
    return forwarding


def head_has(scope: Scope, name: bytes) -> bool:
    return any(key == name for key, _ in scope["headers"])


def forwarding_list(upstream: str, chain: str, scheme: str, host: str, visitor: object) -> list[tuple[str, str]]:
    return [
        ("host", upstream),
        ("x-forwarded-for", chain),
        ("x-forwarded-proto", scheme),
        ("x-forwarded-host", host),
        ("forwarded", forwarded_element(visitor, scheme, host)),
    ]


@functools.lru_cache(maxsize=256)
def connection_tokens(value: bytes) -> frozenset[bytes]:
    """The header names a ``Connection`` header lists (hop-by-hop too); the same few values repeat."""
    return frozenset(token.strip().lower().encode() for token in value.decode("latin-1").split(","))


def upstream_request_head(
    scope: Scope,
    settings: Settings,
    upstream_host: str,
    target: bytes,
    method: bytes = b"GET",
    chunked: bool = False,
) -> bytes:
    """The HTTP/1.1 head of a request to ``target`` with ``request_headers``, built as bytes (the proxy's hot
    path; header values were checked by the server that received them). ``chunked``: the body follows in
    chunks (the visitor's ``Transfer-Encoding`` is hop-by-hop and does not cross by itself).

    Without a trusted proxy in front, the forwarding lines depend only on the
    peer, the host asked for and the scheme, which repeat: they are kept.
    """
    kept, host = passed_on(scope)
    head = request_head(scope, settings.trusted_proxies)
    if head.peer is not None and not head.from_trusted_proxy:
        upstream = host if settings.preserve_host and host else upstream_host
        forwarding = untrusted_forwarding(head.peer, host, head.transport_scheme, upstream)
    else:
        forwarding = head_lines(forwarding_headers(scope, settings, upstream_host, host))
    lines = [method + b" " + target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in kept]
    if chunked:
        lines.append(b"transfer-encoding: chunked")
    lines.append(forwarding)
    return b"\r\n".join(lines)


def head_lines(headers: list[tuple[str, str]]) -> bytes:
    """Header lines, each ended, and the empty line that ends a head."""
    return "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1") + b"\r\n"


@functools.lru_cache(maxsize=4096)
def untrusted_forwarding(peer: str, host: str, scheme: str, upstream: str) -> bytes:
    """The lines ``forwarding_headers`` makes for a peer that is no trusted proxy, ending the head."""
    return head_lines(forwarding_list(upstream, peer, scheme, host, parse_address(peer)))


def forwarded_element(visitor: object, scheme: str, host: str) -> str:
    """One RFC 7239 element; IPv6 addresses are bracketed and every value quoted."""
    parts = [f"proto={scheme}", f'host="{host}"']
    if visitor is not None:
        address = str(visitor)
        parts.insert(0, f'for="[{address}]"' if ":" in address else f'for="{address}"')
    return ";".join(parts)


COOKIE_DOMAIN = re.compile(rb";\s*domain=[^;]*", re.IGNORECASE)


def response_headers(
    raw_headers: Iterable[tuple[bytes, bytes]], scope: Scope, settings: Settings, upstream_base: str
) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers (its raw header pairs) as the visitor should see them."""
    headers = []
    listed: frozenset[bytes] = frozenset()  # further headers the upstream's Connection header names
    addressed = False
    for raw_name, value in raw_headers:
        name = raw_name.lower()
        if name in DROPPED_RESPONSE:
            if name == b"connection":
                listed = listed | (connection_tokens(value) - DROPPED_RESPONSE)
            continue
        addressed = addressed or name in PUBLIC_ADDRESSED
        headers.append((name, value))
    if listed:  # rare: "keep-alive" and "close" are hop-by-hop already
        headers = [(name, value) for name, value in headers if name not in listed]
        addressed = any(name in PUBLIC_ADDRESSED for name, _ in headers)
    if addressed:
        headers = to_public_headers(headers, scope, settings, upstream_base)
    return headers


# uvicorn writes its own Date: one is enough.
DROPPED_RESPONSE = frozenset(name.encode() for name in HOP_BY_HOP | {"date"})
# Headers that may name the upstream's own address.
PUBLIC_ADDRESSED = frozenset({b"location", b"content-location", b"set-cookie"})


def to_public_headers(
    headers: list[tuple[bytes, bytes]], scope: Scope, settings: Settings, upstream_base: str
) -> list[tuple[bytes, bytes]]:
    """``Location``, ``Content-Location`` and cookie domains moved to the public host when it differs."""
    public = request_head(scope, settings.trusted_proxies).own_origin or ""
    if not public or public == upstream_base.lower():
        return headers
    rewritten = []
    for name, value in headers:
        if name in (b"location", b"content-location"):
            value = to_public(value.decode("latin-1"), upstream_base, public).encode("latin-1")
        elif not settings.preserve_host and name == b"set-cookie":
            value = COOKIE_DOMAIN.sub(b"", value)  # the upstream's domain: host-only on the public host instead
        rewritten.append((name, value))
    return rewritten


def to_public(url: str, upstream_base: str, public: str) -> str:
    """``url`` with the upstream's own origin replaced by the public one; other URLs unchanged."""
    if url.lower().startswith(upstream_base.lower()):
        rest = url[len(upstream_base) :]
        if not rest or rest[0] in "/?#":
            return public + rest
    return url
