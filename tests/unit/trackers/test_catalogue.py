import csv
import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from support import CORPUS, OPEN_COOKIE_DATABASE, REPOSITORY

from gateway.trackers.catalogue import Catalogue, Service, default_catalogue

needs_ocd = pytest.mark.skipif(
    not OPEN_COOKIE_DATABASE.is_file(), reason=f"the Open Cookie Database is not at {OPEN_COOKIE_DATABASE}"
)

# Cookies the catalogue files differently from the Open Cookie Database, on purpose.
# Keys are OCD names; a key ending in "*" covers every OCD name with that prefix.
KEPT_MISMATCHES = {
    # OCD calls these "Functional" because Hotjar needs them to work, not because the
    # site does: every _hj cookie exists only while Hotjar's analytics runs.
    "_hj*": "Hotjar's own state; only present when Hotjar analytics runs",
    # LinkedIn's cookie table describes both as member identifiers for conversion
    # tracking and ad targeting, which is marketing whatever OCD's label says.
    "li_fat_id": "LinkedIn: indirect member identifier for ad conversion tracking",
    "li_giant": "LinkedIn: indirect identifier for groups of members, for ad conversion tracking",
    # Set by the Insight Tag, which is an advertising tag; filing it stricter (marketing)
    # than OCD (analytics) never lets anything through early.
    "ln_or": "set by the LinkedIn Insight Tag, an advertising tag",
    # OCD rows for other vendors' own domains whose names collide with our patterns;
    # such cookies never reach a site behind the gateway.
    "amplitude_id": "Trustpilot's use of Amplitude on trustpilot.com; Amplitude's own entry says Analytics",
    "_gat_pro": "a Snapwidget cookie on snapwidget.com that happens to start with _gat_",
    # Adobe's Experience Cloud visitor id is what Adobe Analytics counts visitors by; filed with
    # Analytics so that granting analytics alone keeps Adobe Analytics working.
    "s_ecid": "Adobe Experience Cloud visitor id, needed by Adobe Analytics",
    "AMCV_*": "Adobe Experience Cloud visitor id, needed by Adobe Analytics",
    "AMCVS_*": "Adobe Experience Cloud session flag, needed by Adobe Analytics",
    # A/B testing and web analytics tools the catalogue files under analytics, whose visitor
    # and experiment cookies OCD calls Functional or Marketing; they exist only while the tool runs.
    "mbox": "Adobe Target, an A/B testing tool",
    "at_check": "Adobe Target, an A/B testing tool",
    "_gaexp": "Google Optimize, an A/B testing tool",
    "optimizelyEndUserId": "Optimizely, an A/B testing tool",
    "_vwo*": "VWO, an A/B testing tool",
    "_vis_opt_*": "VWO, an A/B testing tool",
    "_conv_*": "Convert, an A/B testing tool",
    "_parsely_*": "Parse.ly content analytics",
    "_pcid": "Piano Analytics visitor id",
    "_pctx": "Piano Analytics visitor context",
    "tk_*": "WordPress.com Stats (Automattic Tracks)",
    "IMRID": "Nielsen audience measurement, on imrworldwide.com",
    "i00": "INFOnline audience measurement, on ioam.de",
    "usbls": "Usabilla feedback, an analytics tool here",
    "ki_*": "Qualaroo feedback; OCD files its cookies both ways",
    # Widgets the gateway holds until marketing is granted (chat, comments, reviews, video,
    # personalisation, ads, e-mail campaigns): their cookies exist only once the widget runs,
    # whatever OCD calls them, and go with withdrawing that consent.
    "__lc*": "LiveChat widget",
    "__livechat": "LiveChat widget",
    "tawkUUID": "Tawk.to chat widget",
    "__tawkuuid": "Tawk.to chat widget",
    "TawkConnectionTime": "Tawk.to chat widget",
    "intercom-*": "Intercom chat widget",
    "_zendesk_cookie": "Zendesk chat widget",
    "__zlc*": "Zendesk chat widget",
    "ZD-*": "Zendesk chat widget",
    "crisp-client*": "Crisp chat widget",
    "BVBRAND*": "Bazaarvoice reviews",
    "_vf*": "Viafoura comments",
    "Vf*": "Viafoura comments",
    "_distillery": "Wistia video embed",
    "wistia-video-progress-*": "Wistia video embed",
    "_dy*": "Dynamic Yield personalisation",
    "ez*": "Ezoic ad platform",
    "__stid": "ShareThis share buttons",
    "fpestid": "ShareThis share buttons",
    "mc_*": "Mailchimp e-mail campaign tracking",
    "permutive-id": "Permutive audience platform",
    "cX_*": "Cxense, Piano's audience platform (DMP)",
    "pi_opt_in*": "Salesforce Account Engagement (Pardot)",
}

