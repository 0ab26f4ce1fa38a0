"""The languages the gateway speaks to visitors, one locale file each.

Every text a visitor reads before choosing sits in ``banner/locales/<language>.json``:
the banner's and the preferences page's texts, and the default categories'
labels and descriptions (``category_<name>``, ``category_<name>_description``).
Dutch is the reference: every other file has the same keys (checked by
``tests/unit/banner/test_locales.py``). The catalogue's purposes and retention
periods are kept in Dutch and English only; another language shows the English.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from gateway.assets import BANNER_DIR

LANGUAGES = ("nl", "en", "de", "fr")
REFERENCE = "nl"  # the language every locale file is checked against
LOCALES = BANNER_DIR / "locales"


@cache
def locale(language: str) -> Mapping[str, str]:
    """The texts of ``banner/locales/<language>.json``, as the file has them."""
    if language not in LANGUAGES:
        raise LookupError(f"{language!r} is not one of {', '.join(LANGUAGES)}")
    return MappingProxyType(json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8")))


def per_language(key: str) -> dict[str, str]:
    """One locale key in every language: ``{"nl": ..., "en": ..., ...}``."""
    return {language: locale(language)[key] for language in LANGUAGES}
