"""Consent records kept durably, chosen by the database URL (``sqlite:///...`` by default).

``record`` (the record, the other rows a store keeps, and ``ConsentStore``,
the operations every store offers), ``sqlite`` and ``postgres`` (the two
stores), ``batch`` (group commit), ``pgarray`` (PostgreSQL array literals),
``chain`` (tamper evidence), ``discovery`` (the third parties and cookies
each site uses, aggregated), ``statistics`` (page figures counted without
consent, aggregated), ``retention`` (old records become day counts)
and ``maintenance`` (the ``db`` and ``records`` commands).
"""

from __future__ import annotations

from gateway.settings import SettingsError
from gateway.store.record import (
    RECORD_COLUMNS,
    AuditEntry,
    ConsentRecord,
    ConsentStore,
    DaySummary,
    format_time,
)
from gateway.store.sqlite import SQLiteStore

__all__ = [
    "RECORD_COLUMNS",
    "AuditEntry",
    "ConsentRecord",
    "ConsentStore",
    "DaySummary",
    "format_time",
    "open_store",
]


def open_store(database_url: str, timeout: float = 2.0) -> ConsentStore:
    """The store for ``database_url``; call ``await store.open()`` (it applies migrations) before use.

    A record write that has not committed after ``timeout`` seconds fails (``StoreTimeout``)."""
    if database_url.startswith("sqlite:///"):
        return SQLiteStore(database_url.removeprefix("sqlite:///"), timeout=timeout)
    if database_url.startswith(("postgresql://", "postgres://")):
        try:
            # Imported here, not above: psycopg is an optional dependency (the "postgres" extra).
            from gateway.store.postgres import PostgresStore
        except ImportError:
            raise SettingsError(
                "database_url: PostgreSQL needs psycopg 3 and psycopg_pool: pip install 'consent-gateway[postgres]'"
            ) from None
        return PostgresStore(database_url, timeout=timeout)
    scheme = database_url.split(":", 1)[0]
    raise SettingsError(f"database_url: {scheme!r} is not a supported database (sqlite:/// or postgresql://)")
