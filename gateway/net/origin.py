"""Where a request comes from: origins in one form, and cross-site refusal.

State-changing consent requests must come from the site itself: a page on
another site must not be able to record or withdraw a choice for a visitor.
Browsers say where a request comes from (``Sec-Fetch-Site``, ``Origin``,
``Referer``); a client that says nothing is no browser acting for a visitor.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from gateway.net.request import RequestHead

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


def is_cross_site(head: RequestHead, allowed: Collection[str] = ()) -> bool:
    """Does a browser say this request comes from a site other than ours and the allowed ones?"""
    claimed = head.origin or head.referer
    claimed_origin = normalise_origin(claimed) if claimed else None
    if claimed_origin is not None and claimed_origin in allowed:
        return False
    if head.fetch_site == "cross-site":
        return True
    if claimed is None:
        return False
    own = head.own_origin
    return own is None or claimed_origin != own
