import os
import subprocess
import sys


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
