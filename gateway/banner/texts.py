"""Banner texts per language, and which language a visitor gets."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from starlette.datastructures import Headers

from gateway.languages import LANGUAGES, locale


def texts(language: str) -> Mapping[str, str]:
    """The locale file for ``language`` (complete for every language: a test checks it)."""
    return locale(language)


def other_languages(current: str) -> list[tuple[str, str]]:
    """Each language but ``current``, with its name in itself: what a page's language links show."""
    return [(language, locale(language)["language_name"]) for language in LANGUAGES if language != current]


def negotiate(headers: Headers, requested: str | None, default: str) -> str:
    """An explicit ``requested`` language, else the best of ``Accept-Language``, else ``default``."""
    if requested in LANGUAGES:
        return requested
    return preferred(headers.get("accept-language", ""), default)


@lru_cache(maxsize=512)
def preferred(accept_language: str, default: str) -> str:
    """The best of ``accept_language`` we speak, else ``default``; browsers send a few dozen
    distinct values, so each is read once."""
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.split("-", 1)[0].lower()
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else default
