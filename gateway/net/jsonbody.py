"""JSON from request bodies, parsed within bounds.

Python's parser recurses once per nesting level (``RecursionError`` deep
down) and refuses integers of more than 4,300 digits with a ``ValueError``;
both escaped as 500s before. ``parse_json`` checks the nesting depth before
parsing, refuses long numbers and the non-standard ``NaN`` / ``Infinity``,
and turns every failure into one ``JSONBodyError``.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER = 64  # characters of one number
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONBodyError(ValueError):
    """The body is not JSON the gateway reads: malformed, not UTF-8, too deep, or a number too long."""


def parse_json(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise JSONBodyError("the body is not UTF-8 text") from None
    if text.count("[") + text.count("{") > max_depth and nesting(text) > max_depth:
        raise JSONBodyError(f"the JSON is nested more than {max_depth} levels deep")
    try:
        return DECODER.decode(text)
    except JSONBodyError:
        raise
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise JSONBodyError("the body is not valid JSON") from None


def nesting(text: str) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings not counted."""
    if "[" not in text and "{" not in text:
        return 0
    brackets = _BRACKET.findall(_STRING.sub('""', text))
    return max(accumulate(_DEPTH_STEP[b] for b in brackets), default=0)


def _integer(digits: str) -> int:
    if len(digits) > MAX_NUMBER:
        raise JSONBodyError(f"a number in the JSON is longer than {MAX_NUMBER} characters")
    return int(digits)


def _float(digits: str) -> float:
    if len(digits) > MAX_NUMBER:
        raise JSONBodyError(f"a number in the JSON is longer than {MAX_NUMBER} characters")
    return float(digits)


def _constant(name: str) -> float:
    raise JSONBodyError(f"{name} is not JSON")


# Made once: ``json.loads`` with hooks builds a new decoder on every call.
DECODER = json.JSONDecoder(parse_int=_integer, parse_float=_float, parse_constant=_constant)
