"""robots.txt, read as RFC 9309 says: missing (4xx) allows everything, unreachable (5xx, no answer) nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from gateway.scan.page import USER_AGENT

# Fetches a URL of the site: (status, body), status 0 when nothing came back.
Fetch = Callable[[str], Awaitable[tuple[int, bytes]]]
ROBOTS_AGENT = USER_AGENT.split("/", 1)[0]  # the product token robots.txt groups name


class Robots:
    """The rules of one site's robots.txt for the scan's user agent."""

    def __init__(self, parser: RobotFileParser, note: str) -> None:
        self.parser = parser
        self.note = note  # what the scan says about it

    @classmethod
    async def read(cls, start: str, fetch: Fetch) -> Robots:
        parts = urlsplit(start)
        url = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
        status, body = await fetch(url)
        parser = RobotFileParser(url)
        if 200 <= status < 300:
            parser.parse(body.decode("utf-8", "replace").splitlines())
            return cls(parser, f"robots.txt read ({url})")
        if 400 <= status < 500:
            parser.allow_all = True
            return cls(parser, f"no robots.txt (HTTP {status}): every page may be read")
        return cls.unreachable(f"HTTP {status}" if status else "no answer")

    @classmethod
    def unreachable(cls, why: str) -> Robots:
        """No robots.txt to go by: the scan reads no page (it cannot tell what the site allows)."""
        parser = RobotFileParser()
        parser.disallow_all = True
        return cls(parser, f"robots.txt unreachable ({why}): no page may be read")

    def allows(self, url: str) -> bool:
        return self.parser.can_fetch(ROBOTS_AGENT, url)
