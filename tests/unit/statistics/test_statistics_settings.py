"""The statistics settings: on by default, the [statistics] table, groups and query parameters validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import SECRET

from gateway import Settings, SettingsError
from gateway.settings import StatisticsGroup


def load(tmp_path: Path, toml: str, **environ: str) -> Settings:
    config = tmp_path / "gateway.toml"
    config.write_text(f'secret_key = "{SECRET}"\n{toml}', encoding="utf-8")
    return Settings.load(config, environ=environ)


def test_defaults() -> None:
    settings = Settings(secret_key=SECRET)
    assert settings.statistics is True
    assert settings.statistics_retention_days == 762
    assert settings.statistics_query_parameters == () and settings.statistics_groups == ()


def test_groups_and_switch_in_a_statistics_table(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
statistics_query_parameters = ["id", "course"]

[statistics]
enabled = false

[[statistics.groups]]
name = "Breuken"
paths = ["/course/fractions/*", "/toets/breuken"]

[[statistics.groups]]
name = "Algebra"
paths = ["/course/algebra/*"]
""",
    )
    assert settings.statistics is False
    assert settings.statistics_query_parameters == ("id", "course")
    assert settings.statistics_groups == (
        StatisticsGroup("Breuken", ("/course/fractions/*", "/toets/breuken")),
        StatisticsGroup("Algebra", ("/course/algebra/*",)),
    )


def test_a_plain_switch_and_the_environment(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "statistics = false\n",
        GATEWAY_STATISTICS="true",
        GATEWAY_STATISTICS_RETENTION_DAYS="400",
        GATEWAY_STATISTICS_QUERY_PARAMETERS="id, course",
    )
    assert settings.statistics is True
    assert settings.statistics_retention_days == 400
    assert settings.statistics_query_parameters == ("id", "course")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[statistics]\ncolour = 1\n", "statistics.colour: unknown setting"),
        ('[statistics]\nenabled = "yes"\n', "statistics: expected bool"),
        ("[[statistics.groups]]\nname = 'x'\n", "statistics.groups[0]: needs exactly 'name' and 'paths'"),
        ("[[statistics.groups]]\nname = ''\npaths = ['/a']\n", "statistics.groups[0].name"),
        ("[[statistics.groups]]\nname = 'x'\npaths = []\n", "statistics.groups[0].paths: expected a list"),
        ("[[statistics.groups]]\nname = 'x'\npaths = ['course/*']\n", "'course/*' is not a path pattern"),
        ("[[statistics.groups]]\nname = 'x'\npaths = ['/a b']\n", "holds spaces"),
        ("[[statistics.groups]]\nname = 'x'\npaths = ['/a#b']\n", "holds spaces"),
        (
            "[[statistics.groups]]\nname = 'x'\npaths = ['/a']\n[[statistics.groups]]\nname = 'x'\npaths = ['/b']\n",
            "the name 'x' appears twice",
        ),
        ("statistics_query_parameters = ['id', 'a b']\n", "statistics_query_parameters: 'a b'"),
        ("statistics_retention_days = 0\n", "statistics_retention_days: must be 1 or more"),
    ],
)
def test_bad_statistics_settings_stop_start_up(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]").replace("*", r"\*")):
        load(tmp_path, toml)


def test_groups_cannot_come_from_the_environment() -> None:
    with pytest.raises(SettingsError, match="can only be set in the config file"):
        Settings.load(environ={"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_STATISTICS_GROUPS": "x"})
