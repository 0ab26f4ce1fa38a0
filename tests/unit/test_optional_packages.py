"""The suite without the optional packages: psycopg (the postgres extra) and Playwright (the scan extra)
are imported only inside the tests that need them, so a checkout without them collects every test and
runs the SQLite ones; the PostgreSQL and browser tests skip, saying what to install."""

from __future__ import annotations

import subprocess
import sys

from support import REPOSITORY

# Blocks the optional packages in a fresh interpreter (``import psycopg`` then raises ImportError), then runs pytest.
WITHOUT_OPTIONAL = """
import sys
for name in ("psycopg", "psycopg_pool", "playwright"):
    sys.modules[name] = None
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def pytest_without_optional_packages(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_OPTIONAL, "-p", "no:cacheprovider", *args],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_test_is_collected_without_psycopg_and_playwright() -> None:
    result = pytest_without_optional_packages("--collect-only", "-q")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "error" not in result.stdout.splitlines()[-1], result.stdout.splitlines()[-1]


def test_the_sqlite_store_tests_pass_and_the_postgresql_ones_skip_without_psycopg() -> None:
    result = pytest_without_optional_packages("tests/unit/store/test_store.py", "-q", "-rs")
    assert result.returncode == 0, result.stdout[-3000:]
    summary = result.stdout.splitlines()[-1]
    assert " passed" in summary and " skipped" in summary and "failed" not in summary, summary
    assert "psycopg is not installed: it comes with pip install -e '.[test]'" in result.stdout
