"""The admin's language: Dutch or English, the words in ``locales/<language>.json``.

A privacy officer gets the language their browser asks for (``Accept-Language``),
else the site's ``default_language``; ``?lang=nl`` or ``?lang=en`` on any admin
page switches, and a cookie keeps the choice for the next pages. The admin has
its own two languages, whatever languages the banner speaks.

A message is a string with ``{name}`` fields, or, where a number decides the
words, ``{"one": ..., "other": ...}`` chosen by ``count`` (Dutch and English
pluralise alike). Messages may hold markup of our own (``<code>``); the values
put into them are escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from markupsafe import Markup, escape
from starlette.datastructures import Headers

ADMIN_LANGUAGES = ("nl", "en")
LOCALES = Path(__file__).resolve().parent / "locales"
COOKIE = "consent_admin_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


@cache
def messages(language: str) -> Mapping[str, str | Mapping[str, str]]:
    return json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))


class Texts:
    """The admin's words in one language: ``texts("lookup.erase", count=3)``."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.messages = messages(language)

    def __call__(self, key: str, count: int | None = None, **values: object) -> Markup:
        message = self.messages[key]
        if not isinstance(message, str):
            message = message["one" if count == 1 else "other"]
        if count is not None:
            values["count"] = count
        return Markup(message).format(**{name: escape(value) for name, value in values.items()})

    def plain(self, key: str, count: int | None = None, **values: object) -> str:
        """The message as text, for an SVG title or a JSON value (the caller escapes where it must)."""
        return str(self(key, count, **values).striptags())

    @property
    def other(self) -> str:
        """The language a switch link offers."""
        return next(language for language in ADMIN_LANGUAGES if language != self.language)


def choose(query: Mapping[str, str], headers: Headers, cookies: Mapping[str, str], default: str) -> tuple[str, bool]:
    """The page's language, and whether it was just chosen with ``?lang`` (the cookie is then set)."""
    requested = query.get("lang", "")
    if requested in ADMIN_LANGUAGES:
        return requested, True
    kept = cookies.get(COOKIE, "")
    if kept in ADMIN_LANGUAGES:
        return kept, False
    return preferred(headers.get("accept-language", ""), default if default in ADMIN_LANGUAGES else "en"), False


def preferred(accept_language: str, default: str) -> str:
    """The admin language ranked highest in ``Accept-Language`` (its order breaks ties), else ``default``."""
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, parameters = part.strip().partition(";")
        weight = 1.0
        parameters = parameters.strip()
        if parameters.startswith("q="):
            try:
                weight = float(parameters[2:])
            except ValueError:
                continue
        language = tag.strip().split("-", 1)[0].lower()
        if language in ADMIN_LANGUAGES and weight > 0:
            ranked.append((-weight, position, language))
    return min(ranked)[2] if ranked else default
