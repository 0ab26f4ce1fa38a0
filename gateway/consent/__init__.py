"""The visitor's consent: what it is, how it travels, how it is recorded.

``state`` (the ``Consent`` value and its signed token), ``cookie`` (reading
and writing the consent cookie), ``cache`` (verified tokens kept for a
moment), ``choice`` (what the consent endpoints accept and how they refuse)
and ``recorder`` (storing a choice in the consent record).
"""

from gateway.consent.state import Consent

__all__ = ["Consent"]
