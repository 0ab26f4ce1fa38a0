"""First-party analytics settings: validated at start-up, each error names its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import SECRET, site

from gateway import CollectSettings, ConsentMiddleware
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
    collect = settings.collect
    assert collect.ga4_measurement_ids == ("G-ABCD1234", "G-EFGH5678")
    assert collect.strip_parameters == ("leerling", "token")
    assert collect.queue_size == 500 and collect.ua_endpoint is None
    backends = configured_backends(collect)
    assert set(backends) == {"ga4", "matomo"}
    assert backends["ga4"].endpoint.startswith("https://") and backends["ga4"].endpoint.endswith("/g/collect")
    assert backends["matomo"].endpoint == "https://matomo.example.nl/analytics/matomo.php"
    assert backends["matomo"].script_url == "https://matomo.example.nl/analytics/matomo.js"


def test_the_default_strip_list_covers_secrets_and_personal_data() -> None:
    for name in ("token", "session", "password", "email", "name", "sesskey", "bsn"):
        assert name in COLLECT_STRIP_PARAMETERS
    assert Settings(secret_key=SECRET).collect.strip_parameters == COLLECT_STRIP_PARAMETERS


@pytest.mark.parametrize(
    ("values", "key"),
    [
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
        Settings.load(environ={}, secret_key=SECRET, **values)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"ga4_measurement_ids": ("UA-1234-1",)}, "ga4_measurement_ids"),
        ({"ua_property_ids": ("G-ABCD1234",)}, "ua_property_ids"),
        ({"matomo_site_ids": ("abc",), "matomo_url": "https://m.example.nl/"}, "matomo_site_ids"),
    ],
)
def test_ids_of_another_format_stop_the_gateway_from_being_built(tmp_path: Path, values: dict, key: str) -> None:
    # The id formats are the collector's knowledge (from the catalogue): checked when the gateway is built.
    settings = Settings.load(environ={}, secret_key=SECRET, database_url=f"sqlite:///{tmp_path / 'c.db'}", **values)
    with pytest.raises(SettingsError, match=f"^{key}: .* does not look like a (ga4|ua|matomo) id"):
        ConsentMiddleware(site(), settings=settings)


def test_collect_settings_are_set_by_their_flat_keys_or_as_one_object() -> None:
    flat = Settings.load(environ={}, secret_key=SECRET, collect_max_body=1024, matomo_url="https://m.example.nl")
    nested = Settings(secret_key=SECRET, collect=CollectSettings(max_body=1024, matomo_url="https://m.example.nl"))
    assert flat.collect == nested.collect and nested.collect.matomo_url == "https://m.example.nl/"
    on_top = Settings.load(environ={}, secret_key=SECRET, collect=nested.collect, collect_retries=0)
    assert on_top.collect.max_body == 1024 and on_top.collect.retries == 0
    with pytest.raises(SettingsError, match="^collect_max_body:"):
        CollectSettings(max_body=0)
    with pytest.raises(SettingsError, match="^GATEWAY_COLLECT: unknown setting"):  # only the flat keys are settings
        Settings.load(environ={"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_COLLECT": "x"})


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
    collect = settings.collect
    assert collect.ga4_measurement_ids == ("G-ABCD1234",) and collect.user_id is True
    assert collect.timeout == 2.0 and collect.matomo_category == "marketing"
    config.write_text('secret_key = "' + SECRET + '"\ncollect_queue_size = "many"\n')
    with pytest.raises(SettingsError, match="^collect_queue_size:"):
        Settings.load(config, environ={})
