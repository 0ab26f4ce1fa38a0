"""What the backend may learn about the visitor: a cut-down address and a cut-down browser.

The address is resolved through trusted proxies only and cut to /24 (IPv4)
or /48 (IPv6); addresses that are not public (private ranges, loopback,
link-local) are never passed on at all. The user agent becomes browser
family and major version plus operating system family, which is what the
reports show and no more than that.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from user_agents import parse

from gateway.net.addresses import Address, Network, anonymise
from gateway.net.request import RequestHead
from gateway.net.useragent import classify

# Not the documentation ranges (203.0.113.0/24 and kin): those stand in for public addresses in tests.
NOT_PUBLIC: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/3",
        "::/127",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


def is_public(address: Address) -> bool:
    return not any(address in network for network in NOT_PUBLIC if network.version == address.version)


def visitor_prefix(head: RequestHead) -> str | None:
    """The visitor's anonymised address, or None when there is none we may pass on."""
    return public_prefix(head.client_address)


@lru_cache(maxsize=8192)
def public_prefix(address: Address | None) -> str | None:
    """Cached: a visitor sends many hits from the same address."""
    return None if address is None or not is_public(address) else anonymise(address)


@lru_cache(maxsize=4096)
def reduced_user_agent(user_agent: str) -> str:
    """``Mozilla/5.0 (Windows) Firefox/128.0``: browser family, major version and OS family only."""
    parsed = parse(user_agent)
    browser = parsed.browser.family.replace("/", " ") or "Other"
    major = parsed.browser.version[0] if parsed.browser.version else None
    system = parsed.os.family.replace("(", "").replace(")", "") or "Other"
    return f"Mozilla/5.0 ({system}) {browser}" + (f"/{major}.0" if major is not None else "")


def is_bot(user_agent: str) -> bool:
    """Automated clients and requests without a user agent (every browser sends one)."""
    return not user_agent.strip() or classify(user_agent).is_bot
