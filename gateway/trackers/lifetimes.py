"""How long a cookie lives, as the catalogue writes it, and as a visitor reads it.

A lifetime is ``session`` (gone when the browser closes) or a number and a
unit: ``30min``, ``20h``, ``1d``, ``2w``, ``13m`` (months), ``2y``.
"""

from __future__ import annotations

import re

SESSION = "session"
_LIFETIME = re.compile(r"([1-9][0-9]{0,3})(min|h|d|w|m|y)")
# (singular, plural) per unit and language; a language without an entry reads English.
_WORDS = {
    "nl": {
        "min": ("minuut", "minuten"),
        "h": ("uur", "uur"),
        "d": ("dag", "dagen"),
        "w": ("week", "weken"),
        "m": ("maand", "maanden"),
        "y": ("jaar", "jaar"),
        SESSION: "sessie",
    },
    "en": {
        "min": ("minute", "minutes"),
        "h": ("hour", "hours"),
        "d": ("day", "days"),
        "w": ("week", "weeks"),
        "m": ("month", "months"),
        "y": ("year", "years"),
        SESSION: "session",
    },
}


def is_lifetime(value: object) -> bool:
    """Whether ``value`` is a lifetime the catalogue understands."""
    return isinstance(value, str) and (value == SESSION or _LIFETIME.fullmatch(value) is not None)


def lifetime_text(lifetime: str, language: str) -> str:
    """``2y`` as ``2 jaar`` (nl) or ``2 years`` (en); ``session`` as ``sessie`` / ``session``."""
    words = _WORDS.get(language, _WORDS["en"])
    if lifetime == SESSION:
        return words[SESSION]
    match = _LIFETIME.fullmatch(lifetime)
    if match is None:
        raise ValueError(f"not a cookie lifetime: {lifetime!r}")
    number, unit = match.groups()
    return f"{number} {words[unit][0 if number == '1' else 1]}"
