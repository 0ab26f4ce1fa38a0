"""A page's path in the figures: normalised, the operator's query parameters kept, groups matched."""

from __future__ import annotations

from support.helpers import SECRET

from gateway import Settings
from gateway.settings import StatisticsGroup
from gateway.statistics.paths import MAX_PATH, PagePaths


def paths(**settings) -> PagePaths:
    s = Settings(secret_key=SECRET, **settings)
    return PagePaths(s.statistics_groups, s.statistics_query_parameters, s.case_sensitive_paths)


def test_the_query_string_is_dropped_and_paths_compared_as_policies_compare_them() -> None:
    read = paths()
    assert read("/cursus/les-1", b"utm_source=x&sessionid=abc") == ("/cursus/les-1", ())
    assert read("//Cursus/./x/../les-1", b"") == ("/cursus/les-1", ())
    assert read("/%63ursus/les-1", b"") == ("/cursus/les-1", ())
    assert read("", b"") == ("/", ())


def test_case_is_kept_when_the_site_says_its_paths_are_case_sensitive() -> None:
    assert paths(case_sensitive_paths=True)("/Cursus", b"")[0] == "/Cursus"


def test_listed_query_parameters_are_kept_in_the_order_of_the_list() -> None:
    read = paths(statistics_query_parameters=["id", "course"])
    assert read("/course/view.php", b"course=7&sesskey=s3cr3t&id=12")[0] == "/course/view.php?id=12&course=7"
    assert read("/course/view.php", b"sesskey=s3cr3t")[0] == "/course/view.php"
    assert read("/mod/quiz", b"id=a%20b")[0] == "/mod/quiz?id=a+b"


def test_paths_are_bounded_in_length() -> None:
    path, _ = paths()("/" + "x" * 5000, b"")
    assert len(path) == MAX_PATH


def test_a_page_may_be_in_several_groups_or_none() -> None:
    read = paths(
        statistics_groups=[
            {"name": "Breuken", "paths": ["/course/fractions/*", "/toets/breuken"]},
            {"name": "Rekenen", "paths": ["/course/*"]},
        ]
    )
    assert read("/course/fractions/les-2", b"")[1] == ("Breuken", "Rekenen")
    assert read("/COURSE/Algebra", b"")[1] == ("Rekenen",)
    assert read("/toets/breuken", b"")[1] == ("Breuken",)
    assert read("/over-ons", b"")[1] == ()


def test_groups_from_settings_are_settled() -> None:
    settings = Settings(
        secret_key=SECRET, statistics_groups=[{"name": " Breuken ", "paths": ["/Course/%46ractions/*"]}]
    )
    assert settings.statistics_groups == (StatisticsGroup("Breuken", ("/course/fractions/*",)),)