SHARED_HOSTS = (
    "www.google.com",
    "google.com",
    "www.gstatic.com",
    "fonts.googleapis.com",
    "fonts.gstatic.com",
    "ajax.googleapis.com",
    "www.youtube.com.example.nl",
    "cdnjs.cloudflare.com",
    "cdn.jsdelivr.net",
    "unpkg.com",
    "d111111abcdef8.cloudfront.net",
    "www.recaptcha.net",
    "accounts.google.com",
    "login.microsoftonline.com",
    "js.hsforms.net",
    "forms.hubspot.com",
    "example.nl",
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


def url_from_pattern(pattern: str) -> str:
    if pattern.startswith("/"):
        return pattern
    return "https://" + pattern.replace("*.", "x.").replace("*", "x")


# --- the data ---------------------------------------------------------------------------------


def test_catalogue_is_large_and_well_formed(catalogue: Catalogue) -> None:
    assert len(catalogue.services) >= 30
    ids = [s.id for s in catalogue.services]
    assert len(ids) == len(set(ids))
    for service in catalogue.services:
        assert service.category in ("analytics", "marketing"), service.id
        assert service.name and service.vendor, service.id
        assert service.privacy_url.startswith("https://"), service.id
        for table in (service.purpose, service.retention):
            assert set(table) >= {"nl", "en"} and all(table.values()), service.id
        assert service.scripts or service.inline or service.iframes or service.beacons, service.id


def test_every_url_pattern_matches_its_own_service(catalogue: Catalogue) -> None:
    for service in catalogue.services:
        for kind in ("scripts", "beacons", "iframes"):
            match = getattr(
                catalogue, {"scripts": "match_script", "beacons": "match_beacon", "iframes": "match_iframe"}[kind]
            )
            for pattern in getattr(service, kind):
                found = match(url_from_pattern(pattern))
                assert found is service, (service.id, kind, pattern, found and found.id)
        for host in service.hosts:
            assert catalogue.match_host(host.replace("*.", "x.")) is service, (service.id, host)


def test_every_inline_signature_finds_its_own_service(catalogue: Catalogue) -> None:
    for service in catalogue.services:
        for signature in service.inline:
            found = catalogue.match_inline(f"/* {signature} */")
            # A signature may be part of a longer one of the same vendor (sdk.js inside
            # connect.facebook.net/en_US/sdk.js); it must never point elsewhere.
            assert found is not None and found.vendor == service.vendor, (service.id, signature, found and found.id)


def test_hosts_never_claim_shared_infrastructure(catalogue: Catalogue) -> None:
    for host in SHARED_HOSTS:
        assert catalogue.match_host(host) is None, host
        assert catalogue.match_script(f"https://{host}/library.js") is None, host
    for service in catalogue.services:
        for host in service.hosts:
            assert host.count(".") >= (2 if host.startswith("*.") else 1), (service.id, host)


def test_json_has_no_fields_the_code_ignores() -> None:
    fields = {
        "id",
        "name",
        "vendor",
        "category",
        "privacy_url",
        "purpose",
        "retention",
        "scripts",
        "inline",
        "beacons",
        "iframes",
        "hosts",
        "cookies",
    }
    for path in sorted((REPOSITORY / "gateway" / "trackers" / "services").glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8")):
            assert set(entry) - {"placeholder"} == fields, entry["id"]


@needs_ocd
def test_catalogue_cookies_agree_with_the_open_cookie_database(catalogue: Catalogue) -> None:
    categories = {"Analytics": "analytics", "Marketing": "marketing"}
    compared, mismatches = 0, []
    with OPEN_COOKIE_DATABASE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["Cookie / Data Key name"].strip()
            probe = name + "x1" if row["Wildcard match"].strip() == "1" else name
            ours = catalogue.category_of_cookie(probe) if name else None
            if ours is None:
                continue
            compared += 1
            kept = name in KEPT_MISMATCHES or any(
                key.endswith("*") and name.startswith(key[:-1]) for key in KEPT_MISMATCHES
            )
            if categories.get(row["Category"]) != ours and not kept:
                mismatches.append(f"{name}: OCD {row['Category']} ({row['Platform']}), catalogue {ours}")
    assert compared > 100  # the comparison really ran over the catalogue's cookies
    assert not mismatches


# --- matching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.googletagmanager.com/gtag/js?id=G-XXXX", "google-analytics"),
        ("https://www.googletagmanager.com/gtag/js?id=UA-1234-1", "google-analytics"),
        ("https://www.googletagmanager.com/gtag/js?id=AW-123456", "google-ads"),
        ("https://www.googletagmanager.com/gtag/js?id=DC-123456", "google-marketing-platform"),
        ("https://www.googletagmanager.com/gtm.js?id=GTM-XXXX", "google-tag-manager"),
        ("https://www.google-analytics.com/analytics.js", "google-analytics"),
        ("//www.google-analytics.com/analytics_debug.js", "google-analytics"),
        ("https://www.googleadservices.com/pagead/conversion_async.js", "google-ads"),
        ("https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js?client=ca-pub-1", "google-adsense"),
        ("https://securepubads.g.doubleclick.net/tag/js/gpt.js", "google-adsense"),
        ("https://maps.googleapis.com/maps/api/js?key=abc&callback=init", "google-maps"),
        ("https://www.youtube.com/iframe_api", "youtube"),
        ("https://connect.facebook.net/en_US/fbevents.js", "meta-pixel"),
        ("https://connect.facebook.net/signals/config/123?v=2.9", "meta-pixel"),
        ("https://connect.facebook.net/nl_NL/sdk.js#xfbml=1&version=v19.0", "facebook-social"),
        ("https://www.instagram.com/embed.js", "instagram-embed"),
        ("https://snap.licdn.com/li.lms-analytics/insight.min.js", "linkedin-insight"),
        ("https://platform.linkedin.com/in.js", "linkedin-plugins"),
        ("https://static.hotjar.com/c/hotjar-1.js?sv=6", "hotjar"),
        ("https://www.clarity.ms/tag/abc", "microsoft-clarity"),
        ("https://bat.bing.com/bat.js", "bing-uet"),
        ("/matomo.js", "matomo"),
        ("/piwik.js", "matomo"),
        ("matomo.js", "matomo"),
        ("https://stats.leerplein.nl/matomo.js?v=5", "matomo"),
        ("//stats.leerplein.nl/piwik.js", "matomo"),
        ("https://cdn.matomo.cloud/x.matomo.cloud/matomo.js", "matomo"),
        ("https://cdn.matomo.cloud/x.matomo.cloud/container_AbC123.js", "matomo"),
        ("https://plausible.io/js/script.js", "plausible"),
        ("https://assets.adobedtm.com/launch-EN123.min.js", "adobe-launch"),
        ("https://cdn.mxpnl.com/libs/mixpanel-2-latest.min.js", "mixpanel"),
        ("https://cdn.segment.com/analytics.js/v1/KEY/analytics.min.js", "segment"),
        ("https://cdn.amplitude.com/libs/analytics-browser-2.0.0-min.js.gz", "amplitude"),
        ("https://cdn.heapanalytics.com/js/heap-123.js", "heap"),
        ("https://script.crazyegg.com/pages/scripts/0012/3456.js", "crazy-egg"),
        ("https://cdn.mouseflow.com/projects/abc.js", "mouseflow"),
        ("https://tools.luckyorange.com/core/lo.js?site-id=abc", "lucky-orange"),
        ("https://analytics.tiktok.com/i18n/pixel/events.js", "tiktok-pixel"),
        ("https://static.ads-twitter.com/uwt.js", "x-pixel"),
        ("https://platform.twitter.com/widgets.js", "x-embed"),
        ("https://s.pinimg.com/ct/core.js", "pinterest-tag"),
        ("https://sc-static.net/scevent.min.js", "snapchat-pixel"),
        ("https://www.redditstatic.com/ads/pixel.js", "reddit-pixel"),
        ("https://js.hs-scripts.com/1234567.js", "hubspot"),
        ("https://cdn.leadinfo.net/ping.js", "leadinfo"),
        ("https://static.criteo.net/js/ld/ld.js", "criteo"),
        ("https://cdn.taboola.com/libtrc/unip/123/tfa.js", "taboola"),
        ("https://amplify.outbrain.com/cp/obtp.js", "outbrain"),
        ("https://player.vimeo.com/api/player.js", "vimeo"),
        ("https://w.soundcloud.com/player/api.js", "soundcloud-embed"),
        ("HTTPS://WWW.GOOGLETAGMANAGER.COM:443/gtm.js?id=GTM-1", "google-tag-manager"),
        ("https://user:pw@static.hotjar.com/c/hotjar-1.js", "hotjar"),
        ("  https://static.hotjar.com/c/hotjar-1.js\n", "hotjar"),
        ("https://static.hotjar.com./c/hotjar-1.js", "hotjar"),
        ("https:\\\\static.hotjar.com\\c\\hotjar-1.js", "hotjar"),
    ],
)
def test_match_script(catalogue: Catalogue, url: str, expected: str) -> None:
    service = catalogue.match_script(url)
    assert service is not None and service.id == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://www.example.nl/app.js",
        "/static/app.js",
        "app.js",
        "https://fonts.googleapis.com/css?family=Inter",
        "https://ajax.googleapis.com/ajax/libs/jquery/3.7.1/jquery.min.js",
        "https://www.google.com/recaptcha/api.js",
        "https://www.gstatic.com/charts/loader.js",
        "https://cdn.jsdelivr.net/npm/alpinejs",
        "https://www.example.nl/mymatomo.js",
        "https://www.example.nl/matomo.js.map/other.js",
        "https://notgoogle-analytics.com/analytics.js",
        "https://google-analytics.com.evil.example/analytics.js",
        "javascript:void(0)",
        "JavaScript:alert(1)",
        "data:text/javascript,alert(1)",
        "mailto:info@example.nl",
        "",
        "   ",
        "#",
        "?",
        "//",
        "https://",
        "https://[::1",
        "http://[::1]:8080/matomo",
        "http://192.168.1.1/app.js",
        "\x00\x01garbage\uffff",
        "https://www.googletagmanager.com.evil.example/gtm.js",
    ],
)
def test_match_script_leaves_other_scripts_alone(catalogue: Catalogue, url: str) -> None:
    assert catalogue.match_script(url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.facebook.com/tr?id=1&ev=PageView&noscript=1", "meta-pixel"),
        ("https://www.facebook.com/tr/?id=1", "meta-pixel"),
        ("https://px.ads.linkedin.com/collect/?pid=1&fmt=gif", "linkedin-insight"),
        ("https://www.google-analytics.com/collect?v=1&tid=UA-1", "google-analytics"),
        ("https://region1.google-analytics.com/g/collect?v=2", "google-analytics"),
        ("https://region1.analytics.google.com/g/collect?v=2&tid=G-1", "google-analytics"),
        ("https://bat.bing.com/action/0?ti=123&Ver=2", "bing-uet"),
        ("https://t.co/i/adsct?txn_id=abc&p_id=Twitter", "x-pixel"),
        ("https://analytics.twitter.com/i/adsct?txn_id=abc", "x-pixel"),
        ("https://ct.pinterest.com/v3/?event=init&tid=123&noscript=1", "pinterest-tag"),
        ("https://googleads.g.doubleclick.net/pagead/viewthroughconversion/123/?guid=ON&script=0", "google-ads"),
        ("https://www.google.nl/pagead/1p-user-list/123/?random=1", "google-ads"),
        ("https://ad.doubleclick.net/activity;src=1;type=a;cat=b", "google-marketing-platform"),
        ("https://stats.leerplein.nl/matomo.php?idsite=1&rec=1", "matomo"),
        ("/piwik.php?idsite=1&rec=1", "matomo"),
        ("https://c.clarity.ms/c.gif", "microsoft-clarity"),
        ("https://alb.reddit.com/snoo.gif?q=1", "reddit-pixel"),
        ("https://tr.snapchat.com/p", "snapchat-pixel"),
        ("https://track.hubspot.com/__ptq.gif?a=1", "hubspot"),
        ("https://example.sc.omtrdc.net/b/ss/rsid/1/JS-2.22.0/s1234", "adobe-analytics"),
    ],
)
def test_match_beacon(catalogue: Catalogue, url: str, expected: str) -> None:
    service = catalogue.match_beacon(url)
    assert service is not None and service.id == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://www.facebook.com/travel.png",
        "https://i.ytimg.com/vi/abc/hqdefault.jpg",  # a thumbnail is a picture, not a pixel
        "https://www.example.nl/img/logo.png",
        "/tracker.gif",
        "https://www.google.com/images/branding/logo.png",
    ],
)
def test_match_beacon_leaves_pictures_alone(catalogue: Catalogue, url: str) -> None:
    assert catalogue.match_beacon(url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.youtube.com/embed/abc", "youtube"),
        ("https://www.youtube.com/embed/videoseries?list=PL1", "youtube"),
        ("https://www.youtube-nocookie.com/embed/abc?rel=0", "youtube"),
        ("//www.youtube.com/embed/abc", "youtube"),
        ("https://player.vimeo.com/video/123456?h=abc", "vimeo"),
        ("https://www.google.com/maps/embed?pb=!1m18", "google-maps"),
        ("https://maps.google.com/maps?q=utrecht&output=embed", "google-maps"),
        ("https://www.googletagmanager.com/ns.html?id=GTM-XXXX", "google-tag-manager"),
        ("https://www.facebook.com/plugins/page.php?href=x", "facebook-social"),
        ("https://www.facebook.com/v19.0/plugins/like.php?href=x", "facebook-social"),
        ("https://www.instagram.com/p/ABC/embed", "instagram-embed"),
        ("https://platform.twitter.com/embed/Tweet.html?id=1", "x-embed"),
        ("https://open.spotify.com/embed/episode/abc", "spotify-embed"),
        ("https://w.soundcloud.com/player/?url=https%3A//api.soundcloud.com/tracks/1", "soundcloud-embed"),
        ("https://www.linkedin.com/embed/feed/update/urn:li:share:1", "linkedin-plugins"),
        ("https://abc.fls.doubleclick.net/activityi;src=1", "google-marketing-platform"),
    ],
)
def test_match_iframe(catalogue: Catalogue, url: str, expected: str) -> None:
    service = catalogue.match_iframe(url)
    assert service is not None and service.id == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://www.google.com/search?q=x",
        "https://www.example.nl/embed/",
        "https://h5p.org/h5p/embed/1",
        "about:blank",
        "",
    ],
)
def test_match_iframe_leaves_other_frames_alone(catalogue: Catalogue, url: str) -> None:
    assert catalogue.match_iframe(url) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.googletagmanager.com", "google-tag-manager"),
        ("www.google-analytics.com", "google-analytics"),
        ("region1.analytics.google.com", "google-analytics"),
        ("WWW.CLARITY.MS:443", "microsoft-clarity"),
        ("connect.facebook.net", "meta-pixel"),
        ("static.hotjar.com", "hotjar"),
        ("https://static.hotjar.com/", "hotjar"),
        ("//i.ytimg.com", "youtube"),
        ("x.matomo.cloud", "matomo"),
        ("stats.g.doubleclick.net", "google-marketing-platform"),
        ("googleads.g.doubleclick.net", "google-ads"),
    ],
)
def test_match_host(catalogue: Catalogue, host: str, expected: str) -> None:
    service = catalogue.match_host(host)
    assert service is not None and service.id == expected


