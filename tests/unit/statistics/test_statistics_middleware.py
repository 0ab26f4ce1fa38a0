"""Pages counted through the middleware into the real store (SQLite and PostgreSQL), number by number."""

from __future__ import annotations

import time

import pytest
from support.statistics import EXPECTED, FIREFOX, browse, gateway, make_settings, read_figures, today, visit


def test_pages_are_counted_by_every_dimension_into_the_store(store_url: str) -> None:
    with gateway(make_settings(store_url)) as (client, app):
        browse(client, app)
    assert read_figures(store_url, today()) == EXPECTED


def test_two_instances_on_one_database_add_up_exactly(store_url: str) -> None:
    """Two gateways (two stores, two flush tasks flushing every 50 ms) on one database."""
    settings = make_settings(store_url)
    with gateway(settings, interval=0.05) as (first, first_app), gateway(settings, interval=0.05) as (second, _):
        for round_ in range(3):
            browse(first if round_ % 2 == 0 else second, first_app)
            time.sleep(0.06)
        browse(second, first_app)
    twice = {key: (views * 4, visitors * 2) for key, (views, visitors) in EXPECTED.items()}
    # each gateway finds each visitor new once a day: two gateways, two first visits
    assert read_figures(store_url, today()) == twice


def test_nothing_is_counted_when_statistics_are_off(store_url: str) -> None:
    with gateway(make_settings(store_url, statistics=False)) as (client, app):
        assert app.components.statistics is None and app.components.page_rules.statistics is None
        browse(client, app)
    assert read_figures(store_url, today()) == {}


@pytest.mark.parametrize("path", ["/api", "/missing", "/empty"])
def test_no_content_other_than_a_page_is_counted(path: str, tmp_path) -> None:
    with gateway(make_settings(f"sqlite:///{tmp_path / 'c.db'}")) as (client, app):
        visit(client, path, "198.51.100.7", FIREFOX)
        assert not app.components.page_rules.statistics.tally
