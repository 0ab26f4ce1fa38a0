"""The canonical encoding a record's digest covers: different records never encode alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway.store import ConsentRecord
from gateway.store.chain import FIELD_COUNT, SEPARATOR, canonical, digest
from gateway.store.sqlite import from_row, to_row

RECORD = ConsentRecord(
    consent_id="0b5e8c1e-3f0a-4c51-9d1e-6f1f2a3b4c5d",
    recorded_at=datetime(2026, 11, 1, 12, 30, 15, 123456, tzinfo=UTC),
    granted=("functional",),
    denied=("analytics", "marketing"),
    revision=3,
    method="reject_all",
    language="nl",
    banner_hash="ab" * 8,
    page_path="/cursus/excel",
    ip_prefix="192.0.2.0",
    browser="Firefox",
    device="desktop",
    gpc=False,
)

text = st.text(max_size=12)
any_text = st.one_of(text, st.text(alphabet=st.sampled_from([SEPARATOR, ",", "a", "\\", '"', "é"]), max_size=6))
records = st.builds(
    ConsentRecord,
    consent_id=any_text,
    recorded_at=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
    granted=st.lists(st.sampled_from(["functional", "analytics", "marketing"]), unique=True).map(tuple),
    denied=st.lists(st.sampled_from(["functional", "analytics", "marketing"]), unique=True).map(tuple),
    revision=st.integers(-(2**40), 2**40),
    method=any_text,
    language=any_text,
    banner_hash=any_text,
    page_path=any_text,
    ip_prefix=st.one_of(st.none(), any_text),
    browser=any_text,
    device=any_text,
    gpc=st.booleans(),
)


@given(records, records)
def test_different_records_encode_differently(first: ConsentRecord, second: ConsentRecord) -> None:
    assert (canonical(first) == canonical(second)) == (first == second)


@given(
    records,
    st.sampled_from(["consent_id", "method", "language", "banner_hash", "page_path", "browser", "device"]),
    any_text,
)
def test_one_text_field_changed_changes_the_encoding(record: ConsentRecord, name: str, value: str) -> None:
    changed = replace(record, **{name: value})
    assert (canonical(changed) == canonical(record)) == (changed == record)


@given(records)
def test_a_field_moved_across_the_separator_changes_the_encoding(record: ConsentRecord) -> None:
    moved = replace(record, method=record.method + SEPARATOR + record.language, language="")
    swapped = replace(record, method=record.method + SEPARATOR, language=record.language)
    assert canonical(moved) != canonical(replace(record))
    assert canonical(swapped) != canonical(record)


def test_every_field_counts() -> None:
    changes = {
        "consent_id": "0b5e8c1e-3f0a-4c51-9d1e-6f1f2a3b4c5e",
        "recorded_at": RECORD.recorded_at + timedelta(microseconds=1),
        "granted": (),
        "denied": ("analytics",),
        "revision": 4,
        "method": "custom",
        "language": "en",
        "banner_hash": "ab" * 7 + "ac",
        "page_path": "/cursus/word",
        "ip_prefix": None,
        "browser": "Chrome",
        "device": "mobile",
        "gpc": True,
    }
    digests = {digest(replace(RECORD, **{name: value})) for name, value in changes.items()}
    assert len(digests) == len(changes) and digest(RECORD) not in digests
    assert digest(replace(RECORD, ip_prefix="")) != digest(replace(RECORD, ip_prefix=None))


def test_plain_records_are_joined_and_odd_ones_spelt_out() -> None:
    assert canonical(RECORD).count(SEPARATOR.encode()) == FIELD_COUNT - 1
    odd = canonical(replace(RECORD, page_path=f"/a{SEPARATOR}b"))
    assert odd.startswith(SEPARATOR.encode() * FIELD_COUNT) and odd.count(SEPARATOR.encode()) == FIELD_COUNT


@given(records)
def test_the_sqlite_row_carries_the_digest_verify_recomputes(record: ConsentRecord) -> None:
    row = to_row(record)
    read_back = from_row(row[:-1])
    assert row[-1] == digest(record)
    if read_back == record:  # times whose float seconds read back exactly (as SQLite stores them)
        assert digest(read_back) == row[-1]
