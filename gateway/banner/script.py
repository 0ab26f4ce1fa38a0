"""The embeddable banner script, rendered once per configuration.

The site's categories, texts, revision and prefix are baked into one file, so
a page needs a single ``<script>`` tag. The file's hash is its version: the
injected tag carries it in the URL, which makes a long cache safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re

from starlette.requests import Request
from starlette.responses import Response

from gateway.assets import BANNER_DIR
from gateway.banner.minify import minified_template, prebuilt
from gateway.banner.texts import texts
from gateway.languages import LANGUAGES
from gateway.net.urls import GENERIC_SECOND_LEVELS, SHARED_HOSTING
from gateway.settings import Settings
from gateway.trackers.catalogue import Catalogue, font_cdns
from gateway.trackers.thirdparty import OTHER_CATEGORY

# What the banner and the preferences form show; the hash of these is recorded with each choice.
FIRST_LAYER_KEYS = (
    "title",
    "intro",
    "privacy_link",
    "accept_all",
    "reject_all",
    "settings",
    "reopen",
    "load_once",
    "error",
)
SETTINGS_LAYER_KEYS = (
    "accept_all",
    "reject_all",
    "save",
    "preferences_title",
    "preferences_intro",
    "always_on",
    "gpc_notice",
    "consent_id",
    "services",
    "vendor_privacy",
    "no_services",
    "close",
)
SHOWN_KEYS = tuple(dict.fromkeys(FIRST_LAYER_KEYS + SETTINGS_LAYER_KEYS))
LONG_CACHE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=300"


def shown_text(settings: Settings, language: str) -> dict:
    """Everything the visitor reads before choosing, in ``language``."""
    return {
        "texts": {key: texts(language)[key] for key in SHOWN_KEYS},
        "categories": [[c.name, *c.text(language)] for c in settings.categories],
        "revision": settings.revision,
        "privacy_url": settings.privacy_url,
    }


def text_hash(settings: Settings, language: str) -> str:
    canonical = json.dumps(shown_text(settings, language), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def first_layer_config(settings: Settings, catalogue: Catalogue, settings_version: str) -> dict:
    """What banner.js needs to know about this site, baked into it."""
    names = settings.category_names
    return {
        "prefix": settings.prefix,
        "cookie": settings.cookie_name,
        "maxAge": settings.cookie_max_age,
        "revision": settings.revision,
        "defaultLanguage": settings.default_language,
        "required": names[0],
        "categories": list(names),
        "privacyUrl": settings.privacy_url,
        "settingsVersion": settings_version,
        "text": {language: {k: texts(language)[k] for k in FIRST_LAYER_KEYS} for language in LANGUAGES},
        "guard": guard_config(settings, catalogue),
        "consentMode": consent_mode_categories(settings, catalogue),
    }


# Google Consent Mode's storage types and the catalogued service whose category decides each.
CONSENT_MODE_SERVICES = {
    "analytics_storage": "google-analytics",
    "ad_storage": "google-ads",
    "ad_user_data": "google-ads",
    "ad_personalization": "google-ads",
}


def consent_mode_categories(settings: Settings, catalogue: Catalogue) -> dict[str, str]:
    """The category that grants each Consent Mode storage type: wherever the operator put its service
    (``[categories.statistiek] services = ["google-analytics"]`` moves analytics_storage along)."""
    names = settings.category_names
    return {
        storage: category
        for storage, service_id in CONSENT_MODE_SERVICES.items()
        if (category := catalogue.service(service_id).category) in names
    }


def guard_config(settings: Settings, catalogue: Catalogue) -> dict:
    """What the runtime guard needs to judge a URL the way the rewriter does (``gateway.trackers.thirdparty``)."""
    data = catalogue.as_banner_data()
    names = settings.category_names
    return {
        "strict": settings.blocking == "strict",
        "other": OTHER_CATEGORY if OTHER_CATEGORY in names else None,
        # One space-separated string per category: the guard's largest part, kept compact.
        "hosts": {c: " ".join(hosts) for c, hosts in catalogue.host_categories().items() if c in names},
        "essential": data["essential"],
        "allowed": list(settings.allowed_hosts),
        "site": list(settings.site_hosts),
        "shared": sorted(SHARED_HOSTING),
        "secondLevels": sorted(GENERIC_SECOND_LEVELS),
        "fonts": fonts_config(settings),
    }


def fonts_config(settings: Settings) -> dict | None:
    """Where the gateway serves the font CDNs (``gateway.fonts``), for stylesheets page code adds later."""
    if not settings.first_party_fonts:
        return None
    hosts = {host for cdn in font_cdns() for host in (*cdn.stylesheet_hosts, *cdn.file_hosts)}
    return {"base": f"{settings.prefix}/fonts/", "hosts": sorted(hosts)}


def settings_layer_config(settings: Settings) -> dict:
    return {
        "text": {language: {k: texts(language)[k] for k in SETTINGS_LAYER_KEYS} for language in LANGUAGES},
        "labels": {language: shown_text(settings, language)["categories"] for language in LANGUAGES},
    }


def compact(source: str) -> str:
    """Drop comments, indentation and blank lines (for the stylesheets, which hold no ``/*`` in a string)."""
    lines = (line.strip() for line in re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL).splitlines())
    return "\n".join(line for line in lines if line)


@functools.cache
def minified(name: str) -> str:
    """``banner/templates/<name>`` minified, names shortened: as the build left it (``gateway.banner.minify``)."""
    return minified_template(BANNER_DIR, name, prebuilt(BANNER_DIR))


def render(name: str, **values: object) -> str:
    """The minified script with each ``__NAME__`` placeholder replaced by its value as JSON."""
    script = minified(name)
    for key, value in values.items():
        script = script.replace(f"__{key.upper()}__", json.dumps(value, separators=(",", ":")), 1)
    return script


class Script:
    """One served script: body, version (its hash) and caching."""

    def __init__(self, body: str) -> None:
        self.body = body.encode("utf-8")
        self.version = hashlib.sha256(self.body).hexdigest()[:12]

    def response(self, request: Request) -> Response:
        etag = f'"{self.version}"'
        versioned = request.query_params.get("v") == self.version
        headers = {"ETag": etag, "Cache-Control": LONG_CACHE if versioned else SHORT_CACHE}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type="text/javascript; charset=utf-8", headers=headers)


class Banner:
    """banner.js and its settings layer for one ``Settings``, with per-language text hashes."""

    def __init__(self, settings: Settings, catalogue: Catalogue) -> None:
        self.text_hashes = {language: text_hash(settings, language) for language in LANGUAGES}
        settings_style = compact((BANNER_DIR / "settings.css").read_text(encoding="utf-8"))
        self.settings_layer = Script(
            render("settings.js", config=settings_layer_config(settings), stylesheet=settings_style)
        )
        stylesheet = compact((BANNER_DIR / "banner.css").read_text(encoding="utf-8"))
        config = first_layer_config(settings, catalogue, self.settings_layer.version)
        self.first_layer = Script(render("banner.js", config=config, stylesheet=stylesheet))
        self.body = self.first_layer.body
        self.version = self.first_layer.version
        self.url = f"{settings.prefix}/banner.js?v={self.version}"

    def script_tag(self, nonce: str | None = None, attributes: bytes = b"") -> bytes:
        """The tag that loads the banner; ``attributes`` (HTML, leading space) go on it as they are."""
        nonce_attribute = f' nonce="{nonce}"' if nonce else ""
        return f'<script src="{self.url}"{nonce_attribute}'.encode() + attributes + b"></script>"

    def response(self, request: Request) -> Response:
        return self.first_layer.response(request)