@pytest.mark.parametrize(
    "host",
    ["www.example.nl", "fonts.googleapis.com", "www.google.com", "google.com", "", "[::1]", "127.0.0.1", "nl", "..."],
)
def test_match_host_leaves_other_hosts_alone(catalogue: Catalogue, host: str) -> None:
    assert catalogue.match_host(host) is None


def test_matching_never_raises_on_garbage(catalogue: Catalogue) -> None:
    garbage = [
        None,
        42,
        b"https://www.clarity.ms/tag/x",
        "http://[",
        "http://]",
        "https://%zz",
        "https://a@b@c/d",
        "\\\\",
        "https:////",
        "https://:80",
        "&amp;&lt;",
        "\ud800",
        "x" * 10000,
        "https://" + "a." * 5000,
    ]
    for value in garbage:
        for match in (
            catalogue.match_script,
            catalogue.match_beacon,
            catalogue.match_iframe,
            catalogue.match_host,
            catalogue.match_inline,
            catalogue.category_of_cookie,
        ):
            match(value)  # type: ignore[arg-type]


# --- inline snippets, as vendors publish them ---------------------------------------------------


def corpus_service(stem: str, services: Iterable[str]) -> str:
    """The service a corpus file is named after: the longest service id its name starts with."""
    return max((s for s in services if stem == s or stem.startswith(s + "-")), key=len)


