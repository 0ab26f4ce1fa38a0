"""JSON bodies within bounds: depth counted outside strings, long numbers and NaN refused, one error type."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.net.jsonbody import MAX_DEPTH, JSONBodyError, nesting, parse_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=30,
)


@given(JSON)
def test_ordinary_json_reads_as_the_standard_parser_reads_it(document) -> None:
    assert parse_json(json.dumps(document)) == document


def test_brackets_inside_strings_do_not_count() -> None:
    assert nesting('{"a": "[[[[{{{{\\"]]]"}') == 1
    assert parse_json('["' + "[" * 100 + '"]') == ["[" * 100]


@pytest.mark.parametrize(
    "text",
    [
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "[" * 100_000,
        "1" * 5000,
        '{"n": -' + "9" * 100 + "}",
        '{"n": 0.' + "1" * 100 + "}",
        "NaN",
        '{"n": -Infinity}',
        "{",
        "",
        b"\xff\xfe",
    ],
)
def test_hostile_bodies_are_one_error(text) -> None:
    with pytest.raises(JSONBodyError):
        parse_json(text)


def test_the_deepest_allowed_document_parses() -> None:
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
