import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.helpers import SECRET, free_port

from gateway import __version__
from gateway.cli import build_parser, public_url


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


# ---- what the command says about itself -----------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"consent-gateway {__version__}"


def every_option(parser: argparse.ArgumentParser, path: str = "consent-gateway"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield from every_option(command, f"{path} {name}")
        elif action.option_strings and action.dest not in ("help", "version"):
            yield path, action


def test_every_option_has_help_that_gives_its_default() -> None:
    options = list(every_option(build_parser()))
    assert {"--host", "--port", "--workers", "--access-log"} <= {
        a.option_strings[0] for p, a in options if "serve" in p
    }
    for path, action in options:
        text = (action.help or "") % {"default": action.default}
        assert "default: " in text, f"{path} {action.option_strings[0]}: the help does not give the default"
        if action.default not in (None, False, []):
            given = text.split("default: ", 1)[1]
            assert given.startswith(
                f"{action.default:g}" if isinstance(action.default, float) else str(action.default)
            ), f"{path} {action.option_strings[0]}: says another default"


def test_serve_help_shows_host_and_port_defaults() -> None:
    result = run("serve", "--help")
    assert "the address to listen on (default: 127.0.0.1)" in result.stdout
    assert "the port to listen on (default: 8080)" in result.stdout


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///consent.db", "sqlite:///consent.db"),
        ("sqlite:////var/lib/gateway/consent.db", "sqlite:////var/lib/gateway/consent.db"),
        (
            "postgresql://gateway:s3cr%40t@db.internal:5432/consent?options=-csearch_path%3Dconsent",
            "postgresql://gateway@db.internal:5432/consent?options=-csearch_path%3Dconsent",
        ),
        (
            "postgresql://db.internal/consent?user=g&password=s3cret&sslmode=require",
            "postgresql://db.internal/consent?user=g&sslmode=require",
        ),
    ],
)
def test_the_summary_shows_the_store_without_its_password(url: str, shown: str) -> None:
    assert public_url(url) == shown


class Started:
    """``consent-gateway`` running in a subprocess, its stderr (uvicorn's log included) in a file."""

    def __init__(self, tmp_path: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "gateway.log"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", *args, "--port", str(self.port)],
                env={**clean, **env},
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=log,  # the access log
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while not self.log().count("Application startup complete"):
            assert self.process.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        return self.log()


def summary(log: str) -> dict[str, str]:
    """The start-up summary's rows, by name; asserts it is there once, before the server's own lines."""
    lines = log.splitlines()
    assert [n for n, line in enumerate(lines) if line.startswith("consent-gateway ")] == [0], log
    rows = {}
    for line in lines[1:]:
        if not line.startswith("  "):
            break
        name, value = line[2:16].strip(), line[16:]
        rows[name] = value
    return rows


def test_serve_prints_a_summary_logs_an_upstream_failure_once_and_cuts_access_log_addresses(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    gateway = Started(
        tmp_path,
        "serve",
        "--upstream",
        f"http://127.0.0.1:{dead}",
        "--access-log",
        GATEWAY_SECRET_KEY=SECRET,
        GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'consent.db'}",
        GATEWAY_ADMIN_TOKEN="an-admin-token-of-some-length",
        CONSENT_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:5432/test",  # a tester's variable: no refusal
    )
    try:
        assert httpx.get(f"{gateway.url}/cursus/rekenen?week=3", timeout=10).status_code == 502
    finally:
        log = gateway.stop()
    assert summary(log) == {
        "listening": f"{gateway.url}/",
        "upstream": f"http://127.0.0.1:{dead}",
        "consent store": f"sqlite:///{tmp_path / 'consent.db'}",
        "admin": f"on, {gateway.url}/_consent/admin",
        "workers": "1",
        "secret": "GATEWAY_SECRET_KEY",
    }
    assert SECRET not in log and "an-admin-token" not in log
    failures = [line for line in log.splitlines() if "upstream" in line and "/cursus/rekenen" in line]
    assert len(failures) == 1, failures  # once: no second line, no traceback
    assert failures[0].startswith(f"WARNING:  upstream unreachable: GET /cursus/rekenen from http://127.0.0.1:{dead} (")
    [access] = [line for line in log.splitlines() if '"GET /cursus/rekenen' in line]
    assert access.startswith('INFO:     127.0.0.0 - "GET /cursus/rekenen?week=3 HTTP/1.1" 502'), access


def test_demo_prints_its_summary_once(tmp_path: Path) -> None:
    demo = Started(tmp_path, "demo")
    log = demo.stop()
    assert summary(log) == {
        "listening": f"{demo.url}/",
        "upstream": "the bundled demo learning site, in this process",
        "consent store": "sqlite:///consent-demo.db",
        "admin": "off (no admin_user or admin_token)",
        "workers": "1",
        "secret": "made up at start-up (demo): choices are asked again after a restart",
    }