def inline_snippets() -> dict[str, str]:
    """Inline script bodies of the corpus, by file name (the published snippet forms)."""
    bodies = {}
    for path in sorted(CORPUS.glob("*.html")):
        for body in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", path.read_text(), re.S):
            if body.strip():
                bodies.setdefault(path.stem, "")
                bodies[path.stem] += body
    return bodies


SNIPPETS = inline_snippets()


@pytest.mark.parametrize("stem", sorted(SNIPPETS))
def test_match_inline_recognises_published_snippets(catalogue: Catalogue, stem: str) -> None:
    expected = corpus_service(stem, [s.id for s in catalogue.services])
    service = catalogue.match_inline(SNIPPETS[stem])
    assert service is not None and service.id == expected


@pytest.mark.parametrize(
    "code",
    [
        # Consent Mode defaults must run before any tag, so they are never a tracker.
        """window.dataLayer = window.dataLayer || [];
function gtag(){dataLayer.push(arguments);}
gtag('consent', 'default', {ad_storage: 'denied', analytics_storage: 'denied', wait_for_update: 500});""",
        "document.querySelector('#menu').addEventListener('click', toggleMenu);",
        'window.H5PIntegration = {"baseUrl": "https://leerplein.nl"};',
        "",
    ],
)
def test_match_inline_leaves_site_code_alone(catalogue: Catalogue, code: str) -> None:
    assert catalogue.match_inline(code) is None


