"""What the gateway reads from a request's head, parsed once per request and kept in the scope.

Several layers look at the same request: the middleware (the consent cookie,
GPC), the consent API (where a write comes from, the scheme for the cookie's
``Secure`` flag, the visitor's address and browser for the record), the
pages (host, cookies, ``Sec-Fetch-Dest``), the admin, the analytics
endpoints and the proxy (the forwarding headers). The middleware walks the
headers once as a request comes in and keeps the ``RequestHead`` in the
scope; every later reader gets that one through ``request_head`` (which
parses the head itself when nobody did, as for a WebSocket the proxy
bridges). What is derived from the headers (the parsed cookies, the client
address behind trusted proxies, the visitor's origin) is worked out on first
use and kept too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from starlette.requests import cookie_parser
from starlette.types import Scope

from gateway.net.addresses import Address, Network, is_trusted, parse_address
from gateway.net.origin import DEFAULT_PORTS, normalise_origin

SCOPE_KEY = "consent_gateway.request_head"

# Headers that may come more than once and are read as one, joined with their list separator.
# Several Cookie headers are one cookie string: HTTP/2 and some proxies split the cookies over
# several (RFC 9113 8.2.3), and every reader must see all of them, the same way.
JOINED = {b"cookie": b"; ", b"forwarded": b",", b"x-forwarded-for": b",", b"accept-encoding": b","}
# Every header read; of the others only the first value counts.
READ = frozenset(
    {
        *JOINED,
        b"sec-gpc",
        b"host",
        b"origin",
        b"referer",
        b"sec-fetch-site",
        b"sec-fetch-dest",
        b"user-agent",
        b"accept-language",
        b"authorization",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"if-none-match",
        b"range",
        b"if-range",
    }
)

T = TypeVar("T")


class once(Generic[T]):  # noqa: N801 - used like functools.cached_property
    """``functools.cached_property`` without the lock Python 3.11 takes on every first read: a head is
    never shared between threads, and these are read on every request."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, head: Any, owner: type | None = None) -> T:
        if head is None:
            return self  # type: ignore[return-value]  # looked up on the class
        value = head.__dict__[self.name] = self.compute(head)  # found before this descriptor from now on
        return value


class header:  # noqa: N801 - used like a property
    """One header's text (latin-1), or ``default`` when the request has none; decoded on first read
    and kept in the head like ``once``."""

    def __init__(self, name: bytes, default: str | None = None) -> None:
        self.header_name = name
        self.default = default

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, head: Any, owner: type | None = None) -> Any:
        if head is None:
            return self
        raw = head.values.get(self.header_name)
        value = head.__dict__[self.attribute] = self.default if raw is None else raw.decode("latin-1")
        return value


class RequestHead:
    """The headers the gateway reads, from one pass over ``scope["headers"]``.

    ``values`` holds the raw first value of each header in ``READ`` (the ones
    in ``JOINED``: all values joined). What the middleware reads on every
    request is set at once; the rest is worked out when first read.
    """

    def __init__(self, scope: Scope, trusted: Sequence[Network]) -> None:
        self.trusted = trusted
        client = scope.get("client")
        self.peer: str | None = client[0] if client else None
        self.transport_scheme: str = scope.get("scheme", "http")
        values: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name not in READ:  # one set lookup per header: most are none of these
                continue
            first = values.get(name)
            if first is None:
                values[name] = value
            elif name in JOINED:
                values[name] = first + JOINED[name] + value
        self.values = values
        self.cookie: bytes | None = values.get(b"cookie")  # every Cookie header as one; None without any
        gpc = values.get(b"sec-gpc")
        self.gpc = gpc is not None and gpc.strip() == b"1"  # Global Privacy Control
        self.accept_encoding: bytes | None = values.get(b"accept-encoding")
        # If-None-Match, Range or If-Range: the middleware has the page rules look at them.
        self.conditional = b"if-none-match" in values or b"range" in values or b"if-range" in values

    def text(self, name: bytes) -> str | None:
        value = self.values.get(name)
        return None if value is None else value.decode("latin-1")

    # ---- the visitor's cookies and signals ----------------------------------------------------

    @once
    def cookies(self) -> dict[str, str]:
        """The cookies by name, parsed once for every reader."""
        cookie = self.cookie
        return cookie_parser(cookie.decode("latin-1")) if cookie else {}

    user_agent = header(b"user-agent", "")
    accept_language = header(b"accept-language")
    authorization = header(b"authorization")

    # ---- what the page asked for ----------------------------------------------------------------

    host = header(b"host", "")  # the Host the client asked for (no forwarding header consulted)
    fetch_dest = header(b"sec-fetch-dest")

    # ---- where it comes from ------------------------------------------------------------------

    origin = header(b"origin")
    referer = header(b"referer")
    fetch_site = header(b"sec-fetch-site")

    @once
    def peer_address(self) -> Address | None:
        """The address of whoever connected: the visitor, or a proxy in front."""
        return parse_address(self.peer) if self.peer else None

    @once
    def from_trusted_proxy(self) -> bool:
        """Was the request handed on by a trusted proxy? Only then are forwarding headers believed."""
        return is_trusted(self.peer_address, self.trusted)

    @once
    def forwarded_chain(self) -> list[str]:
        """Addresses named by ``Forwarded`` (RFC 7239), else ``X-Forwarded-For``, in order."""
        forwarded = self.text(b"forwarded")
        if forwarded is not None:
            chain = []
            for element in forwarded.split(","):
                for pair in element.split(";"):
                    name, _, value = pair.partition("=")
                    if name.strip().lower() == "for":
                        chain.append(value)
            return chain
        forwarded_for = self.text(b"x-forwarded-for")
        return forwarded_for.split(",") if forwarded_for is not None else []

    @once
    def client_address(self) -> Address | None:
        """The visitor's address, following forwarding headers only through trusted proxies.

        The chain is walked from the right, so a visitor cannot smuggle in an address of their choosing."""
        address = self.peer_address
        if not self.from_trusted_proxy:
            return address
        for hop in reversed(self.forwarded_chain):
            hop_address = parse_address(hop)
            if hop_address is None:
                # An unknown or obfuscated hop: stop at the last address we can vouch for.
                return address
            address = hop_address
            if not is_trusted(address, self.trusted):
                return address
        return address

    @once
    def scheme(self) -> str:
        """``http`` or ``https`` as the visitor sees it (``X-Forwarded-Proto`` from trusted proxies only)."""
        if self.from_trusted_proxy:
            forwarded = (self.text(b"x-forwarded-proto") or "").split(",")[0].strip().lower()
            if forwarded in DEFAULT_PORTS:
                return forwarded
        return self.transport_scheme

    @once
    def own_origin(self) -> str | None:
        """The gateway's own origin as the visitor sees it (``X-Forwarded-Host`` from trusted proxies only)."""
        host = self.host
        if self.from_trusted_proxy:
            host = (self.text(b"x-forwarded-host") or host).split(",")[0].strip()
        return normalise_origin(f"{self.scheme}://{host}")


def request_head(scope: Scope, trusted: Sequence[Network]) -> RequestHead:
    """The request's head, parsed by the first reader and kept in the scope for the others.

    A head parsed under other trusted proxies (a second gateway around the first) is parsed again."""
    head: RequestHead | None = scope.get(SCOPE_KEY)
    if head is None or (head.trusted is not trusted and head.trusted != trusted):
        head = scope[SCOPE_KEY] = RequestHead(scope, trusted)
    return head
