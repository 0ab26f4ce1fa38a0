"""The embeddable banner script, rendered once per configuration.

The site's categories, texts, revision and prefix are baked into one file, so
a page needs a single ``<script>`` tag. The file's hash is its version: the
injected tag carries it in the URL, which makes a long cache safe.
"""

from __future__ import annotations

import hashlib
import json
import re

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import Response

from .assets import BANNER_DIR
from .catalogue import Catalogue
from .locale import texts
from .settings import LANGUAGES, Settings

# What the banner and the preferences form show; the hash of these is recorded with each choice.
SHOWN_KEYS = (
    "title", "intro", "privacy_link", "accept_all", "reject_all", "settings", "save", "reopen",
    "preferences_title", "preferences_intro", "always_on", "gpc_notice", "consent_id", "load_once",
    "services", "vendor_privacy",
)
LONG_CACHE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=300"

templates = Environment(
    loader=FileSystemLoader(str(BANNER_DIR / "templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


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


def banner_config(settings: Settings, catalogue: Catalogue) -> dict:
    """What the script needs to know about this site, baked into it."""
    data = catalogue.as_banner_data()
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
        "text": {language: shown_text(settings, language)["texts"] for language in LANGUAGES},
        "labels": {language: shown_text(settings, language)["categories"] for language in LANGUAGES},
        "guard": {c: data["categories"][c]["hosts"] for c in names if c in data["categories"]},
        "cookies": {c: data["categories"][c]["cookies"] for c in names if c in data["categories"]},
        # Klaro names its services in camelCase ("googleAnalytics"): map them onto our categories.
        "klaro": {re.sub("[^a-z0-9]", "", s.id): s.category for s in catalogue.services},
    }


def compact(source: str) -> str:
    """Drop indentation, blank lines and whole-line comments: a few hundred bytes less to send."""
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not (line.startswith("/*") and line.endswith("*/")))


class Banner:
    """banner.js for one ``Settings``, with its version and per-language text hashes."""

    def __init__(self, settings: Settings, catalogue: Catalogue) -> None:
        self.text_hashes = {language: text_hash(settings, language) for language in LANGUAGES}
        stylesheet = compact((BANNER_DIR / "banner.css").read_text(encoding="utf-8"))
        source = templates.get_template("banner.js").render(config=banner_config(settings, catalogue), stylesheet=stylesheet)
        self.body = compact(source).encode("utf-8")
        self.version = hashlib.sha256(self.body).hexdigest()[:12]
        self.url = f"{settings.prefix}/banner.js?v={self.version}"

    def script_tag(self, nonce: str | None = None) -> bytes:
        nonce_attribute = f' nonce="{nonce}"' if nonce else ""
        return f'<script src="{self.url}"{nonce_attribute}></script>'.encode()

    def response(self, request: Request) -> Response:
        etag = f'"{self.version}"'
        versioned = request.query_params.get("v") == self.version
        headers = {"ETag": etag, "Cache-Control": LONG_CACHE if versioned else SHORT_CACHE}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type="text/javascript; charset=utf-8", headers=headers)
