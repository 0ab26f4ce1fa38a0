"""Who is the visitor, network-wise: addresses parsed, trusted proxies recognised, the anonymised form.

The client address behind trusted proxies is ``RequestHead.client_address``
(``gateway.net.request``), worked out once per request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4096)
def parse_address(text: str) -> Address | None:
    """An address from a header element: brackets, ports and quotes removed.

    Cached: ``ipaddress`` parsing costs tens of microseconds and the same peers
    and proxies come back request after request; addresses are immutable, the cache is bounded."""
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


def is_trusted(address: Address | None, trusted: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)


@lru_cache(maxsize=4096)
def anonymise(address: Address | None) -> str | None:
    """Google's definition: IPv4 keeps /24, IPv6 keeps /48; IPv4-mapped counts as IPv4."""
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
