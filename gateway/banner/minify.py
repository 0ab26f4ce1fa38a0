"""The banner's scripts minified once, when the package is built, not in every worker.

Minifying parses the whole script with calmjs.parse: about 0.2 s, and the
parser's tables and syntax tree leave each worker about 8 MiB larger for
good. So the build (``hatch_build.py``) minifies ``banner/templates/*.js``
into ``banner/minified.json``, each entry beside the SHA-256 of the source it
came from. A worker takes an entry only while that digest still matches the
template (a template edited since the install is minified afresh, in
process), so what it serves is always the current source.

Nothing here imports the rest of the gateway: the build hook loads this file
on its own.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

PREBUILT_FILE = "minified.json"  # in banner/, beside templates/


def minify(source: str) -> str:
    """``source`` minified, local names shortened (globals kept: the page and the tests use them)."""
    from calmjs.parse import es5
    from calmjs.parse.unparsers.es5 import minify_print

    return minify_print(es5(source), obfuscate=True, obfuscate_globals=False)


def digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def prebuild(banner_dir: Path) -> Path:
    """Minify every template of ``banner_dir`` into its ``minified.json``; the file's path."""
    entries = {}
    for template in sorted((banner_dir / "templates").glob("*.js")):
        source = template.read_text(encoding="utf-8")
        entries[template.name] = {"source_sha256": digest(source), "minified": minify(source)}
    target = banner_dir / PREBUILT_FILE
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(entries, indent=0, sort_keys=True), encoding="utf-8")
    os.replace(partial, target)  # a reader never sees half a file
    return target


def prebuilt(banner_dir: Path) -> dict[str, dict[str, str]]:
    """What the build left in ``banner_dir``; empty when it left nothing readable."""
    try:
        entries = json.loads((banner_dir / PREBUILT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def minified_template(banner_dir: Path, name: str, entries: dict[str, dict[str, str]]) -> str:
    """``banner_dir/templates/<name>`` minified: from ``entries`` while they match the source, else now."""
    source = (banner_dir / "templates" / name).read_text(encoding="utf-8")
    entry = entries.get(name)
    if isinstance(entry, dict) and entry.get("source_sha256") == digest(source):
        return str(entry["minified"])
    return minify(source)
