"""docker-compose.yml's stack, run without Docker: its own nginx configuration, two gateways, its sample page.

Docker's engine may not run where the tests do, so the parts of the compose
file that are ours are taken out of it and run here: the load balancer's nginx
configuration (Debian's nginx, see tests/nginx.py), the sample site's page,
and two ``consent-gateway serve`` processes sharing one secret and one store
(SQLite here; PostgreSQL in the compose file). Compose's own syntax is
checked with ``docker compose config`` where the CLI exists (see the README).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator

import httpx
import pytest
from support import REPOSITORY
from support.helpers import Gateway
from support.nginx import Nginx, free_port
from support.records import PASSWORD, PASSWORD_HASH

from gateway.settings import FIELDS

pytestmark = pytest.mark.nginx

COMPOSE = REPOSITORY / "docker-compose.yml"


def heredoc(name: str) -> str:
    """A file the compose file writes inline (``cat > ... <<'NAME'``), as the container sees it."""
    match = re.search(rf"<<'{name}'\n(.*?)\n[ ]*{name}\n", COMPOSE.read_text(), re.DOTALL)
    assert match, f"docker-compose.yml writes no {name} file"
    return textwrap.dedent(match.group(1)).replace("$$", "$")  # "$$" is Compose's escape for "$"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[tuple[Nginx, list[Gateway]]]:
    workdir = tmp_path_factory.mktemp("compose")
    www = workdir / "www"
    www.mkdir()
    (www / "index.html").write_text(heredoc("HTML"))
    balancer_port, site_port = free_port(), free_port()
    env = {
        "GATEWAY_DATABASE_URL": f"sqlite:///{workdir / 'consent.db'}",
        "GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32",  # the load balancer's address here
        "GATEWAY_ADMIN_USER": "fg",
        "GATEWAY_ADMIN_PASSWORD_HASH": PASSWORD_HASH,
    }
    gateways = []
    try:
        for name in ("gateway-1", "gateway-2"):
            (workdir / name).mkdir()
            gateways.append(Gateway(f"http://127.0.0.1:{site_port}", workdir / name, env=env))
        config = heredoc("NGINX")
        upstream, server = config[: config.index("server {")], config[config.index("server {") :]
        for index, gateway in enumerate(gateways, start=1):
            upstream = upstream.replace(f"gateway-{index}:8080", f"127.0.0.1:{gateway.port}")
        server = server.replace("listen 80;", "listen {listen};")
        site = f"server {{ listen {{listen2}}; root {www}; location / {{ }} }}"
        with Nginx(workdir / "nginx", [server, site], ports=[balancer_port, site_port], http_extra=upstream) as nginx:
            yield nginx, gateways
    finally:
        for gateway in gateways:
            gateway.stop()


def test_every_gateway_setting_in_the_compose_file_exists() -> None:
    names = set(re.findall(r"^\s+GATEWAY_([A-Z_]+):", COMPOSE.read_text(), re.MULTILINE))
    assert {"SECRET_KEY", "DATABASE_URL", "UPSTREAM", "TRUSTED_PROXIES", "ADMIN_USER"} <= names
    assert {name.lower() for name in names} <= set(FIELDS)
    assert "GATEWAY_SECRET_KEY: ${GATEWAY_SECRET_KEY:?" in COMPOSE.read_text()  # no default secret


def test_pages_through_the_balancer_are_rewritten(stack) -> None:
    nginx, _ = stack
    page = httpx.get(nginx.url + "/").text
    assert "Excel voor beginners" in page and "/_consent/banner.js?v=" in page
    assert re.search(r'<script async src="[^"]+" type="text/plain" data-consent="analytics"', page)  # the tag
    assert page.count('type="text/plain" data-consent="analytics"') == 2  # and its inline configuration


def test_a_choice_through_one_replica_is_honoured_by_both(stack) -> None:
    nginx, gateways = stack
    answer = httpx.post(nginx.url + "/_consent", json={"action": "accept_all"}, headers={"origin": nginx.url})
    assert answer.status_code == 200
    for gateway in gateways:
        seen = httpx.get(gateway.url + "/_consent", cookies={"consent": answer.json()["token"]}).json()
        assert seen["decided"] and seen["id"] == answer.json()["id"]


def test_requests_are_spread_and_metrics_stay_inside(stack) -> None:
    nginx, gateways = stack
    for _ in range(6):
        assert httpx.get(nginx.url + "/").status_code == 200
    assert httpx.get(nginx.url + "/_consent/metrics").status_code == 404
    for gateway in gateways:
        text = httpx.get(gateway.url + "/_consent/metrics").text
        served = re.search(r'^gateway_request_duration_seconds_count\{kind="page"\} (\d+)$', text, re.MULTILINE)
        assert served and int(served.group(1)) >= 1  # both replicas took pages


def test_the_admin_works_through_the_balancer(stack) -> None:
    nginx, _ = stack
    with httpx.Client(base_url=nginx.url, follow_redirects=True) as browser:
        form = browser.get("/_consent/admin/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        signed_in = browser.post(
            "/_consent/admin/login",
            data={"csrf": csrf, "user": "fg", "password": PASSWORD, "next": "/_consent/admin/audit"},
            headers={"origin": nginx.url},  # the port survives the balancer ($http_host): same origin
        )
        assert signed_in.status_code == 200 and signed_in.url.path == "/_consent/admin/audit"
        assert "from 127.0.0.1" in signed_in.text  # the visitor's address, told by the trusted balancer
        assert browser.get("/_consent/admin").status_code == 200  # either replica accepts the session
        assert browser.get("/_consent/admin/audit").status_code == 200
