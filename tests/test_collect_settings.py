"""First-party analytics settings: validated at start-up, each error names its key."""

from __future__ import annotations

import pytest
from helpers import SECRET

from gateway.collect.protocol import configured_backends
from gateway.settings import COLLECT_STRIP_PARAMETERS, Settings, SettingsError


def test_environment_lists_and_defaults_from_the_catalogue() -> None:
    settings = Settings.load(
        environ={
            "GATEWAY_SECRET_KEY": SECRET,
            "GATEWAY_GA4_MEASUREMENT_IDS": "G-ABCD1234, G-EFGH5678",
            "GATEWAY_MATOMO_URL": "https://matomo.example.nl/analytics",
            "GATEWAY_MATOMO_SITE_IDS": "3",
            "GATEWAY_COLLECT_STRIP_PARAMETERS": "Leerling,token",
            "GATEWAY_COLLECT_QUEUE_SIZE": "500",
            "GATEWAY_UA_ENDPOINT": "",
        }
    )
    assert settings.ga4_measurement_ids == ("G-ABCD1234", "G-EFGH5678")
    assert settings.collect_strip_parameters == ("leerling", "token")
    assert settings.collect_queue_size == 500 and settings.ua_endpoint is None
    backends = configured_backends(settings)
    assert set(backends) == {"ga4", "matomo"}
    assert backends["ga4"].endpoint.startswith("https://") and backends["ga4"].endpoint.endswith("/g/collect")
    assert backends["matomo"].endpoint == "https://matomo.example.nl/analytics/matomo.php"
    assert backends["matomo"].script_url == "https://matomo.example.nl/analytics/matomo.js"


def test_the_default_strip_list_covers_secrets_and_personal_data() -> None:
    for name in ("token", "session", "password", "email", "name", "sesskey", "bsn"):
        assert name in COLLECT_STRIP_PARAMETERS
    assert Settings(secret_key=SECRET).collect_strip_parameters == COLLECT_STRIP_PARAMETERS


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"ga4_measurement_ids": ("UA-1234-1",)}, "ga4_measurement_ids"),
        ({"ua_property_ids": ("G-ABCD1234",)}, "ua_property_ids"),
        ({"matomo_site_ids": ("abc",), "matomo_url": "https://m.example.nl/"}, "matomo_site_ids"),
        ({"matomo_site_ids": ("1",)}, "matomo_url"),
        ({"ga4_endpoint": "ftp://example.nl/g/collect"}, "ga4_endpoint"),
        ({"matomo_url": "https://m.example.nl/?x=1"}, "matomo_url"),
        ({"ga4_category": "statistics"}, "ga4_category"),
        ({"collect_queue_size": 0}, "collect_queue_size"),
        ({"collect_retries": -1}, "collect_retries"),
        ({"collect_drain_timeout": 0}, "collect_drain_timeout"),
    ],
)
def test_bad_values_name_their_key(values: dict, key: str) -> None:
    with pytest.raises(SettingsError, match=f"^{key}:"):
        Settings(secret_key=SECRET, **values)


def test_toml_settings(tmp_path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        'secret_key = "' + SECRET + '"\n'
        'ga4_measurement_ids = ["G-ABCD1234"]\n'
        "collect_user_id = true\n"
        "collect_timeout = 2\n"
        'matomo_category = "marketing"\n'
    )
    settings = Settings.load(config, environ={})
    assert settings.ga4_measurement_ids == ("G-ABCD1234",) and settings.collect_user_id is True
    assert settings.collect_timeout == 2.0 and settings.matomo_category == "marketing"
    config.write_text('secret_key = "' + SECRET + '"\ncollect_queue_size = "many"\n')
    with pytest.raises(SettingsError, match="^collect_queue_size:"):
        Settings.load(config, environ={})
