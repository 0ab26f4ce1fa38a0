"""Tamper evidence: every consent record is chained to the one before it.

Each record gets a ``digest`` (SHA-256 of a canonical encoding of its fields,
``encode_fields``) and a ``chain`` value, ``SHA-256(previous chain || digest)``,
starting from 32 zero bytes. Records are chained in ``seq`` order, and a
store extends the chain under its write lock, so with several writing
processes the chain stays one line. Changing a field breaks that record's
digest; inserting or deleting a record breaks the next chain value.

Two things legitimately change the log:

- **Retention** deletes the oldest records (a prefix in ``seq`` order) after
  checking them, and leaves a checkpoint ``(seq, chain)`` of the last one
  deleted; verification starts from the latest checkpoint.
- **Erasure** (a visitor's request) blanks the fields that can identify
  someone (consent id, page path, IP prefix) and marks the record erased; its
  digest and chain stay, so the chain still verifies around it. An erased
  record's own fields can no longer be checked against its digest.

This detects edits made behind the gateway's back (a stray ``UPDATE``, a
restored backup with rows missing); someone able to rewrite every later
digest and chain value can forge it, unless the head reported by ``records
verify`` is kept somewhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256

from gateway.store.record import ConsentRecord

GENESIS = bytes(32)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
SEPARATOR = "\x1f"  # ASCII unit separator
FIELD_COUNT = 13
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def canonical(record: ConsentRecord) -> bytes:
    """The bytes a record's digest covers (see ``encode_fields``)."""
    return encode_fields(
        record.consent_id,
        (record.recorded_at - EPOCH) // ONE_MICROSECOND,
        ",".join(record.granted),
        ",".join(record.denied),
        record.revision,
        record.method,
        record.language,
        record.banner_hash,
        record.page_path,
        record.ip_prefix,
        record.browser,
        record.device,
        record.gpc,
    )


def encode_fields(
    consent_id: str,
    microseconds: int,
    granted: str,
    denied: str,
    revision: int,
    method: str,
    language: str,
    banner_hash: str,
    page_path: str,
    ip_prefix: str | None,
    browser: str,
    device: str,
    gpc: bool,
) -> bytes:
    """A record's fields in a fixed order, as UTF-8: the time in whole microseconds since 1970 UTC,
    categories as comma-separated text, and last a flags number (1: GPC, 2: no IP prefix).

    The fields are joined with ``SEPARATOR``; when no field holds that character itself the text
    has exactly ``FIELD_COUNT - 1`` of them and splits back into the fields, so two different
    records never encode alike. A record with the separator in a field (never written by the
    gateway, but not refused either) is spelt out as JSON behind ``FIELD_COUNT`` separators
    instead (JSON escapes the character), which no joined record can equal. One string
    formatting and one ``count`` per record: a few times cheaper than a JSON encoder."""
    flags = (1 if gpc else 0) | (2 if ip_prefix is None else 0)
    text = (
        f"{consent_id}\x1f{microseconds}\x1f{granted}\x1f{denied}\x1f{revision}\x1f{method}\x1f{language}"
        f"\x1f{banner_hash}\x1f{page_path}\x1f{ip_prefix or ''}\x1f{browser}\x1f{device}\x1f{flags}"
    )
    if text.count(SEPARATOR) != FIELD_COUNT - 1:
        fields = [consent_id, microseconds, granted, denied, revision, method, language]
        fields += [banner_hash, page_path, ip_prefix, browser, device, flags]
        text = SEPARATOR * FIELD_COUNT + _encode_json(fields)
    return text.encode()


def digest(record: ConsentRecord) -> bytes:
    return sha256(canonical(record)).digest()


def link(previous: bytes, record_digest: bytes) -> bytes:
    return sha256(previous + record_digest).digest()


@dataclass(frozen=True)
class StoredRecord:
    """A record as read back for verification: its fields and what was stored beside them."""

    seq: int
    record: ConsentRecord
    digest: bytes
    chain: bytes
    erased: bool


@dataclass(frozen=True)
class Problem:
    seq: int
    consent_id: str
    what: str

    def __str__(self) -> str:
        return f"seq {self.seq} (consent id {self.consent_id or '-'}): {self.what}"


@dataclass
class ChainReport:
    """What ``records verify`` found."""

    start_seq: int = 0  # the checkpoint verification started from (0: the beginning)
    checked: int = 0
    erased: int = 0
    head_seq: int = 0
    head: bytes = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class ChainWalk:
    """Checks records one at a time, in ``seq`` order, all after the checkpoint ``start_seq``.

    After a break the walk continues from the stored values, so each change is named once.
    """

    def __init__(self, start_seq: int = 0, start_chain: bytes = GENESIS) -> None:
        self.report = ChainReport(start_seq=start_seq, head_seq=start_seq, head=start_chain)

    def check(self, stored: StoredRecord) -> None:
        report = self.report
        report.checked += 1
        consent_id = stored.record.consent_id
        if stored.erased:
            report.erased += 1
        elif digest(stored.record) != stored.digest:
            report.problems.append(Problem(stored.seq, consent_id, "changed: its fields do not match its digest"))
        if link(report.head, stored.digest) != stored.chain:
            if stored.seq != report.head_seq + 1:
                what = f"records {report.head_seq + 1}..{stored.seq - 1} before it were deleted"
            else:
                what = "chain broken: a record before it was deleted or replaced, or this one was inserted"
            report.problems.append(Problem(stored.seq, consent_id, what))
        report.head_seq, report.head = stored.seq, stored.chain

    def finish(self, last_seq: int | None) -> ChainReport:
        """``last_seq``: the highest seq the store handed out, if it knows; records missing
        at the end leave no later record whose chain could show it."""
        report = self.report
        if last_seq is not None and last_seq > report.head_seq:
            first = report.head_seq + 1
            report.problems.append(Problem(first, "", f"records {first}..{last_seq} were deleted"))
        return report


def verify_records(
    records: Iterable[StoredRecord], start_seq: int = 0, start_chain: bytes = GENESIS, last_seq: int | None = None
) -> ChainReport:
    walk = ChainWalk(start_seq, start_chain)
    for stored in records:
        walk.check(stored)
    return walk.finish(last_seq)


class TamperedError(RuntimeError):
    """Retention refuses to delete records whose chain does not verify: that would hide the change."""

    def __init__(self, report: ChainReport) -> None:
        super().__init__(
            "records to purge do not verify; run `consent-gateway records verify`: "
            + "; ".join(str(p) for p in report.problems[:5])
        )
        self.report = report
