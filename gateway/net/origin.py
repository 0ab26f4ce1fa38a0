"""Where a request comes from: the gateway's own origin, and cross-site refusal.

State-changing consent requests must come from the site itself: a page on
another site must not be able to record or withdraw a choice for a visitor.
Browsers say where a request comes from (``Sec-Fetch-Site``, ``Origin``,
``Referer``); a client that says nothing is no browser acting for a visitor.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

from gateway.net.addresses import Network, is_trusted, parse_address

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(url: str) -> str | None:
    """``scheme://host[:port]`` in lower case, default port left out; ``None`` when unparsable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    suffix = f":{port}" if port and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}".lower()


def request_scheme(scope: Scope, trusted: Sequence[Network]) -> str:
    """``http`` or ``https`` as the visitor sees it (``X-Forwarded-Proto`` from trusted proxies only)."""
    scheme = scope.get("scheme", "http")
    peer = scope.get("client")
    if peer and is_trusted(parse_address(peer[0]), trusted):
        forwarded = Headers(scope=scope).get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded in DEFAULT_PORTS:
            scheme = forwarded
    return scheme


def request_origin(scope: Scope, trusted: Sequence[Network]) -> str | None:
    headers = Headers(scope=scope)
    host = headers.get("host", "")
    peer = scope.get("client")
    if peer and is_trusted(parse_address(peer[0]), trusted):
        host = headers.get("x-forwarded-host", host).split(",")[0].strip()
    return normalise_origin(f"{request_scheme(scope, trusted)}://{host}")


def is_cross_site(scope: Scope, trusted: Sequence[Network], allowed: Collection[str] = ()) -> bool:
    """Does a browser say this request comes from a site other than ours and the allowed ones?"""
    origin, referer, fetch_site = first_values(scope, (b"origin", b"referer", b"sec-fetch-site"))
    claimed = origin or referer
    claimed_origin = normalise_origin(claimed) if claimed else None
    if claimed_origin is not None and claimed_origin in allowed:
        return False
    if fetch_site == "cross-site":
        return True
    if claimed is None:
        return False
    own = request_origin(scope, trusted)
    return own is None or claimed_origin != own


def first_values(scope: Scope, names: tuple[bytes, ...]) -> list[str | None]:
    """The first value of each header in ``names`` (lower case), in one pass; ``None`` when absent.

    ``Headers.get`` walks the list once per name and raises inside for a missing
    one; this runs on every consent write."""
    values: list[str | None] = [None] * len(names)
    for name, value in scope["headers"]:
        if name in names:
            index = names.index(name)
            if values[index] is None:
                values[index] = value.decode("latin-1")
    return values
