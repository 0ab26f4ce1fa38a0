"""Who is the visitor, network-wise: the client address and its anonymised form.

Forwarding headers are only believed when the connecting peer is one of the
configured trusted proxies; the chain is walked from the right so a visitor
cannot smuggle in an address of their choosing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from starlette.datastructures import Headers
from starlette.types import Scope

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4096)
def parse_address(text: str) -> Address | None:
    """An address from a header element: brackets, ports and quotes removed.

    Cached: ``ipaddress`` parsing costs tens of microseconds and runs several
    times per consent write; addresses are immutable, the cache is bounded."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def forwarded_chain(headers: Headers) -> list[str]:
    """Addresses named by ``Forwarded`` (RFC 7239), else ``X-Forwarded-For``, in order."""
    forwarded = headers.getlist("forwarded")
    if forwarded:
        chain = []
        for element in ",".join(forwarded).split(","):
            for pair in element.split(";"):
                name, _, value = pair.partition("=")
                if name.strip().lower() == "for":
                    chain.append(value)
        return chain
    return [part for value in headers.getlist("x-forwarded-for") for part in value.split(",")]


def is_trusted(address: Address | None, trusted: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)


def client_address(scope: Scope, trusted: Sequence[Network]) -> Address | None:
    """The visitor's address, following forwarding headers only through trusted proxies."""
    peer = scope.get("client")
    address = parse_address(peer[0]) if peer else None
    if not is_trusted(address, trusted):
        return address
    for hop in reversed(forwarded_chain(Headers(scope=scope))):
        hop_address = parse_address(hop)
        if hop_address is None:
            # An unknown or obfuscated hop: stop at the last address we can vouch for.
            return address
        address = hop_address
        if not is_trusted(address, trusted):
            return address
    return address


@lru_cache(maxsize=4096)
def anonymise(address: Address | None) -> str | None:
    """Google's definition: IPv4 keeps /24, IPv6 keeps /48; IPv4-mapped counts as IPv4."""
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