def test_match_inline_prefers_the_stricter_tag_in_a_mixed_block(catalogue: Catalogue) -> None:
    code = SNIPPETS["google-analytics-gtag"] + "gtag('config', 'AW-123');"
    assert catalogue.match_inline(code).id == "google-ads"


# --- cookies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("_ga", "analytics"),
        ("_ga_ABC123", "analytics"),
        ("_gid", "analytics"),
        ("_gat", "analytics"),
        ("_gat_UA-1234-1", "analytics"),
        ("_gat_gtag_UA_1234_1", "analytics"),
        ("__utma", "analytics"),
        ("_gcl_au", "marketing"),
        ("_gac_UA-1234-1", "marketing"),
        ("_fbp", "marketing"),
        ("_fbc", "marketing"),
        ("_hjSessionUser_123", "analytics"),
        ("_clck", "analytics"),
        ("_pk_id.1.abcd", "analytics"),
        ("_uetvid", "marketing"),
        ("li_fat_id", "marketing"),
        ("_ttp", "marketing"),
        ("mp_abc_mixpanel", "analytics"),
        ("AMP_TOKEN", "analytics"),
        ("AMP_abc123", "analytics"),
        ("mf_0f9e8d7c-1234-5678-9abc-def012345678", "analytics"),
        ("_li_id.abc", "marketing"),
        ("hubspotutk", "marketing"),
        ("consent", None),
        ("sessionid", None),
        ("csrftoken", None),
        ("MoodleSession", None),
        ("_gatsby", None),
        ("mp_session", None),
        ("mf_session", None),
        ("", None),
        ("_", None),
    ],
)
def test_category_of_cookie(catalogue: Catalogue, name: str, category: str | None) -> None:
    assert catalogue.category_of_cookie(name) == category


