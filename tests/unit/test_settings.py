from pathlib import Path

import pytest

from gateway.app import build
from gateway.settings import Settings, SettingsError

SECRET = "s" * 32


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = Settings(secret_key=SECRET)
    assert settings.category_names == ("functional", "analytics", "marketing", "other")
    assert settings.blocking == "strict" and settings.allowed_hosts == ()
    assert settings.cookie_max_age == 180 * 24 * 3600
    assert settings.prefix == "/_consent"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.secret_key == (SECRET,)


def test_environment_wins_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, f'secret_key = "{SECRET}"\ncookie_name = "from_file"\nrevision = 3\n')
    settings = Settings.load(
        path, environ={"GATEWAY_COOKIE_NAME": "from_env", "GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}
    )
    assert settings.cookie_name == "from_env"
    assert settings.revision == 3
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]


def test_list_of_secrets_from_environment() -> None:
    settings = Settings.load(environ={"GATEWAY_SECRET_KEY": f"{'n' * 20},{'o' * 20}"})
    assert settings.secret_key == ("n" * 20, "o" * 20)


def test_sites_add_categories_with_labels(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'secret_key = "{SECRET}"\n'
        "[categories.marketing]\n[categories.analytics]\n"
        '[categories.video]\nlabel = {nl = "Video\'s", en = "Videos"}\ndescription = "YouTube"\n',
    )
    settings = Settings.load(path, environ={})
    # The required category leads; the rest keep the site's order; other third parties come last.
    assert settings.category_names == ("functional", "marketing", "analytics", "video", "other")
    video = settings.categories[-2]
    assert video.text("nl") == ("Video's", "YouTube")
    assert settings.categories[0].required and not video.required


@pytest.mark.parametrize(
    ("toml", "environ", "named"),
    [
        (f'secret_key = "{SECRET}"\ncookie_nmae = "x"\n', {}, "cookie_nmae"),
        (f'secret_key = "{SECRET}"\nrevision = "two"\n', {}, "revision"),
        (f'secret_key = "{SECRET}"\n', {"GATEWAY_COOKIE_MAX_AGE": "soon"}, "GATEWAY_COOKIE_MAX_AGE"),
        (f'secret_key = "{SECRET}"\n', {"GATEWAY_SECRETKEY": "x"}, "GATEWAY_SECRETKEY"),
        (f'secret_key = "{SECRET}"\ntrusted_proxies = ["10.0.0.0/33"]\n', {}, "trusted_proxies"),
        (f'secret_key = "{SECRET}"\ndefault_language = "fy"\n', {}, "default_language"),
        (f'secret_key = "{SECRET}"\nprefix = "consent/"\n', {}, "prefix"),
        (f'secret_key = "{SECRET}"\ndatabase_url = "mysql://x"\n', {}, "database_url"),
        ('secret_key = "short"\n', {}, "secret_key"),
        ("revision = 2\n", {}, "secret_key"),
        (f'secret_key = "{SECRET}"\n[categories.analytics]\ncolour = "red"\n', {}, "categories.analytics"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, toml: str, environ: dict, named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(write(tmp_path, toml), environ=environ)
    assert str(caught.value).startswith(named)


def test_demo_mode_generates_a_secret() -> None:
    first, second = Settings(demo=True), Settings(demo=True)
    assert len(first.secret_key[0]) >= 32 and first.secret_key != second.secret_key


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        Settings.load(tmp_path / "nope.toml", environ={})


def test_blocking_modes_and_allowed_hosts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'secret_key = "{SECRET}"\nblocking = "catalogue"\nallowed_hosts = ["Cdn.Example.nl.", "*.fonts.example.org"]\n',  # noqa: E501
    )
    settings = Settings.load(path, environ={})
    assert settings.blocking == "catalogue" and "other" not in settings.category_names
    assert settings.allowed_hosts == ("cdn.example.nl", "*.fonts.example.org")
    from_env = Settings.load(
        environ={"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_ALLOWED_HOSTS": "a.example.nl, *.b.example.nl"}
    )
    assert from_env.allowed_hosts == ("a.example.nl", "*.b.example.nl") and from_env.category_names[-1] == "other"
    for bad, message in (({"blocking": "loose"}, "blocking"), ({"allowed_hosts": ("https://x.nl/",)}, "allowed_hosts")):
        with pytest.raises(SettingsError, match=message):
            Settings(secret_key=SECRET, **bad)


# ---- services moved into a category --------------------------------------------------------------


def readme_example() -> str:
    """The example gateway.toml of the README, as written there."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("```toml\nsecret_key = [")
    return readme[start + len("```toml\n") : readme.index("```", start + 7)]


def test_the_readme_example_moves_youtube_and_vimeo_into_video(tmp_path: Path) -> None:
    example = readme_example()
    assert 'services = ["youtube", "vimeo"]' in example
    settings = Settings.load(write(tmp_path, example), environ={})
    assert settings.category_names == ("functional", "analytics", "marketing", "video", "other")
    assert settings.moved_services == {"youtube": "video", "vimeo": "video"}
    assert settings.categories[3].text("en") == ("Videos", "Videos embedded from YouTube and Vimeo.")


def test_moved_services_from_the_environment() -> None:
    environ = {"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_CATEGORIES": "analytics, marketing, video:youtube+vimeo"}
    settings = Settings.load(environ=environ)
    assert settings.moved_services == {"youtube": "video", "vimeo": "video"}
    assert settings.categories[1].text("nl")[0] == "Statistieken"  # a known name keeps its texts


@pytest.mark.parametrize(
    ("toml", "environ", "named"),
    [
        ('[categories.video]\nservices = "youtube"\n', {}, "categories.video.services: expected a list"),
        ("[categories.video]\nservices = [1]\n", {}, "categories.video.services: expected a list"),
        ('[categories.video]\nservices = ["YouTube!"]\n', {}, "categories.video.services: 'YouTube!'"),
        (
            '[categories.video]\nservices = ["youtube"]\n[categories.media]\nservices = ["youtube"]\n',
            {},
            "categories.media.services: 'youtube' is already in categories.video.services",
        ),
        ('[categories.functional]\nservices = ["youtube"]\n', {}, "categories.functional.services: the required"),
        ("", {"GATEWAY_CATEGORIES": "video:youtube+"}, "GATEWAY_CATEGORIES: 'video:youtube+'"),
    ],
)
def test_a_misconfigured_services_entry_names_the_key(tmp_path: Path, toml: str, environ: dict, named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(write(tmp_path, f'secret_key = "{SECRET}"\n{toml}'), environ=environ)
    assert str(caught.value).startswith(named)


@pytest.mark.parametrize(
    ("categories", "services", "named"),
    [
        ("analytics,video:youtub", (), "categories.video.services: 'youtub' is not a catalogued service"),
        (
            "analytics,marketing,video:own-stats",
            ({"id": "own-stats", "name": "S", "vendor": "V", "category": "marketing", "privacy_url": "https://v.nl/",
              "purpose": "p", "retention": "r", "hosts": ["stats.v.nl"]},),
            "categories.video.services: 'own-stats' is one of [[services]] with category 'marketing'",
        ),
    ],
)  # fmt: skip
def test_a_service_the_catalogue_does_not_know_stops_start_up(categories: str, services: tuple, named: str) -> None:
    settings = Settings.load(
        environ={"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_CATEGORIES": categories}, services=services
    )
    with pytest.raises(SettingsError) as caught:
        build(settings)
    assert str(caught.value).startswith(named)
