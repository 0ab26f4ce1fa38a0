"""The middleware's memory of verified consent cookies: fast, and never more trusting than a full check."""

import time

from support.helpers import SECRET, site

from gateway import ConsentMiddleware, Settings
from gateway.consent.cache import VerifiedTokens
from gateway.consent.state import Consent, TokenCodec, new_consent_id
from gateway.net.request import RequestHead

KEY = "cache-secret-0123456789"


class CountingCodec:
    """A real codec that counts full verifications."""

    def __init__(self, max_age: int = 3600) -> None:
        self.codec = TokenCodec((KEY,), max_age=max_age)
        self.verifications = 0

    def dumps(self, consent: Consent) -> str:
        return self.codec.dumps(consent)

    def loads_signed(self, token):
        self.verifications += 1
        return self.codec.loads_signed(token)

    def is_fresh(self, signed_at, now=None):
        return self.codec.is_fresh(signed_at, now)


def choice(revision: int = 1) -> Consent:
    signed_time = float(int(time.time()))  # the token keeps whole seconds
    return Consent(new_consent_id(), frozenset({"functional", "analytics"}), revision, signed_time, "custom")


def test_a_token_is_verified_once_then_answered_from_memory() -> None:
    codec = CountingCodec()
    cache = VerifiedTokens(codec)
    original = choice()
    token = codec.dumps(original)
    answers = [cache.loads(token) for _ in range(5)]
    assert all(answer == original for answer in answers)
    assert answers[0] == TokenCodec((KEY,), max_age=3600).loads(token)
    assert codec.verifications == 1


def test_expiry_is_checked_on_every_hit(monkeypatch) -> None:
    codec = CountingCodec(max_age=60)
    cache = VerifiedTokens(codec)
    token = codec.dumps(choice())
    assert cache.loads(token) is not None
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 30)
    assert cache.loads(token) is not None
    monkeypatch.setattr(time, "time", lambda: real_time() + 61)
    assert cache.loads(token) is None
    assert token not in cache.entries
    assert codec.verifications == 1  # expired from memory, as the codec itself would have said
    assert codec.codec.loads(token) is None


def test_tampered_tokens_are_never_remembered() -> None:
    codec = CountingCodec()
    cache = VerifiedTokens(codec)
    token = codec.dumps(choice())
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    for _ in range(3):
        assert cache.loads(tampered) is None
    assert codec.verifications == 3 and not cache.entries
    assert cache.loads("not a token") is None and cache.loads("") is None and cache.loads(None) is None
    assert not cache.entries


def test_memory_stays_bounded_and_forgets_the_least_recently_used() -> None:
    codec = CountingCodec()
    cache = VerifiedTokens(codec, size=3)
    tokens = [codec.dumps(choice()) for _ in range(10)]
    for token in tokens[:3]:
        cache.loads(token)
    cache.loads(tokens[0])  # used again: now the most recent
    for token in tokens[3:]:
        cache.loads(token)
        assert len(cache.entries) <= 3
    assert list(cache.entries) == tokens[-3:]
    cache.loads(tokens[0])
    assert len(cache.entries) == 3 and tokens[0] in cache.entries


def head(cookie: bytes, gpc: bool = False) -> RequestHead:
    """A request carrying ``cookie`` (and ``Sec-GPC: 1`` with ``gpc``), as the middleware reads it."""
    headers = [(b"cookie", cookie)] + ([(b"sec-gpc", b"1")] if gpc else [])
    return RequestHead({"type": "http", "headers": headers}, ())


def test_middleware_checks_the_revision_of_a_remembered_cookie(db_path) -> None:
    url = f"sqlite:///{db_path}"
    first = ConsentMiddleware(site(), Settings(secret_key=SECRET, database_url=url))
    token = first.components.codec.dumps(choice(revision=1)).encode()
    cookie = b"other=1; consent=" + token
    assert first.read_consent(head(cookie)).decided
    assert first.read_consent(head(cookie)).decided  # from memory
    assert token.decode() in first.verified_tokens.entries

    bumped = ConsentMiddleware(site(), Settings(secret_key=SECRET, database_url=url, revision=2))
    bumped.verified_tokens.entries.update(first.verified_tokens.entries)  # even when remembered...
    stale = bumped.read_consent(head(cookie, gpc=True))
    assert not stale.decided and stale.revision == 2 and stale.gpc  # ...an old revision reads as undecided


def test_middleware_never_trusts_a_tampered_cookie_it_saw_before(db_path) -> None:
    gateway = ConsentMiddleware(site(), Settings(secret_key=SECRET, database_url=f"sqlite:///{db_path}"))
    token = gateway.components.codec.dumps(choice())
    assert gateway.read_consent(head(f"consent={token}".encode())).decided
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    for _ in range(2):
        assert not gateway.read_consent(head(f"consent={tampered}".encode())).decided
    assert tampered not in gateway.verified_tokens.entries