def test_service_of_cookie_prefers_exact_names(catalogue: Catalogue) -> None:
    assert catalogue.service_of_cookie("AMP_TOKEN").id == "google-analytics"
    assert catalogue.service_of_cookie("AMP_1234567890").id == "amplitude"


def test_cookie_patterns_per_category(catalogue: Catalogue) -> None:
    analytics = catalogue.cookie_patterns("analytics")
    marketing = catalogue.cookie_patterns("marketing")
    assert {"_ga", "_ga_*", "_gid", "_pk_*", "_hj*"} <= set(analytics)
    assert {"_fbp", "_gcl_*", "_uetsid"} <= set(marketing)
    assert not set(analytics) & set(marketing)
    assert len(analytics) == len(set(analytics))
    assert catalogue.cookie_patterns("functional") == ()


@needs_ocd
def test_open_cookie_database_answers_for_unknown_cookies() -> None:
    catalogue = Catalogue.load(open_cookie_database=OPEN_COOKIE_DATABASE)
    assert catalogue.category_of_cookie("ab.storage.deviceId.1a2b") == "analytics"  # Braze, a wildcard row
    assert catalogue.category_of_cookie("__qca") == "marketing"  # Quantcast
    assert catalogue.category_of_cookie("_ga") == "analytics"  # the catalogue still answers first
    assert catalogue.category_of_cookie("cookiePreferences") is None  # Functional: not ours to block
    # Rows naming a vendor domain describe cookies on that domain; on the site these
    # names are the site's own (Django's session, a language choice).
    assert catalogue.category_of_cookie("sessionid") is None
    assert catalogue.category_of_cookie("locale") is None
    assert default_catalogue().category_of_cookie("ab.storage.deviceId.1a2b") is None


