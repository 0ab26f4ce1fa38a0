"""A batch of rows as PostgreSQL array literals: one text parameter per column.

psycopg adapts a Python list element by element in Python code, some twenty
microseconds of the gateway's CPU per consent record for its fourteen columns;
these literals take a few ``str.join`` and ``str.replace`` calls per column
instead, and PostgreSQL parses them exactly as it parsed psycopg's (the SQL
casts each parameter, ``%s::text[]``). Array input syntax: an element in double
quotes is taken as it is but for ``\\`` and ``"``, which are escaped with a
backslash; a bare ``NULL`` is SQL null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

# PostgreSQL text cannot hold U+0000, so no valid element contains it: elements are joined
# with it, escaped in one go, and the separators then become the quotes between elements.
_JOIN = "\x00"


def text_array(values: Sequence[str | None]) -> str:
    if not values:
        return "{}"
    if None in values:
        return "{" + ",".join("NULL" if value is None else _quote(value) for value in values) + "}"
    joined = _JOIN.join(values)  # type: ignore[arg-type]
    if joined.count(_JOIN) != len(values) - 1:
        raise ValueError("PostgreSQL text cannot contain NUL (0x00) characters")
    return '{"' + joined.replace("\\", "\\\\").replace('"', '\\"').replace(_JOIN, '","') + '"}'


def _quote(value: str) -> str:
    if _JOIN in value:
        raise ValueError("PostgreSQL text cannot contain NUL (0x00) characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def timestamp_array(values: Sequence[datetime]) -> str:
    """``str(datetime)``: ISO 8601 with a space, microseconds and the UTC offset of an aware time."""
    return '{"' + '","'.join(map(str, values)) + '"}' if values else "{}"


def int_array(values: Sequence[int]) -> str:
    return "{" + ",".join(map(str, map(int, values))) + "}"


def bool_array(values: Sequence[bool]) -> str:
    return "{" + ",".join("t" if value else "f" for value in values) + "}"


def bytea_array(values: Sequence[bytes]) -> str:
    """Hex format, ``\\x0a1b...``, its backslash escaped inside the quotes."""
    return '{"\\\\x' + '","\\\\x'.join(value.hex() for value in values) + '"}' if values else "{}"


ENCODERS: dict[str, Callable[[Sequence], str]] = {
    "text": text_array,
    "timestamptz": timestamp_array,
    "int": int_array,
    "bool": bool_array,
    "bytea": bytea_array,
}
