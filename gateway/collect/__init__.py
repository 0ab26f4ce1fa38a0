"""First-party analytics: GA4, Universal Analytics and Matomo hits, consent-checked, anonymised, forwarded.

``Collector`` holds the pieces: ``hits`` (reading each protocol), ``scrub``
(personal data out), ``visitor`` (cut-down address and user agent),
``delivery`` (the bounded queue), ``scripts`` (gtag.js and matomo.js from
the gateway) and ``page`` (pointing a page's trackers at the gateway).
"""

from gateway.collect.endpoints import Collector
from gateway.collect.page import FirstPartyPages

__all__ = ["Collector", "FirstPartyPages"]
