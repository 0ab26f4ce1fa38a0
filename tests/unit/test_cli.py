import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import SECRET


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], env={**clean, **env}, capture_output=True, text=True, timeout=30
    )


def test_bad_setting_stops_start_up_with_one_clear_line() -> None:
    result = run("demo", "--port", "1", GATEWAY_COOKIE_MAX_AGE="forever")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "consent-gateway: configuration error: GATEWAY_COOKIE_MAX_AGE: expected a whole number, got 'forever'"
    )


def test_serve_refuses_to_start_without_a_secret() -> None:
    result = run("serve", "--upstream", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "secret_key" in result.stderr and "GATEWAY_SECRET_KEY" in result.stderr


def test_unsupported_store_is_a_configuration_error() -> None:
    result = run("demo", "--port", "1", GATEWAY_DATABASE_URL="mysql://127.0.0.1/test")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("consent-gateway: configuration error: database_url:")


@pytest.mark.parametrize(
    ("environ", "line"),
    [
        (
            {"GATEWAY_ADMIN_USER": "fg", "GATEWAY_ADMIN_PASSWORD_HASH": "pbkdf2_sha256:10:c2FsdHNhbHQ:aGFzaA"},
            "admin_password_hash: the iteration count must be a number of at least 1000",
        ),
        ({"GATEWAY_GA4_MEASUREMENT_IDS": "UA-1234-1"}, "ga4_measurement_ids: 'UA-1234-1' does not look like a ga4 id"),
    ],
)
def test_checks_made_while_the_gateway_is_built_stop_start_up_with_one_clear_line(
    tmp_path: Path, environ: dict[str, str], line: str
) -> None:
    database = f"sqlite:///{tmp_path / 'consent.db'}"
    result = run(
        "serve", "--upstream", "http://127.0.0.1:9", GATEWAY_SECRET_KEY=SECRET, GATEWAY_DATABASE_URL=database, **environ
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"consent-gateway: configuration error: {line}"
