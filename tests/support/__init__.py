"""What tests and benchmarks share: ``helpers`` (the secret, record factories, server starters,
Chromium's arguments), ``backends`` (analytics backends that capture what they get), ``stubs``
(tracker hosts and static sites served locally), ``nginx`` (an nginx upstream) and ``liveness``
(an independent oracle: which URLs a page would still fetch, read with html5lib and tinycss2)."""

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
TESTS = REPOSITORY / "tests"
CORPUS = TESTS / "corpus"  # published tracker snippets, one page per service
SHARED_DATA = REPOSITORY.parent / "shared" / "data"  # the Open Cookie Database, beside the checkout
# Optional for a test run: a test that needs one of these skips, naming what is missing and how to get it.
OPEN_COOKIE_DATABASE = SHARED_DATA / "open-cookie-database" / "open-cookie-database.csv"
AXE = REPOSITORY / "node_modules" / "axe-core" / "axe.min.js"  # `npm ci` at the repository root
