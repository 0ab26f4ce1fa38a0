"""Verified consent tokens, remembered: a visitor sends the same cookie with every page and hit.

Verifying a token (HMAC, base64, JSON, UUID) costs tens of microseconds;
looking it up costs well under one. Only tokens that verified are kept, so a
tampered token is checked in full every time it comes back. The signing time
is kept beside the consent and expiry is checked on every hit; the revision
is the caller's to check, as for an uncached token. The cache holds at most
``size`` tokens and forgets the least recently used first.
"""

from __future__ import annotations

from collections import OrderedDict

from gateway.consent.state import Consent, TokenCodec

DEFAULT_SIZE = 4096


class VerifiedTokens:
    def __init__(self, codec: TokenCodec, size: int = DEFAULT_SIZE) -> None:
        self.codec = codec
        self.size = size
        self.entries: OrderedDict[str, tuple[Consent, int]] = OrderedDict()

    def loads(self, token: str | None) -> Consent | None:
        """What ``codec.loads(token)`` answers, from memory when the token verified before."""
        if not token:
            return None
        entry = self.entries.get(token)
        if entry is not None:
            consent, signed_at = entry
            if self.codec.is_fresh(signed_at):
                self.entries.move_to_end(token)
                return consent
            del self.entries[token]  # expired: it will never verify again
            return None
        verified = self.codec.loads_signed(token)
        if verified is None:
            return None
        self.entries[token] = verified
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return verified[0]
