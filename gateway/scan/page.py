"""What one visit of a page found: its third parties, cookie names and links, or why it was skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urldefrag, urlsplit, urlunsplit

from gateway.discovery.tally import Seen

USER_AGENT = "consent-gateway-scan/0.1 (cookie and third-party scan by the site's operator)"
MAX_PAGE_BYTES = 5 * 1024 * 1024  # a page larger than this is skipped
MAX_REDIRECTS = 10


@dataclass
class Visit:
    """One page of the crawl: found (``skipped`` empty) or skipped with a reason."""

    url: str
    status: int = 0
    skipped: str = ""  # why the page was not read ("redirects off-site to ...", "timed out", ...)
    seen: set[Seen] = field(default_factory=set)  # third-party hosts: (kind, host, service)
    cookies: set[str] = field(default_factory=set)  # names of the site's cookies
    links: list[str] = field(default_factory=list)  # absolute URLs the page links to


def page_address(url: str) -> str | None:
    """``url`` without its fragment, when it is an http(s) URL; ``None`` otherwise."""
    url = urldefrag(url.strip())[0]
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit(parts._replace(path=parts.path or "/"))


def same_host(url: str, start: str) -> bool:
    """Is ``url`` on the same host (and port) as ``start``? The scan never leaves it."""
    try:
        a, b = urlsplit(url), urlsplit(start)
        return (a.hostname, a.port or default_port(a.scheme)) == (b.hostname, b.port or default_port(b.scheme))
    except ValueError:
        return False


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
