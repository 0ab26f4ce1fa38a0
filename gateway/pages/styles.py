"""URLs in CSS: what a style attribute or a ``<style>`` block makes the browser fetch.

CSS fetches through ``url(...)`` (backgrounds, fonts, cursors, ``@import
url(...)``), through the plain string of ``@import "..."`` and through the
strings of ``image-set()``. A held URL is replaced by ``none``, which leaves
the declaration invalid or empty, so the browser drops it and fetches
nothing; every other byte stays as it was.

CSS escapes can spell ``url(`` (``\\75 rl(``) or a host (``t\\2e com``); the
browser decodes them, so a text with a backslash is judged a second time
decoded, and the caller is told to hold all of it when only that reading
finds a held URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# url( ... ) as a function, its argument unquoted or in quotes.
_URL = re.compile(
    r"""(?<![\w-])url\(\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|([^)"'\s]*))\s*\)""",
    re.IGNORECASE | re.DOTALL,
)
_IMPORT = re.compile(r"""@import\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)')""", re.IGNORECASE | re.DOTALL)
_IMAGE_SET = re.compile(r"(?<![\w-])(?:-webkit-)?image-set\(", re.IGNORECASE)
_STRING = re.compile(r""""((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'""", re.DOTALL)
_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|(\n)|(.))", re.DOTALL)
# Quick test before any regular expression runs: most style attributes hold none of these.
MARKERS = ("url(", "@import", "image-set(", "\\")
HELD = "none"


def may_fetch(css: str) -> bool:
    """Could this CSS fetch anything at all? (A cheap test on the lower-cased text.)"""
    lowered = css.lower()
    return any(marker in lowered for marker in MARKERS)


def unescape(text: str) -> str:
    """CSS escapes decoded: ``\\2e`` is ".", ``\\"`` is '"', an escaped newline disappears."""

    def replace(match: re.Match[str]) -> str:
        hexadecimal, newline, other = match.groups()
        if hexadecimal is not None:
            code = int(hexadecimal, 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return "" if newline else other

    return _ESCAPE.sub(replace, text) if "\\" in text else text


def urls(css: str) -> list[tuple[int, int, str]]:
    """Every fetched URL as ``(start, end, url)``: the span to replace and the URL, unescaped."""
    found = []
    for match in _URL.finditer(css):
        value = next(group for group in match.groups() if group is not None)
        found.append((match.start(), match.end(), unescape(value)))
    for match in _IMPORT.finditer(css):
        group = 1 if match.group(1) is not None else 2
        found.append((match.start(group) - 1, match.end(group) + 1, unescape(match.group(group))))
    for opener in _IMAGE_SET.finditer(css):
        end = _closing_parenthesis(css, opener.end())
        for string in _STRING.finditer(css, opener.end(), end):
            value = next(group for group in string.groups() if group is not None)
            found.append((string.start(), string.end(), unescape(value)))
    found.sort()
    return found


def neutralise(css: str, is_held: Callable[[str], bool]) -> tuple[str, bool] | None:
    """``css`` with each held URL replaced by ``none``; ``None`` when nothing is held.

    The flag says the CSS must be held whole: only its escape-decoded reading
    fetches something held, so no span of the original can be replaced safely.
    """
    if not may_fetch(css):
        return None
    pieces, last, changed = [], 0, False
    for start, end, url in urls(css):
        if start < last or not is_held(url):
            continue
        pieces += [css[last:start], HELD]
        last, changed = end, True
    if "\\" in css:
        decoded = unescape(css)
        if decoded != css and any(is_held(url) for _, _, url in urls(decoded)):
            remaining = "".join(pieces) + css[last:]
            if any(is_held(url) for _, _, url in urls(unescape(remaining))):
                return "", True
    if not changed:
        return None
    pieces.append(css[last:])
    return "".join(pieces), False


def replace_urls(css: str, replacement: Callable[[str], str | None]) -> str | None:
    """``css`` with each URL that ``replacement`` gives another for written as that one; ``None`` when
    none changes. A ``url(...)`` stays a ``url("...")``, an ``@import`` or ``image-set()`` string a string."""
    if not may_fetch(css):
        return None
    pieces, last = [], 0
    for start, end, url in urls(css):
        new = replacement(url) if start >= last else None
        if new is None:
            continue
        quoted = '"' + new.replace("\\", "\\\\").replace('"', "\\22 ").replace("\n", "\\a ") + '"'
        pieces += [css[last:start], quoted if css[start] in "\"'" else f"url({quoted})"]
        last = end
    if not pieces:
        return None
    pieces.append(css[last:])
    return "".join(pieces)


def _closing_parenthesis(css: str, start: int) -> int:
    depth = 1
    for index in range(start, len(css)):
        character = css[index]
        if character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(css)
