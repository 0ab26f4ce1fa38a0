"""The built-in catalogue is complete: every service has every field, and no two services claim the same thing."""

import json
import re
from collections import Counter

import pytest
from support import REPOSITORY

from gateway.languages import LANGUAGES
from gateway.trackers.catalogue import _HOST, SERVICE_FILES, Catalogue, default_catalogue
from gateway.trackers.lifetimes import is_lifetime

SERVICES = REPOSITORY / "gateway" / "trackers" / "services"
# Every service issue 15 names, by id.
NAMED = (
    # analytics and audience measurement
    "comscore", "chartbeat", "parsely", "adobe-analytics", "adobe-audience-manager", "new-relic", "optimizely",
    "yandex-metrica", "etracker", "infonline", "gemius", "at-internet", "piwik-pro", "siteimprove",
    "cloudflare-web-analytics", "plausible", "fathom", "simple-analytics", "hotjar", "microsoft-clarity",
    # tag managers
    "tealium", "adobe-launch", "segment",
    # ads
    "amazon-ads", "teads", "index-exchange", "openx", "pubmatic", "criteo", "taboola", "google-publisher-tag",
    "google-campaign-manager-media", "google-ima",
    # social and comments
    "addthis", "sharethis", "disqus", "pinterest-tag", "pinterest-widgets", "tumblr", "wordpress-stats",
    "wordpress-likes",
    # chat and marketing automation
    "hubspot", "intercom", "zendesk", "drift", "tawk-to", "trengo", "leadinfo", "leadfeeder", "mailchimp",
    "activecampaign", "pardot",
    # embeds
    "youtube", "vimeo", "wistia", "vidyard", "kaltura", "panopto", "microsoft-stream", "google-docs", "google-forms",
    "google-slides", "microsoft-forms", "mentimeter", "kahoot", "padlet", "h5p", "genially", "typeform",
    "surveymonkey", "spotify-embed", "soundcloud-embed",
    # education embeds the issue gives as examples
    "quizlet", "edpuzzle", "canva", "prezi", "loom", "flip", "nearpod", "socrative", "wooclap", "poll-everywhere",
    "slido", "miro", "google-maps",
)  # fmt: skip


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


def host_example(pattern: str) -> str:
    return pattern.replace("*.", "x.")


def test_at_least_300_services_in_the_documented_files(catalogue: Catalogue) -> None:
    assert len(catalogue.services) >= 300
    assert sorted(path.stem for path in SERVICES.glob("*.json")) == sorted(SERVICE_FILES)
    listed = [entry["id"] for area in SERVICE_FILES for entry in json.loads((SERVICES / f"{area}.json").read_text())]
    assert listed == [service.id for service in catalogue.services]  # file order is catalogue order
    assert not json.loads((REPOSITORY / "gateway" / "trackers" / "catalogue.json").read_text()).get("services")


def test_every_service_the_issue_names_is_there(catalogue: Catalogue) -> None:
    ids = {service.id for service in catalogue.services}
    assert not [named for named in NAMED if named not in ids]
    assert catalogue.service("hotjar").category == "analytics"
    assert catalogue.service("microsoft-clarity").category == "analytics"


def test_every_entry_is_complete(catalogue: Catalogue) -> None:
    for service in catalogue.services:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", service.id), service.id
        assert service.name.strip() and service.vendor.strip(), service.id
        assert service.category in ("analytics", "marketing"), service.id
        assert service.privacy_url.startswith("https://") and " " not in service.privacy_url, service.id
        for table in (service.purpose, service.retention):
            assert all(table[language].strip() for language in LANGUAGES), service.id
        assert service.purpose["nl"] != service.purpose["en"], service.id
        assert service.hosts or service.scripts or service.beacons or service.iframes, service.id
        assert set(service.cookie_lifetimes) == set(service.cookies), service.id
        assert all(is_lifetime(lifetime) for lifetime in service.cookie_lifetimes.values()), service.id


def test_every_embed_has_a_placeholder_title(catalogue: Catalogue) -> None:
    embeds = [service for service in catalogue.services if service.iframes]
    assert len(embeds) >= 100
    for service in embeds:
        assert all(service.placeholder.get(language, "").strip() for language in LANGUAGES), service.id
    assert catalogue.service("youtube").title("nl") == "YouTube-video"
    assert catalogue.service("youtube").title("en") == "YouTube video"
    assert catalogue.service("google-analytics").title("nl") == "Google Analytics"  # no placeholder: the name


def test_hosts_are_well_formed_unique_and_not_essential(catalogue: Catalogue) -> None:
    owners = Counter(host for service in catalogue.services for host in service.hosts)
    assert not [host for host, count in owners.items() if count > 1]
    for service in catalogue.services:
        for host in service.hosts:
            assert _HOST.fullmatch(host) and host == host.lower(), (service.id, host)
            assert host.count(".") >= (2 if host.startswith("*.") else 1), (service.id, host)
            assert catalogue.match_host(host_example(host)) is service, (service.id, host)
            assert catalogue.match_essential(host_example(host)) is None, (service.id, host)
    for entry in catalogue.essentials:
        for pattern in entry.patterns:
            assert catalogue.match_host(host_example(pattern.partition("/")[0])) is None, (entry.id, pattern)


def test_url_patterns_are_unique_across_services(catalogue: Catalogue) -> None:
    for kind in ("scripts", "beacons", "iframes"):
        owners = Counter(pattern for service in catalogue.services for pattern in getattr(service, kind))
        assert not [pattern for pattern, count in owners.items() if count > 1], kind


def test_cookie_patterns_belong_to_one_service(catalogue: Catalogue) -> None:
    owners = Counter(pattern for service in catalogue.services for pattern in service.cookies)
    assert not [pattern for pattern, count in owners.items() if count > 1]


def test_no_font_cdn_is_a_service(catalogue: Catalogue) -> None:
    fonts = ("fonts.googleapis.com", "fonts.gstatic.com", "use.typekit.net", "fonts.bunny.net", "use.fontawesome.com")
    for host in fonts:
        assert catalogue.match_host(host) is None, host
        assert catalogue.match_script(f"https://{host}/x.js") is None, host


def test_host_categories_judge_every_host_as_the_index_does(catalogue: Catalogue) -> None:
    by_category = catalogue.host_categories()
    sent = {host: category for category, hosts in by_category.items() for host in hosts}
    assert len(sent) < sum(len(service.hosts) for service in catalogue.services)  # covered hosts left out
    for service in catalogue.services:
        for host in service.hosts:
            example = host_example(host)
            nearest = next(
                (sent[p] for p in [example] + ["*." + d for d in _parents(example)] if p in sent),
                None,
            )
            assert nearest == service.category, (service.id, host)


def _parents(host: str) -> list[str]:
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]
