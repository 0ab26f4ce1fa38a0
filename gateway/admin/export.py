"""Consent records of a date range as CSV, streamed: the file is never held in memory whole."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from gateway.admin.period import Period
from gateway.store import ConsentRecord, ConsentStore, format_time

COLUMNS = (
    "consent_id",
    "recorded_at",
    "method",
    "granted",
    "denied",
    "revision",
    "language",
    "banner_hash",
    "page_path",
    "ip_prefix",
    "browser",
    "device",
    "gpc",
)
ROWS_PER_CHUNK = 200
# A cell starting with one of these is read as a formula by spreadsheet programs (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as text a spreadsheet shows and never runs: a leading ``'`` before a formula start."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def csv_row(record: ConsentRecord) -> list[str]:
    """One record as CSV cells; every cell spreadsheet-safe (the browser name comes from the visitor)."""
    cells = [
        record.consent_id,
        format_time(record.recorded_at),
        record.method,
        " ".join(record.granted),
        " ".join(record.denied),
        str(record.revision),
        record.language,
        record.banner_hash,
        record.page_path,
        record.ip_prefix or "",
        record.browser,
        record.device,
        "1" if record.gpc else "0",
    ]
    return [spreadsheet_safe(cell) for cell in cells]


async def csv_chunks(store: ConsentStore, period: Period) -> AsyncIterator[bytes]:
    """The header, then the records of ``period`` oldest first, a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    rows = 0
    async for record in store.export(period.since_time, period.until_time):
        if period.revision is not None and record.revision != period.revision:
            continue
        writer.writerow(csv_row(record))
        rows += 1
        if rows % ROWS_PER_CHUNK == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def filename(period: Period) -> str:
    return f"consent-records-{period.first.isoformat()}-to-{period.last.isoformat()}.csv"


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")
