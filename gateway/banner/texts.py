"""Banner texts per language, and which language a visitor gets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache

from starlette.datastructures import Headers

from gateway.assets import BANNER_DIR
from gateway.languages import LANGUAGES


@cache
def texts(language: str) -> Mapping[str, str]:
    """The locale file for ``language``; English fills any gap."""
    english = json.loads((BANNER_DIR / "locales" / "en.json").read_text(encoding="utf-8"))
    if language == "en":
        return english
    own = json.loads((BANNER_DIR / "locales" / f"{language}.json").read_text(encoding="utf-8"))
    return {**english, **own}


def negotiate(headers: Headers, requested: str | None, default: str) -> str:
    """An explicit ``requested`` language, else the best of ``Accept-Language``, else ``default``."""
    if requested in LANGUAGES:
        return requested
    ranked = []
    for position, part in enumerate(headers.get("accept-language", "").split(",")):
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
