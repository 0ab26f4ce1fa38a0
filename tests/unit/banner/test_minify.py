"""The banner's scripts: minified at build time for their exact sources, else minified in the worker."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.assets import BANNER_DIR
from gateway.banner.minify import PREBUILT_FILE, digest, minified_template, minify, prebuild, prebuilt
from gateway.banner.script import minified

TEMPLATES = sorted(path.name for path in (BANNER_DIR / "templates").glob("*.js"))


@pytest.fixture
def banner_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "banner"
    shutil.copytree(BANNER_DIR / "templates", copy / "templates")
    return copy


def test_every_script_served_is_its_current_source_minified() -> None:
    assert TEMPLATES == ["banner.js", "declaration.js", "settings.js"]
    for name in TEMPLATES:
        source = (BANNER_DIR / "templates" / name).read_text(encoding="utf-8")
        assert minified(name) == minify(source)
        assert len(minified(name)) < len(source) * 0.7 and "consentGateway" in minified("banner.js")


def test_prebuild_writes_each_template_with_the_digest_of_its_source(banner_copy: Path) -> None:
    target = prebuild(banner_copy)
    assert target == banner_copy / PREBUILT_FILE
    entries = json.loads(target.read_text(encoding="utf-8"))
    assert sorted(entries) == TEMPLATES
    for name, entry in entries.items():
        source = (banner_copy / "templates" / name).read_text(encoding="utf-8")
        assert entry == {"source_sha256": digest(source), "minified": minify(source)}
    assert not list(banner_copy.glob("*.partial"))


def test_an_entry_is_taken_only_while_its_source_is_unchanged(banner_copy: Path) -> None:
    prebuild(banner_copy)
    entries = prebuilt(banner_copy)
    entries["banner.js"]["minified"] = "/* as built */"
    assert minified_template(banner_copy, "banner.js", entries) == "/* as built */"
    template = banner_copy / "templates" / "banner.js"
    template.write_text(template.read_text(encoding="utf-8") + "\nvar addedSince = 1;\n", encoding="utf-8")
    fresh = minified_template(banner_copy, "banner.js", entries)
    assert fresh == minify(template.read_text(encoding="utf-8")) and "addedSince" in fresh


@pytest.mark.parametrize("content", [None, "not json", "[1, 2]"])
def test_a_missing_or_broken_file_means_minifying_in_the_worker(banner_copy: Path, content: str | None) -> None:
    if content is not None:
        (banner_copy / PREBUILT_FILE).write_text(content, encoding="utf-8")
    assert prebuilt(banner_copy) == {}
    source = (banner_copy / "templates" / "settings.js").read_text(encoding="utf-8")
    assert minified_template(banner_copy, "settings.js", {}) == minify(source)


WORKER = """
import json, sys
import gateway.banner.script as script
script.prebuilt = lambda banner_dir: json.loads(open(sys.argv[1]).read())
from starlette.testclient import TestClient
from gateway.proxy.app import proxy_app
app = proxy_app("http://127.0.0.1:9", None)
with TestClient(app) as client:
    served = client.get("/_consent/banner.js")
print(served.status_code, "consentGateway" in served.text, sorted(m for m in sys.modules if m.startswith("calmjs")))
"""


def test_a_worker_with_current_entries_never_loads_the_parser(banner_copy: Path, tmp_path: Path) -> None:
    prebuild(banner_copy)
    result = subprocess.run(
        [sys.executable, "-c", WORKER, str(banner_copy / PREBUILT_FILE)],
        capture_output=True,
        text=True,
        env={
            "GATEWAY_SECRET_KEY": "minify-test-secret-0123456789",
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
        },
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "True", "[]"]
