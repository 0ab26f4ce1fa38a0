import base64
import json
import time

import pytest

from gateway.consent.state import Consent, TokenCodec, new_consent_id

NEW, OLD = "new-secret-0123456789", "old-secret-0123456789"


def consent(**changes) -> Consent:
    values = dict(
        id=new_consent_id(),
        categories=frozenset({"functional", "analytics"}),
        revision=1,
        given_at=1_700_000_000.0,
        method="custom",
    )
    values.update(changes)
    return Consent(**values)


def test_round_trip_keeps_everything() -> None:
    codec = TokenCodec((NEW,), max_age=3600)
    original = consent(gpc=True)
    assert codec.loads(codec.dumps(original)) == original


def test_payload_is_plain_base64url_json_for_the_banner() -> None:
    codec = TokenCodec((NEW,), max_age=3600)
    original = consent()
    encoded = codec.dumps(original).split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert payload["i"] == original.id and payload["r"] == 1
    assert sorted(payload["c"]) == ["analytics", "functional"]


@pytest.mark.parametrize(
    "tamper",
    [
        # signature changed (not its last character: that one also carries unused padding bits)
        lambda t: t[:-5] + ("A" if t[-5] != "A" else "B") + t[-4:],
        lambda t: (
            base64.urlsafe_b64encode(b'{"i":"x","c":["marketing"],"r":1,"t":1}').decode().rstrip("=")
            + t[t.index(".") :]
        ),  # payload swapped
        lambda t: t.split(".")[0],  # signature removed
        lambda t: "",
        lambda t: "not a token at all",
        lambda t: "....",
        lambda t: t + ".extra",
    ],
)
def test_tampered_tokens_mean_no_consent(tamper) -> None:
    codec = TokenCodec((NEW,), max_age=3600)
    assert codec.loads(tamper(codec.dumps(consent()))) is None


def test_signed_garbage_payload_means_no_consent() -> None:
    codec = TokenCodec((NEW,), max_age=3600)
    for payload in (b"[1,2]", b'{"i":"not-a-uuid","c":[],"r":1,"t":0}', b"\xff\xfe"):
        token = codec._signer.sign(base64.urlsafe_b64encode(payload).rstrip(b"=")).decode()
        assert codec.loads(token) is None


def test_expired_token_means_no_consent(monkeypatch) -> None:
    codec = TokenCodec((NEW,), max_age=60)
    token = codec.dumps(consent())
    assert codec.loads(token) is not None
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 61)
    assert codec.loads(token) is None


def test_secret_rotation_first_signs_all_verify() -> None:
    old_codec = TokenCodec((OLD,), max_age=3600)
    rotated = TokenCodec((NEW, OLD), max_age=3600)
    old_token = old_codec.dumps(consent())
    assert rotated.loads(old_token) is not None
    new_token = rotated.dumps(consent())
    assert TokenCodec((NEW,), max_age=3600).loads(new_token) is not None
    assert old_codec.loads(new_token) is None


def test_undecided_consent_grants_only_functional() -> None:
    undecided = Consent.undecided(revision=2)
    assert not undecided.decided
    assert undecided.allows("functional") and not undecided.allows("analytics")


def test_consent_ids_are_distinct_version_4_uuids_also_across_forks() -> None:
    import os
    import uuid

    ids = [new_consent_id() for _ in range(2000)]  # more than one pool's worth of bytes
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)
    assert all(uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    new_consent_id()  # the pool now holds unused bytes a child inherits
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, new_consent_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    child_id = os.read(read, 100).decode()
    os.close(read)
    assert uuid.UUID(child_id).version == 4
    assert child_id != new_consent_id()  # the child did not reuse the bytes the parent hands out next


def test_a_consent_id_is_what_uuid_makes_of_the_same_bytes(monkeypatch) -> None:
    import os
    import uuid

    from gateway.consent import state

    for raw in [bytes(16), b"\xff" * 16, *(os.urandom(16) for _ in range(500))]:
        monkeypatch.setattr(state.RANDOM, "take", lambda count, raw=raw: raw)
        assert new_consent_id() == str(uuid.UUID(bytes=raw, version=4))
