"""Where the banner and static files are, installed or in a source checkout.

A wheel carries them inside the package (``gateway/_assets``); an editable
install or a plain checkout reads them from the repository root.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    for candidate in (PACKAGE_DIR / "_assets" / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ directory is missing from this installation of consent-gateway")


BANNER_DIR = asset_dir("banner")
STATIC_DIR = asset_dir("static")
