"""The one Jinja environment for the HTML pages the gateway renders itself.

Each page lives beside the code that renders it, in that package's
``templates/`` folder, and is named after the package: ``admin/dashboard.html``
is ``gateway/admin/templates/dashboard.html``. ``base.html``, the skeleton
they all extend, is in ``gateway/templates/``. These are package files, so a
wheel carries them like the code; the banner's own files are in ``banner/``
(``gateway.assets``).
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, Template, select_autoescape

PACKAGE_DIR = Path(__file__).resolve().parent
OWNERS = ("admin", "api", "demo", "proxy")  # the packages with a templates/ folder

environment = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(PACKAGE_DIR / "templates"),
            PrefixLoader({owner: FileSystemLoader(PACKAGE_DIR / owner / "templates") for owner in OWNERS}),
        ]
    ),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def template(name: str) -> Template:
    """``name`` as ``<package>/<file>``, e.g. ``proxy/upstream_error.html``; loaded once, then cached."""
    return environment.get_template(name)