def test_open_cookie_database_problems_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="open_cookie_database: file .* not found"):
        Catalogue.load(open_cookie_database=tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,category\n_ga,Analytics\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks the column"):
        Catalogue.load(open_cookie_database=wrong)


def test_small_open_cookie_database(tmp_path: Path) -> None:
    path = tmp_path / "ocd.csv"
    path.write_text(
        "ID,Platform,Category,Cookie / Data Key name,Domain,Description,Retention period,Data Controller,"
        "User Privacy & GDPR Rights Portals,Wildcard match\n"
        "1,Tracker,Marketing,trk_,,x,1 year,T,https://t.example,1\n"
        "2,Tracker,Analytics,stat,,x,1 year,T,https://t.example,0\n"
        "3,Shop,Functional,cart,,x,1 year,S,https://s.example,0\n"
        "4,Social,Marketing,lang,social.example,x,1 year,S,https://s.example,0\n"
        "5,Tiny,Analytics,sp,,x,1 year,T,https://t.example,0\n"
        "6,Tiny,Marketing,t_,,x,1 year,T,https://t.example,1\n",
        encoding="utf-8",
    )
    catalogue = Catalogue.load(open_cookie_database=path)
    assert catalogue.category_of_cookie("trk_123") == "marketing"
    assert catalogue.category_of_cookie("stat") == "analytics"
    assert catalogue.category_of_cookie("statistics") is None
    assert catalogue.category_of_cookie("cart") is None
    assert catalogue.category_of_cookie("lang") is None
    assert catalogue.category_of_cookie("sp") is None  # too short to be anyone's but the site's
    assert catalogue.category_of_cookie("t_session") is None


# --- banner data ------------------------------------------------------------------------------


def test_banner_data_is_compact_json(catalogue: Catalogue) -> None:
    data = json.loads(json.dumps(catalogue.as_banner_data()))
    assert set(data["categories"]) == {"analytics", "marketing"}
    assert "www.googletagmanager.com" in data["categories"]["analytics"]["hosts"]
    assert "connect.facebook.net" in data["categories"]["marketing"]["hosts"]
    assert "_fbp" in data["categories"]["marketing"]["cookies"]
    ga = data["services"]["google-analytics"]
    assert ga["name"] == "Google Analytics" and ga["vendor"] == "Google" and ga["category"] == "analytics"
    # Dutch and English are written out; German and French show the English.
    assert ga["retention"] == {"nl": "tot 2 jaar", "en": "up to 2 years", "de": "up to 2 years", "fr": "up to 2 years"}
    assert "_ga" in ga["cookies"] and ga["privacy_url"].startswith("https://")
    assert set(ga["purpose"]) == {"nl", "en", "de", "fr"}
    assert len(data["services"]) == len(catalogue.services)


def test_service_is_hashable_and_speaks_both_languages(catalogue: Catalogue) -> None:
    service = catalogue.service("youtube")
    assert {service: 1}[service] == 1
    purpose, retention = service.text("nl")
    assert "video" in purpose and retention == "tot 2 jaar"
    assert service.text("de") == service.text("en")


# --- the operator's own services --------------------------------------------------------------

EXTRA = {
    "id": "stats-leerplein",
    "name": "Leerplein Stats",
    "vendor": "Leerplein B.V.",
    "category": "analytics",
    "privacy_url": "https://leerplein.nl/privacy",
    "purpose": {"nl": "Telt bezoeken.", "en": "Counts visits."},
    "retention": "1 jaar",
    "scripts": ["stats.leerplein.nl/t.js", "/lp-stats.js"],
    "inline": ["lpStats.init("],
    "beacons": ["stats.leerplein.nl/hit"],
    "hosts": ["*.stats.leerplein.nl", "STATS.leerplein.nl"],
    "cookies": ["_lps_*"],
}


def test_extra_service_from_config() -> None:
    catalogue = Catalogue.load(extra_services=[EXTRA])
    assert len(catalogue.services) == len(default_catalogue().services) + 1
    assert catalogue.match_script("https://stats.leerplein.nl/t.js?v=2").id == "stats-leerplein"
    assert catalogue.match_script("/assets/lp-stats.js").id == "stats-leerplein"
    assert catalogue.match_inline("lpStats.init({site: 1})").id == "stats-leerplein"
    assert catalogue.match_beacon("https://stats.leerplein.nl/hit?p=/").id == "stats-leerplein"
    assert catalogue.match_host("eu.stats.leerplein.nl").id == "stats-leerplein"
    assert catalogue.category_of_cookie("_lps_visitor") == "analytics"
    assert catalogue.service("stats-leerplein").retention == dict.fromkeys(("nl", "en", "de", "fr"), "1 jaar")
    assert catalogue.match_script("https://www.clarity.ms/tag/x").id == "microsoft-clarity"


def test_extra_service_with_cookie_lifetimes_and_a_placeholder() -> None:
    extra = {**EXTRA, "cookies": {"_lps_*": "13m", "lps_session": "session"}, "placeholder": {"nl": "Leerplein-quiz"}}
    service = Catalogue.load(extra_services=[extra]).service("stats-leerplein")
    assert service.cookies == ("_lps_*", "lps_session")
    assert service.cookie_lifetimes == {"_lps_*": "13m", "lps_session": "session"}
    assert service.title("nl") == service.title("en") == "Leerplein-quiz"
    plain = Catalogue.load(extra_services=[EXTRA]).service("stats-leerplein")
    assert plain.cookie_lifetimes == {} and plain.title("nl") == "Leerplein Stats"


def test_extra_service_replaces_a_builtin_one_and_wins_overlaps() -> None:
    youtube = {
        **{k: v for k, v in EXTRA.items() if k not in ("scripts", "inline", "beacons", "hosts", "cookies")},
        "id": "youtube",
        "name": "YouTube (analytics)",
        "iframes": ["www.youtube-nocookie.com/embed/"],
    }
    clarity = {**EXTRA, "id": "own-clarity", "scripts": ["www.clarity.ms/tag/"], "hosts": [], "cookies": []}
    catalogue = Catalogue.load(extra_services=[youtube, clarity])
    assert [s.id for s in catalogue.services].count("youtube") == 1
    assert catalogue.match_iframe("https://www.youtube-nocookie.com/embed/x").category == "analytics"
    assert catalogue.match_iframe("https://www.youtube.com/embed/x") is None
    assert catalogue.match_script("https://www.clarity.ms/tag/x").id == "own-clarity"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"category": "ads"}, "'category'"),
        ({"category": "functional"}, "'category'"),
        ({"id": "Not An Id"}, "'id'"),
        ({"name": ""}, "'name'"),
        ({"privacy_url": "http://leerplein.nl/privacy"}, "'privacy_url'"),
        ({"purpose": {"nl": ""}}, "'purpose'"),
        ({"retention": 12}, "'retention'"),
        ({"scripts": ["https://stats.leerplein.nl/t.js"]}, "'scripts'"),
        ({"scripts": "stats.leerplein.nl/t.js"}, "'scripts'"),
        ({"beacons": ["stats leerplein nl"]}, "'beacons'"),
        ({"iframes": ["*.nl/embed"]}, "'iframes'"),
        ({"scripts": ["/x?y=1"]}, "'scripts'"),
        ({"hosts": ["stats.leerplein.nl/path"]}, "'hosts'"),
        ({"hosts": ["*.nl"]}, "'hosts'"),
        ({"inline": ["ga("]}, "'inline'"),
        ({"cookies": ["*"]}, "'cookies'"),
        ({"cookies": ["bad name"]}, "'cookies'"),
        ({"cookie": ["_lps"]}, "'cookie'"),
        ({"cookies": {"_lps_*": "forever"}}, "'cookies'"),
        ({"cookies": {"_lps_*": 365}}, "'cookies'"),
        ({"cookies": {"bad name": "1y"}}, "'cookies'"),
        ({"placeholder": ""}, "'placeholder'"),
        ({"placeholder": {"nl": ""}}, "'placeholder'"),
    ],
)
def test_bad_extra_service_names_the_service_and_field(change: dict, named: str) -> None:
    with pytest.raises(ValueError) as error:
        Catalogue.load(extra_services=[{**EXTRA, **change}])
    message = str(error.value)
    assert named in message
    if "id" not in change:
        assert "'stats-leerplein'" in message


def test_bad_extra_service_shapes() -> None:
    with pytest.raises(ValueError, match=r"service 'stats-leerplein': field 'vendor' is required"):
        Catalogue.load(extra_services=[{k: v for k, v in EXTRA.items() if k != "vendor"}])
    with pytest.raises(ValueError, match=r"services\[0\]: expected a table"):
        Catalogue.load(extra_services=["stats.leerplein.nl"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="appears twice"):
        Catalogue.load(extra_services=[EXTRA, EXTRA])
    with pytest.raises(ValueError, match="needs at least one of"):
        Catalogue.load(
            extra_services=[
                {k: v for k, v in EXTRA.items() if k not in ("scripts", "inline", "beacons", "hosts", "cookies")}
            ]
        )


def test_site_categories_for_extra_services() -> None:
    video = {**EXTRA, "category": "video"}
    catalogue = Catalogue.load(extra_services=[video], categories=("analytics", "marketing", "video"))
    assert catalogue.match_script("https://stats.leerplein.nl/t.js").category == "video"


def test_default_catalogue_is_built_once() -> None:
    assert default_catalogue() is default_catalogue()
    assert isinstance(default_catalogue().services[0], Service)
