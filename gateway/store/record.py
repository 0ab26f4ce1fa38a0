"""The consent record: what every store keeps and the operations it offers.

``ConsentStore`` is what the SQLite and PostgreSQL stores implement; every
``record`` call returns only once the row is durably committed, so the API
never says "OK" about a choice it could still lose.
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.store.chain import ChainReport
    from gateway.store.discovery import Discovered, ScanRun, Sighting
    from gateway.store.retention import PurgeReport
    from gateway.store.statistics import Figure, Tally


@dataclass(frozen=True)
class ConsentRecord:
    """One row of the consent log; nothing in it identifies a person by itself."""

    consent_id: str
    recorded_at: datetime
    granted: tuple[str, ...]
    denied: tuple[str, ...]
    revision: int
    method: str
    language: str
    banner_hash: str
    page_path: str
    ip_prefix: str | None
    browser: str
    device: str
    gpc: bool

    def as_dict(self) -> dict:
        row = asdict(self)
        row["recorded_at"] = format_time(self.recorded_at)
        row["granted"] = list(self.granted)
        row["denied"] = list(self.denied)
        return row


@dataclass(frozen=True)
class DaySummary:
    """Choices made on one UTC day, from live records and from retention aggregates alike."""

    day: date
    total: int
    by_method: dict[str, int]  # accept_all, reject_all, custom, gpc, withdraw -> count
    granted: dict[str, int]  # category -> how many choices granted it
    denied: dict[str, int]  # category -> how many choices denied it


@dataclass(frozen=True)
class AuditEntry:
    """One action taken in the admin: who did what to which consent id or range, when."""

    at: datetime
    actor: str
    action: str  # e.g. "login", "lookup", "erase", "export", "purge"
    detail: str


RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ConsentRecord))  # the stores' column order


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ConsentStore(abc.ABC):
    """Durable, append-mostly storage of consent records."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending writes and disconnect."""

    @abc.abstractmethod
    async def record(self, record: ConsentRecord) -> None:
        """Store ``record``; returns once it is committed to disk."""

    @abc.abstractmethod
    async def latest(self, consent_id: str) -> ConsentRecord | None:
        """The most recent record of ``consent_id``."""

    @abc.abstractmethod
    async def history(self, consent_id: str) -> list[ConsentRecord]:
        """Every record of ``consent_id``, oldest first."""

    @abc.abstractmethod
    def export(self, since: datetime | None = None, until: datetime | None = None) -> AsyncIterator[ConsentRecord]:
        """Records with ``since <= recorded_at < until``, oldest first, streamed."""

    @abc.abstractmethod
    async def erase(self, consent_id: str) -> int:
        """Make every record of ``consent_id`` unfindable (an erasure request); returns how many.

        The records' identifying fields are blanked and they are marked erased,
        so the tamper-evidence chain (``chain.py``) and the day counts stay whole."""

    @abc.abstractmethod
    async def daily_summary(
        self, since: date | None = None, until: date | None = None, revision: int | None = None
    ) -> list[DaySummary]:
        """Per UTC day with ``since <= day < until`` (and of ``revision`` when given), oldest first;
        days whose records were purged by retention come from their aggregates."""

    # ---- the admin's sign-in: shared by every worker and instance on this store -------------------

    @abc.abstractmethod
    async def reserve_login(self, keys: Sequence[str], since: datetime, limit: int, at: datetime) -> bool:
        """Count a sign-in attempt against each of ``keys`` (an address, a user name) before it is checked.

        In one transaction, serialised per key: when any key already has ``limit`` attempts since
        ``since`` nothing is added and the answer is False (refuse unchecked); otherwise the attempt
        is added under every key and the answer is True. A successful sign-in then clears its keys."""

    @abc.abstractmethod
    async def clear_logins(self, keys: Sequence[str]) -> None:
        """Forget the counted attempts of ``keys`` (after a successful sign-in)."""

    @abc.abstractmethod
    async def revoke_session(self, session_id: str, until: datetime) -> None:
        """Refuse the admin session ``session_id`` from now on (it would expire at ``until`` anyway)."""

    @abc.abstractmethod
    async def session_revoked(self, session_id: str) -> bool:
        """Was the admin session ``session_id`` revoked (signed out)?"""

    @abc.abstractmethod
    async def redact_audit(self, text: str, replacement: str) -> int:
        """Replace ``text`` in every audit entry's detail (an erased consent id); the entries changed."""

    @abc.abstractmethod
    async def record_audit(self, entry: AuditEntry) -> None:
        """Append ``entry`` to the admin audit log; returns once it is committed."""

    @abc.abstractmethod
    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The latest ``limit`` audit entries, newest first."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise when the store cannot answer."""

    @abc.abstractmethod
    async def probe_write(self) -> None:
        """Raise when the store cannot take a write (full disk, read-only database): one small row."""

    @abc.abstractmethod
    def last_write_failure(self) -> tuple[float, BaseException] | None:
        """When (``time.monotonic()``) and how the latest record write failed; None once one succeeded."""

    async def check_health(self, recent: float = 60.0) -> None:
        """Raise unless the store answers a read and takes a write, and no record write failed in the
        last ``recent`` seconds (a disk can refuse records while the small probe row still fits)."""
        await self.ping()
        await self.probe_write()
        failure = self.last_write_failure()
        if failure is not None and time.monotonic() - failure[0] < recent:
            raise failure[1]

    @abc.abstractmethod
    async def purge(self, cutoff: datetime) -> PurgeReport:
        """Turn records from before ``cutoff`` into daily aggregates and delete them (``retention.py``)."""

    @abc.abstractmethod
    async def verify(self) -> ChainReport:
        """Check every record against its digest and the chain (``chain.py``)."""

    @abc.abstractmethod
    async def schema_version(self) -> tuple[int, int]:
        """The schema version of the database and the newest this code knows."""

    @abc.abstractmethod
    async def upgrade(self) -> tuple[int, int]:
        """Apply missing schema migrations without opening the store; the versions before and after."""

    # ---- discovery (discovery.py): aggregated, no visitor data ----------------------------------

    @abc.abstractmethod
    async def add_sightings(self, counts: Mapping[Sighting, int], seen_at: datetime, source: str) -> None:
        """Add ``counts`` (pages per sighting) to the discovery table in one transaction.

        A new row gets ``seen_at`` as its first and last time and ``source``; an existing one adds
        its pages, moves its last time and takes the sighting's service. New rows of a site that
        has ``SITE_LIMIT`` rows are dropped."""

    @abc.abstractmethod
    async def discovered(self, site: str | None = None) -> list[Discovered]:
        """The discovery rows of ``site`` (every site: ``None``), by site, kind and name."""

    @abc.abstractmethod
    async def record_scan(self, run: ScanRun) -> None:
        """Note a finished scan."""

    @abc.abstractmethod
    async def last_scan(self, site: str | None = None) -> ScanRun | None:
        """The latest scan of ``site`` (of any site: ``None``)."""

    # ---- statistics (statistics.py): aggregated, counted without consent ------------------------

    @abc.abstractmethod
    async def add_statistics(self, counts: Mapping[Tally, tuple[int, int]]) -> None:
        """Add ``counts`` ((views, new visitors) per tally) to the day rows in one transaction.

        A value beyond the first ``VALUE_LIMIT`` of its (day, site, dimension), or longer than
        ``MAX_VALUE``, is added to ``OTHER``; unknown dimensions are dropped. Writers on several
        processes or instances add up exactly."""

    @abc.abstractmethod
    async def statistics(self, start: date, end: date, site: str | None = None) -> list[Figure]:
        """The day rows from ``start`` to ``end`` (inclusive) and the month rows of the months they
        touch, of ``site`` (every site: ``None``), by site, day, span, dimension and value."""

    @abc.abstractmethod
    async def statistics_sites(self) -> list[str]:
        """The sites that have statistics, sorted."""

    @abc.abstractmethod
    async def roll_up_statistics(self, before: date) -> int:
        """Add the day rows from before ``before`` to their month rows and delete them; the rows rolled up."""
