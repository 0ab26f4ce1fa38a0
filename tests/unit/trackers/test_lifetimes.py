import pytest

from gateway.trackers.lifetimes import is_lifetime, lifetime_text


@pytest.mark.parametrize(
    ("lifetime", "nl", "en"),
    [
        ("session", "sessie", "session"),
        ("1min", "1 minuut", "1 minute"),
        ("30min", "30 minuten", "30 minutes"),
        ("1h", "1 uur", "1 hour"),
        ("20h", "20 uur", "20 hours"),
        ("1d", "1 dag", "1 day"),
        ("90d", "90 dagen", "90 days"),
        ("2w", "2 weken", "2 weeks"),
        ("1m", "1 maand", "1 month"),
        ("13m", "13 maanden", "13 months"),
        ("1y", "1 jaar", "1 year"),
        ("2y", "2 jaar", "2 years"),
    ],
)
def test_lifetime_text(lifetime: str, nl: str, en: str) -> None:
    assert is_lifetime(lifetime)
    assert lifetime_text(lifetime, "nl") == nl
    assert lifetime_text(lifetime, "en") == en
    assert lifetime_text(lifetime, "de") == en


@pytest.mark.parametrize("value", ["", "2", "y", "0d", "2 years", "2Y", "1.5y", "-1d", "forever", "12345d", None, 2])
def test_malformed_lifetimes(value: object) -> None:
    assert not is_lifetime(value)
    if isinstance(value, str):
        with pytest.raises(ValueError):
            lifetime_text(value, "en")
