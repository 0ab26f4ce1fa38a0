"""Where the banner's files (``banner/``) and the static files (``static/``) are.

They sit next to the ``gateway`` package, in the directory that holds it,
and that is the only place looked in. The repository lays them out that way,
and the wheel keeps the layout (``only-include`` in pyproject.toml puts
``gateway/``, ``banner/`` and ``static/`` side by side at the wheel's root),
so the same rule holds for a plain checkout, an editable install (which
imports the package from the checkout), an installed wheel and the Docker
image (which installs the wheel). The price is two plain data folders,
``banner/`` and ``static/``, at the top of site-packages.

The pages the gateway renders itself are package files: ``gateway.templating``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the directory holding the gateway package


def asset_dir(name: str) -> Path:
    directory = ROOT / name
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is missing: {name}/ belongs beside the gateway package")
    return directory


BANNER_DIR = asset_dir("banner")
STATIC_DIR = asset_dir("static")
