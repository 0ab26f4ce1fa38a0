"""Admin password hashes and the command that makes them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import SECRET, site

from gateway import ConsentMiddleware, Settings
from gateway.admin.passwords import hash_password, parse_password_hash, verify_password


def test_a_hash_verifies_its_password_only() -> None:
    encoded = hash_password("correct horse battery", iterations=2000)
    assert encoded.startswith("pbkdf2_sha256:2000:") and "$" not in encoded
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)
    assert hash_password("correct horse battery", iterations=2000) != encoded  # a new salt each time


def test_a_tampered_hash_verifies_nothing() -> None:
    algorithm, iterations, salt, derived = hash_password("wachtwoord-1234", iterations=2000).split(":")
    flipped = ("A" if derived[0] != "A" else "B") + derived[1:]
    assert not verify_password("wachtwoord-1234", ":".join((algorithm, iterations, salt, flipped)))
    assert not verify_password("wachtwoord-1234", ":".join((algorithm, "2001", salt, derived)))


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "secret",
        "pbkdf2_sha1:1000:c2FsdHNhbHQ:aGFzaA",
        "pbkdf2_sha256:999:c2FsdHNhbHQ:" + "A" * 43,
        "pbkdf2_sha256:1000:c2FsdHNhbHQ:aGFzaA",
    ],
)
def test_malformed_hashes_are_refused_with_a_reason(encoded: str) -> None:
    with pytest.raises(ValueError):
        parse_password_hash(encoded)


def test_the_command_prints_a_hash_the_gateway_accepts(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "admin", "hash-password", "--iterations", "5000"],
        input="een-lang-wachtwoord\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    encoded = done.stdout.strip()
    assert verify_password("een-lang-wachtwoord", encoded)
    settings = Settings(
        secret_key=SECRET,
        database_url=f"sqlite:///{tmp_path / 'consent.db'}",
        admin_user="fg",
        admin_password_hash=encoded,
    )
    assert ConsentMiddleware(site(), settings=settings).settings.admin_enabled


def test_the_command_refuses_a_short_password() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "admin", "hash-password"],
        input="kort\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "at least 12 characters" in done.stderr and done.stdout == ""
