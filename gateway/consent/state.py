"""A visitor's consent and its signed cookie form.

The token is ``<payload>.<timestamp>.<signature>`` from itsdangerous'
``TimestampSigner``; the payload is unpadded base64url of compact JSON so
the banner script can read it with ``atob`` (nothing is compressed). The
server never trusts a token it has not verified: anything expired,
tampered, unparsable or signed for another revision reads as "no consent".
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from itsdangerous import BadSignature, TimestampSigner
from itsdangerous.encoding import base64_decode, base64_encode, want_bytes

from gateway.settings import REQUIRED_CATEGORY

METHODS = ("accept_all", "reject_all", "custom", "gpc", "withdraw")
TOKEN_SALT = "consent-gateway.cookie"
COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # what json.dumps(separators=...) builds on every call


@dataclass(frozen=True)
class Consent:
    """One choice: who (a random id), what was granted, under which policy, when and how."""

    id: str | None
    categories: frozenset[str]
    revision: int
    given_at: float | None = None
    method: str | None = None
    gpc: bool = False

    @classmethod
    def undecided(cls, revision: int, required: str = REQUIRED_CATEGORY, gpc: bool = False) -> Consent:
        return cls(None, frozenset({required}), revision, gpc=gpc)

    @property
    def decided(self) -> bool:
        return self.id is not None

    def allows(self, category: str) -> bool:
        return category in self.categories

    def as_json(self, order: Iterable[str]) -> dict:
        return {
            "id": self.id,
            "decided": self.decided,
            "categories": [name for name in order if name in self.categories],
            "revision": self.revision,
            "method": self.method,
            "given_at": self.given_at,
            "gpc": self.gpc,
        }


class RandomPool:
    """``os.urandom`` bytes fetched in bulk and handed out in slices.

    ``uuid.uuid4()`` calls ``os.urandom(16)`` per id, and that call lets go of
    the GIL: under load the store's writer thread then takes the interpreter
    for a whole switch interval, once per recorded choice. The bytes are the
    same CSPRNG output; a forked child starts with an empty pool so no two
    processes ever hand out the same bytes.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.buffer = b""
        self.offset = 0

    def take(self, count: int) -> bytes:
        with self.lock:
            if self.offset + count > len(self.buffer):
                self.buffer = os.urandom(max(self.size, count))
                self.offset = 0
            start = self.offset
            self.offset += count
            return self.buffer[start : self.offset]


RANDOM = RandomPool()


def new_consent_id() -> str:
    """A random (version 4) UUID, as ``str(uuid.uuid4())`` writes it, without making a ``UUID``."""
    raw = bytearray(RANDOM.take(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    digits = raw.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class KeyCachingSigner(TimestampSigner):
    """``TimestampSigner`` that derives each key once instead of on every sign and verify.

    The derivation is a hash of salt and secret, fixed for the signer's life;
    tokens are byte for byte the same as itsdangerous' own.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        cache_key = secret_key if secret_key is None or isinstance(secret_key, bytes) else secret_key.encode()
        key = self._derived.get(cache_key)
        if key is None:
            key = self._derived[cache_key] = super().derive_key(secret_key)
        return key

    def get_signature(self, value: str | bytes) -> bytes:
        """The same HMAC as itsdangerous' ``HMACAlgorithm``, through the one-shot ``hmac.digest``."""
        return base64_encode(hmac.digest(self.derive_key(), want_bytes(value), self.digest_method))

    def verify_signature(self, value: str | bytes, sig: str | bytes) -> bool:
        try:
            signature = base64_decode(sig)
        except Exception:
            return False
        message = want_bytes(value)
        return any(
            hmac.compare_digest(signature, hmac.digest(self.derive_key(secret), message, self.digest_method))
            for secret in reversed(self.secret_keys)
        )


@dataclass(frozen=True)
class TokenCodec:
    """Signs consents into cookie tokens and verifies them.

    ``secrets`` are newest first: the first signs, every one verifies, so a
    key can be rotated without forgetting every visitor's choice.
    """

    secrets: tuple[str, ...]
    max_age: int
    _signer: TimestampSigner = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # itsdangerous signs with the *last* key of the list.
        signer = KeyCachingSigner(list(reversed(self.secrets)), salt=TOKEN_SALT)
        object.__setattr__(self, "_signer", signer)

    def dumps(self, consent: Consent) -> str:
        payload = {
            "i": consent.id,
            "c": sorted(consent.categories),
            "r": consent.revision,
            "t": int(consent.given_at or time.time()),
            "m": consent.method,
        }
        if consent.gpc:
            payload["g"] = 1
        raw = COMPACT_JSON.encode(payload).encode()
        encoded = base64.urlsafe_b64encode(raw).rstrip(b"=")
        return self._signer.sign(encoded).decode("ascii")

    def loads(self, token: str | None) -> Consent | None:
        """The consent in ``token``, or ``None`` when it cannot be trusted."""
        verified = self.loads_signed(token)
        return verified[0] if verified is not None else None

    def loads_signed(self, token: str | None) -> tuple[Consent, int] | None:
        """The consent in ``token`` and when it was signed (Unix seconds), or ``None`` when it cannot be trusted."""
        if not token:
            return None
        try:
            encoded, signed_at = self._signer.unsign(token, max_age=self.max_age, return_timestamp=True)
            payload = json.loads(base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4)))
            consent = Consent(
                id=str(uuid.UUID(payload["i"])),
                categories=frozenset(str(c) for c in payload["c"]),
                revision=int(payload["r"]),
                given_at=float(payload["t"]),
                method=payload.get("m") if payload.get("m") in METHODS else None,
                gpc=bool(payload.get("g")),
            )
        except (BadSignature, binascii.Error, ValueError, KeyError, TypeError, AttributeError):
            return None
        return consent, int(signed_at.timestamp())

    def is_fresh(self, signed_at: int, now: float | None = None) -> bool:
        """Is a token signed at ``signed_at`` still within ``max_age``? The same rule as itsdangerous' ``unsign``."""
        age = int(now if now is not None else time.time()) - signed_at
        return 0 <= age <= self.max_age
