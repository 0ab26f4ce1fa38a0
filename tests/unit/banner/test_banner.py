import re

from starlette.testclient import TestClient
from support.helpers import SECRET

from gateway import Settings
from gateway.banner.script import Banner, text_hash
from gateway.trackers.catalogue import default_catalogue


def test_banner_js_is_versioned_and_cacheable(client: TestClient) -> None:
    page = client.get("/").text
    url = re.search(r'<script src="(/_consent/banner\.js\?v=[0-9a-f]{12})"[^>]*></script>', page).group(1)
    versioned = client.get(url)
    assert versioned.status_code == 200
    assert versioned.headers["content-type"].startswith("text/javascript")
    assert "immutable" in versioned.headers["cache-control"]
    plain = client.get("/_consent/banner.js")
    assert plain.content == versioned.content and "immutable" not in plain.headers["cache-control"]
    again = client.get("/_consent/banner.js", headers={"if-none-match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_site_configuration_is_baked_in(tmp_path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{tmp_path}/c.db", revision=7, cookie_name="keuze")
    body = Banner(settings, default_catalogue()).body.decode()
    assert '"revision":7' in body and '"cookie":"keuze"' in body
    assert "Alles weigeren" in body and "Reject all" in body


def test_text_hash_follows_what_is_shown(tmp_path) -> None:
    base = Settings(secret_key=SECRET)
    assert text_hash(base, "nl") != text_hash(base, "en")
    assert text_hash(base, "nl") == text_hash(Settings(secret_key=SECRET, upstream_read_timeout=9), "nl")
    assert text_hash(base, "nl") != text_hash(Settings(secret_key=SECRET, privacy_url="/anders"), "nl")


def test_static_files_are_served(client: TestClient) -> None:
    icon = client.get("/_consent/static/cookie.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
