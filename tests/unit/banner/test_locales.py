"""Every language the gateway speaks is one complete locale file.

Dutch is the reference: each other file has exactly its keys, no empty text,
the same ``{placeholders}`` and twelve month names. The catalogue is written
in Dutch and English; the other languages fall back to the English texts, so
no visitor of a German or French page reads Dutch.
"""

from __future__ import annotations

import json
import re
import string

import pytest

from gateway.banner.script import FIRST_LAYER_KEYS, SETTINGS_LAYER_KEYS, Banner
from gateway.languages import LANGUAGES, LOCALES, REFERENCE, locale
from gateway.settings import DEFAULT_CATEGORIES, OTHER_THIRD_PARTIES, Settings
from gateway.trackers.catalogue import default_catalogue

REFERENCE_KEYS = set(json.loads((LOCALES / f"{REFERENCE}.json").read_text(encoding="utf-8")))


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_locale_file_is_a_language_the_gateway_speaks() -> None:
    assert sorted(path.stem for path in LOCALES.glob("*.json")) == sorted(LANGUAGES)
    assert {"nl", "en", "de", "fr"} <= set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_locale_file_is_complete(language: str) -> None:
    raw = json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))
    assert set(raw) == REFERENCE_KEYS, (sorted(REFERENCE_KEYS - set(raw)), sorted(set(raw) - REFERENCE_KEYS))
    for key, text in raw.items():
        assert isinstance(text, str) and text.strip(), key
        assert fields(text) == fields(locale(REFERENCE)[key]), key
    assert len(raw["months"].split()) == 12


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != REFERENCE])
def test_banner_texts_are_translated_not_copied(language: str) -> None:
    """The texts a visitor reads before choosing differ from the Dutch ones (names like Marketing may not)."""
    shown = (*FIRST_LAYER_KEYS, *SETTINGS_LAYER_KEYS, "category_functional", "category_analytics")
    copied = [key for key in shown if locale(language)[key] == locale(REFERENCE)[key]]
    assert copied == [], copied


@pytest.mark.parametrize("language", LANGUAGES)
def test_default_categories_come_from_the_locale_files(language: str) -> None:
    for category in (*DEFAULT_CATEGORIES, OTHER_THIRD_PARTIES):
        assert category.text(language) == (
            locale(language)[f"category_{category.name}"],
            locale(language)[f"category_{category.name}_description"],
        )


DUTCH = re.compile(r"\b(en|van|het|berichten|partnerprogramma|toont|jaar|maanden|dagen)\b|-plug-ins", re.IGNORECASE)


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != REFERENCE])
def test_the_catalogue_shows_no_dutch_outside_dutch(language: str) -> None:
    """Names, purposes, retention and placeholders: translated where written, else the English."""
    for service in default_catalogue().services:
        purpose, retention = service.text(language)
        assert purpose == service.text("en")[0] and retention == service.text("en")[1], service.id
        assert service.title(language) == service.title("en"), service.id
        for text in (service.label(language), service.title(language), retention):
            assert not DUTCH.search(text), (service.id, text)


def test_a_translated_service_name_is_used_in_its_language() -> None:
    facebook = default_catalogue().service("facebook-social")
    assert facebook.label("nl") == "Facebook-plug-ins"
    assert facebook.label("en") == facebook.label("de") == facebook.name == "Facebook plug-ins"


def test_the_banner_carries_every_language() -> None:
    banner = Banner(Settings(secret_key="x" * 32), default_catalogue())
    body = banner.body.decode()
    for language in LANGUAGES:  # baked in as JSON, the way ``render`` writes it
        assert json.dumps(locale(language)["title"]) in body, language
    assert set(banner.text_hashes) == set(LANGUAGES)
