"""The banner, static files and page templates are served from an installed wheel, not from the checkout."""

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support import REPOSITORY

from gateway.trackers.catalogue import SERVICE_FILES

ROOT = REPOSITORY

PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import gateway, gateway.assets
from starlette.testclient import TestClient
from gateway import ConsentMiddleware, Settings
from gateway.demo import demo_site
from gateway.metrics.registry import Registry
from gateway.proxy.app import UpstreamProxy
assert gateway.__file__.startswith(sys.argv[1]), gateway.__file__
assert str(gateway.assets.BANNER_DIR).startswith(sys.argv[1]), gateway.assets.BANNER_DIR
assert str(gateway.assets.STATIC_DIR).startswith(sys.argv[1]), gateway.assets.STATIC_DIR
settings = Settings(
    secret_key="wheel-test-secret-0123", database_url="sqlite:///" + sys.argv[2],
    admin_token="wheel-admin-token-0123456789", upstream="http://127.0.0.1:9",
)
with TestClient(ConsentMiddleware(demo_site(), settings=settings)) as client:
    script = client.get("/_consent/banner.js")
    form = client.get("/_consent/preferences?lang=en")
    page = client.get("/")
    icon = client.get("/_consent/static/cookie.svg")
    admin = client.get("/_consent/admin/login", headers={"accept-language": "en"})
down = UpstreamProxy(settings, Registry()).error_page({"type": "http", "headers": []}, 502)
print(script.status_code, form.status_code, page.status_code, icon.status_code, admin.status_code, down.status_code,
      "consentGateway" in script.text, "Reject all" in form.text, "banner.js" in page.text, "<svg" in icon.text,
      "Admin token" in admin.text, "HTTP 502" in down.body.decode(),
      "calmjs" not in sys.modules)  # the banner's scripts came minified in the wheel
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    [built] = out.glob("consent_gateway-*.whl")
    return built


def test_wheel_carries_banner_static_and_templates(wheel: Path) -> None:
    """banner/ and static/ beside gateway/, as in the repository; each page's template beside its code."""
    names = zipfile.ZipFile(wheel).namelist()
    assert "banner/templates/banner.js" in names
    assert "banner/locales/nl.json" in names
    assert "gateway/admin/locales/nl.json" in names and "gateway/admin/locales/en.json" in names
    assert "static/cookie.svg" in names
    for area in SERVICE_FILES:
        assert f"gateway/trackers/services/{area}.json" in names
    for template in (
        "templates/base.html",
        "admin/templates/dashboard.html",
        "api/templates/preferences.html",
        "proxy/templates/upstream_error.html",
        "demo/templates/layout.html",
    ):
        assert f"gateway/{template}" in names, template
    assert not any(name.startswith(("gateway/_assets/", "tests/", "benchmarks/", "node_modules/")) for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "consent-gateway = gateway.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_carries_the_compiled_scanner_beside_its_source(wheel: Path) -> None:
    """The rewriter's scanner compiled for this platform (hatch_build.py), its Python source beside it."""
    assert not wheel.name.endswith("-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gateway/pages/scanner.py" in names
    assert [name for name in names if name.startswith("gateway/pages/scanner.") and name.endswith(".so")]
    assert not [name for name in names if name.endswith(".c")]


def test_wheel_carries_the_banner_scripts_minified_for_their_sources(wheel: Path) -> None:
    """hatch_build.py minifies banner/templates/*.js into banner/minified.json, each entry with its source's digest."""
    archive = zipfile.ZipFile(wheel)
    entries = json.loads(archive.read("banner/minified.json"))
    templates = sorted(
        name for name in archive.namelist() if name.startswith("banner/templates/") and name.endswith(".js")
    )
    assert sorted(f"banner/templates/{name}" for name in entries) == templates
    for name, entry in entries.items():
        source = archive.read(f"banner/templates/{name}").decode()
        assert entry["source_sha256"] == hashlib.sha256(source.encode()).hexdigest()
        assert 0 < len(entry["minified"]) < len(source)


def test_without_compiling_the_wheel_is_pure_python(tmp_path: Path) -> None:
    """CONSENT_GATEWAY_PURE=1 (or no compiler): one wheel for every platform, the regular expression scans."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        env={**os.environ, "CONSENT_GATEWAY_PURE": "1"},
    )
    [built] = tmp_path.glob("consent_gateway-*.whl")
    assert built.name.endswith("-py3-none-any.whl")
    archive = zipfile.ZipFile(built)
    assert not [name for name in archive.namelist() if name.endswith((".so", ".pyd", ".c"))]
    wheel_info = next(name for name in archive.namelist() if name.endswith(".dist-info/WHEEL"))
    assert "Root-Is-Purelib: true" in archive.read(wheel_info).decode()


def test_installed_wheel_serves_the_banner_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    installed = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(installed)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(installed), str(tmp_path / "consent.db")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200"] * 5 + ["502"] + ["True"] * 7
