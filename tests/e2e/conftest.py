"""Fixtures of the browser tests: the tracker stub, one Chromium per test module, and fresh contexts per test.

A module changes what it needs by overriding the small fixtures: ``resolver_rules`` (where Chromium sends
each host name; by default every name but the loopback addresses goes to the tracker stub) and
``context_options`` (what every context of the module is opened with). A module that overrides
``resolver_rules`` without asking for ``stub`` starts no stub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from support.browser import LOOPBACK
from support.helpers import chromium
from support.stubs import TrackerStub


@pytest.fixture(scope="module")
def stub() -> Iterator[TrackerStub]:
    """One HTTPS stand-in for every tracker host; ``new_context`` clears its record before each test."""
    with TrackerStub() as server:
        yield server


@pytest.fixture(scope="module")
def resolver_rules(stub: TrackerStub) -> str:
    """Chromium's ``--host-resolver-rules``: every host name to the stub, but the tests' own loopback servers."""
    return f"MAP * 127.0.0.1:{stub.port}, " + ", ".join(f"EXCLUDE {host}" for host in LOOPBACK)


@pytest.fixture(scope="module")
def browser(resolver_rules: str) -> Iterator[object]:
    """Debian's Chromium, one per module; each test opens contexts of its own (``new_context``)."""
    with chromium(resolver_rules) as browser:
        yield browser


@pytest.fixture(scope="module")
def context_options() -> dict:
    """Options every context of the module is opened with; by default the stub's certificate is accepted."""
    return {"ignore_https_errors": True}


@pytest.fixture
def new_context(request: pytest.FixtureRequest, browser, context_options: dict) -> Iterator[Callable[..., object]]:
    """Open fresh contexts (``context_options`` and the test's own options, a 10 s default timeout); all are
    closed after the test, whether it passed or not. The stub's record is cleared first, when there is one."""
    if "stub" in request.fixturenames:
        request.getfixturevalue("stub").clear()
    contexts = []

    def open_context(**options):
        context = browser.new_context(**{**context_options, **options})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()
