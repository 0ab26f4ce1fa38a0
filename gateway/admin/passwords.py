"""Admin passwords kept as PBKDF2-SHA256 hashes: ``pbkdf2_sha256:<iterations>:<salt>:<hash>``.

Colons, not the usual dollar signs, separate the parts so a hash can be
pasted into an environment variable or a compose file without quoting.
Salt and hash are unpadded base64url.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
MIN_ITERATIONS = 1_000
SALT_BYTES = 16


def hash_password(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{ALGORITHM}:{iterations}:{_encode(salt)}:{_encode(derived)}"


def parse_password_hash(encoded: str) -> tuple[int, bytes, bytes]:
    """Iterations, salt and hash; ``ValueError`` saying what is wrong with ``encoded``."""
    parts = encoded.strip().split(":")
    if len(parts) != 4 or parts[0] != ALGORITHM:
        raise ValueError(
            f"expected {ALGORITHM}:<iterations>:<salt>:<hash> (make one: consent-gateway admin hash-password)"
        )
    if not parts[1].isdigit() or int(parts[1]) < MIN_ITERATIONS:
        raise ValueError(f"the iteration count must be a number of at least {MIN_ITERATIONS}")
    try:
        salt, derived = _decode(parts[2]), _decode(parts[3])
    except ValueError:
        raise ValueError("salt and hash must be base64url") from None
    if len(salt) < 8 or len(derived) != hashlib.sha256().digest_size:
        raise ValueError("salt or hash has the wrong length")
    return int(parts[1]), salt, derived


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time comparison; costs one full PBKDF2 run whatever the outcome."""
    iterations, salt, expected = parse_password_hash(encoded)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return hmac.compare_digest(derived, expected)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError(str(error)) from None
