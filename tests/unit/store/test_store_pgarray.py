"""Array literals built by ``pgarray`` read back by the real PostgreSQL exactly as the values they came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.store.pgarray import bool_array, bytea_array, int_array, text_array, timestamp_array

pytestmark = pytest.mark.postgres

AWKWARD = [
    "",
    "NULL",
    "null",
    '"',
    "\\",
    '\\"',
    "{}",
    "{a,b}",
    ",",
    " lead",
    "trail ",
    "a b",
    "é☃𝄞",
    "'",
    "\\x00",
    "\t\n\r",
    '""""',
    "\\\\",
    'x"y\\z,{}',
    "ARRAY[1]",
    "}",
    "{",
]


def parsed(postgres_url: str, literal: str, kind: str) -> list:
    import psycopg

    with psycopg.connect(postgres_url) as connection:
        return connection.execute(f"SELECT %s::{kind}[]", (literal,)).fetchone()[0]


def test_text_elements_come_back_as_they_were(postgres_url: str) -> None:
    assert parsed(postgres_url, text_array(AWKWARD), "text") == AWKWARD
    assert parsed(postgres_url, text_array(["only"]), "text") == ["only"]
    assert parsed(postgres_url, text_array([]), "text") == []


def test_none_is_sql_null_and_the_text_null_is_text(postgres_url: str) -> None:
    values = [None, "NULL", 'a"b', None, ""]
    assert parsed(postgres_url, text_array(values), "text") == values


def test_nul_is_refused_before_it_reaches_the_server() -> None:
    with pytest.raises(ValueError, match="NUL"):
        text_array(["ok", "a\x00b"])
    with pytest.raises(ValueError, match="NUL"):
        text_array([None, "a\x00b"])


def test_times_keep_every_microsecond_and_the_instant(postgres_url: str) -> None:
    values = [
        datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 12, 0, 0, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ]
    assert parsed(postgres_url, timestamp_array(values), "timestamptz") == values


def test_numbers_flags_and_bytes(postgres_url: str) -> None:
    assert parsed(postgres_url, int_array([1, -7, 2_000_000_000, 0]), "int") == [1, -7, 2_000_000_000, 0]
    assert parsed(postgres_url, bool_array([True, False, True]), "bool") == [True, False, True]
    digests = [bytes(range(32)), b"\x00" * 32, b'\\"{},']
    assert parsed(postgres_url, bytea_array(digests), "bytea") == digests
