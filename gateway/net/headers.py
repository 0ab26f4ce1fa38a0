"""Request headers that more than one part of the gateway reads, read the same way by each."""

from __future__ import annotations

from collections.abc import Iterable


def request_cookie(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Every ``Cookie`` header of a request as one: HTTP/2 and some proxies split the cookies over
    several headers (RFC 9113 8.2.3), and each reader must see all of them, the same way."""
    values = [value for name, value in headers if name == b"cookie"]
    return values[0] if len(values) == 1 else b"; ".join(values)
