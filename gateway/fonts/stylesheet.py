"""A font CDN's stylesheet made first-party: its font files on the gateway, nothing else fetched.

Relative references resolve against the vendor's own URL, as they would in
the browser (Font Awesome names ``../webfonts/...``), and every reference to
a catalogued font host becomes the gateway's path for it. Anything else the
stylesheet would fetch from elsewhere (an ``@import`` of another host, a
counting pixel) is neutralised the way the page rewriter holds a URL, for
good: the visitor's address reaches no one through a first-party font.
"""

from __future__ import annotations

from gateway.fonts.hosts import FontHosts
from gateway.net.urls import resolve
from gateway.pages.styles import neutralise, replace_urls


def first_party_stylesheet(css: str, url: str, hosts: FontHosts) -> str:
    """The stylesheet fetched from ``url`` (the vendor's URL) with its fetches pointed at the gateway."""
    css = replace_urls(css, lambda reference: hosts.local_url(resolve(reference, url))) or css

    vendor = resolve(url, url)
    vendor_host = vendor.host if vendor is not None else ""

    def elsewhere(reference: str) -> bool:  # our paths resolve against the vendor's URL to the vendor's host
        target = resolve(reference, url)
        return target is not None and not (target.host == vendor_host and target.path.startswith(hosts.base))

    neutral = neutralise(css, elsewhere)
    return css if neutral is None else neutral[0]
