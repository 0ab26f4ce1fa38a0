"""``ThirdParties.explain``: the same answer as ``judge``, with the rule that gave it."""

from __future__ import annotations

import pytest

from gateway.net.urls import resolve
from gateway.trackers.catalogue import default_catalogue
from gateway.trackers.thirdparty import (
    ALLOWED,
    BEACON,
    CATALOGUED,
    ESSENTIAL,
    PASSED,
    SAME_SITE,
    UNKNOWN,
    ThirdParties,
)

SITE = "www.leerplein.nl"
STRICT = ThirdParties(default_catalogue(), strict=True, allowed_hosts=("*.leerplein-cdn.nl",))
CATALOGUE_ONLY = ThirdParties(default_catalogue(), strict=False, allowed_hosts=("*.leerplein-cdn.nl",))

CASES = [
    # url, kind, tiny, rule under strict, rule under catalogue blocking
    ("https://www.googletagmanager.com/gtag/js?id=G-1", "script", False, CATALOGUED, CATALOGUED),
    ("https://www.youtube-nocookie.com/embed/x", "frame", False, CATALOGUED, CATALOGUED),
    ("https://static.leerplein.nl/app.js", "script", False, SAME_SITE, SAME_SITE),
    ("https://cdnjs.cloudflare.com/ajax/libs/x.js", "script", False, ESSENTIAL, ESSENTIAL),
    ("https://www.google.com/recaptcha/api.js", "script", False, ESSENTIAL, ESSENTIAL),
    ("https://fonts.leerplein-cdn.nl/a.woff2", "other", False, ALLOWED, ALLOWED),
    ("https://widgets.onbekend.example/w.js", "script", False, UNKNOWN, PASSED),
    ("https://pixel.onbekend.example/p.gif", "image", True, BEACON, BEACON),
    ("https://pixel.leerplein-cdn.nl/p.gif", "image", True, BEACON, BEACON),
]


@pytest.mark.parametrize(("url", "kind", "tiny", "strict_rule", "catalogue_rule"), CASES)
def test_explain_gives_judges_answer_and_its_rule(
    url: str, kind: str, tiny: bool, strict_rule: str, catalogue_rule: str
) -> None:
    target = resolve(url, f"https://{SITE}/")
    for rules, rule in ((STRICT, strict_rule), (CATALOGUE_ONLY, catalogue_rule)):
        ruling = rules.explain(target, kind, SITE, tiny)
        assert ruling.rule == rule
        assert ruling.hold == rules.judge(target, kind, SITE, tiny)
        assert (ruling.essential is not None) == (rule == ESSENTIAL)


def test_a_service_recorded_for_a_full_url_still_holds_its_host() -> None:
    # A discovery row keeps the host only: Google Maps' embed lives on a shared host.
    root = resolve("https://www.google.com/", f"https://{SITE}/")
    assert STRICT.explain(root, "frame", SITE).rule == UNKNOWN
    ruling = STRICT.explain(root, "frame", SITE, service_id="google-maps")
    assert ruling.rule == CATALOGUED and ruling.hold is not None and ruling.hold.service.id == "google-maps"
    assert STRICT.explain(root, "frame", SITE, service_id="removed-since").rule == UNKNOWN
