import pytest

from gateway.trackers.catalogue import Catalogue, default_catalogue
from gateway.trackers.cookies import cookie_domains, expiry_headers, filter_set_cookies, set_cookie_name

EXPIRED = b"Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


def set_cookie(value: str) -> tuple[bytes, bytes]:
    return (b"set-cookie", value.encode("latin-1"))


HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    set_cookie("_ga=GA1.1.123.456; Path=/; Domain=.leerplein.nl; Max-Age=63072000"),
    set_cookie("sessionid=abc; HttpOnly; Path=/; SameSite=Lax"),
    (b"Set-Cookie", b"_fbp=fb.1.123.456; Path=/; Max-Age=7776000"),
    set_cookie("consent=signed.token; Path=/"),
    (b"cache-control", b"no-cache"),
    set_cookie("_gcl_au=1.1.123; Path=/"),
    set_cookie("broken-without-equals"),
    set_cookie("_hjSessionUser_123=eyJ; Path=/"),
]


def names(headers: list[tuple[bytes, bytes]]) -> list[str]:
    return [set_cookie_name(value) for name, value in headers if name.lower() == b"set-cookie"]


def test_nothing_granted_drops_every_tracker_cookie(catalogue: Catalogue) -> None:
    kept = filter_set_cookies(HEADERS, frozenset({"functional"}), catalogue, {"consent"})
    assert names(kept) == ["sessionid", "consent", ""]
    # Everything else is untouched and keeps its order.
    assert kept[0] == HEADERS[0] and (b"cache-control", b"no-cache") in kept
    assert [h for h in kept if h[0].lower() != b"set-cookie"] == [h for h in HEADERS if h[0].lower() != b"set-cookie"]


def test_granted_categories_keep_their_cookies(catalogue: Catalogue) -> None:
    kept = filter_set_cookies(HEADERS, frozenset({"functional", "analytics"}), catalogue, {"consent"})
    assert names(kept) == ["_ga", "sessionid", "consent", "", "_hjSessionUser_123"]  # Hotjar: analytics
    everything = filter_set_cookies(
        HEADERS, frozenset({"functional", "analytics", "marketing"}), catalogue, {"consent"}
    )
    assert everything == HEADERS


def test_protected_cookies_always_pass(catalogue: Catalogue) -> None:
    headers = [set_cookie("_ga=1; Path=/"), set_cookie("consent=x")]
    # A site whose consent cookie happens to share a tracker's name still keeps it.
    assert filter_set_cookies(headers, frozenset(), catalogue, {"_ga", "consent"}) == headers


def test_filter_set_cookies_returns_a_new_list(catalogue: Catalogue) -> None:
    headers = list(HEADERS)
    filter_set_cookies(headers, frozenset(), catalogue, set())
    assert headers == HEADERS


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (b"_ga=1; Path=/", "_ga"),
        (b" _ga = 1", "_ga"),
        (b"_ga=", "_ga"),
        (b"=value", ""),
        (b"novalue", ""),
        (b"", ""),
        (b"a=b=c; Domain=x", "a"),
        (b"caf\xe9=1", "caf\xe9"),
    ],
)
def test_set_cookie_name(value: bytes, name: str) -> None:
    assert set_cookie_name(value) == name


@pytest.mark.parametrize(
    ("host", "domains"),
    [
        ("www.leerplein.nl", [None, "www.leerplein.nl", "leerplein.nl"]),
        ("WWW.Leerplein.NL:8443", [None, "www.leerplein.nl", "leerplein.nl"]),
        ("moodle.cursus.leerplein.nl", [None, "moodle.cursus.leerplein.nl", "cursus.leerplein.nl", "leerplein.nl"]),
        ("leerplein.nl", [None, "leerplein.nl"]),
        ("leerplein.nl.", [None, "leerplein.nl"]),
        ("www.school.ac.uk", [None, "www.school.ac.uk", "school.ac.uk"]),
        ("shop.example.com.au", [None, "shop.example.com.au", "example.com.au"]),
        ("co.uk", [None]),
        ("nl", [None]),
        ("localhost", [None]),
        ("localhost:8080", [None]),
        ("127.0.0.1:8080", [None]),
        ("192.168.1.10", [None]),
        ("[::1]:8080", [None]),
        ("::1", [None]),
        ("", [None]),
    ],
)
def test_cookie_domains_stop_at_the_registrable_domain(host: str, domains: list[str | None]) -> None:
    assert cookie_domains(host) == domains


def test_expiry_headers_cover_host_and_parent_domains(catalogue: Catalogue) -> None:
    headers = expiry_headers(["_ga", "sessionid", "_fbp", "consent"], ["analytics"], "www.leerplein.nl:443", catalogue)
    assert headers == [
        (b"set-cookie", b"_ga=; " + EXPIRED),
        (b"set-cookie", b"_ga=; " + EXPIRED + b"; Domain=.www.leerplein.nl"),
        (b"set-cookie", b"_ga=; " + EXPIRED + b"; Domain=.leerplein.nl"),
    ]


def test_expiry_headers_for_every_denied_category(catalogue: Catalogue) -> None:
    present = ["_ga_ABC123", "_gid", "_fbp", "_gcl_au", "MoodleSession", "_pk_id.1.abcd"]
    headers = expiry_headers(iter(present), iter(["analytics", "marketing"]), "leerplein.nl", catalogue)
    expired = [value.split(b"=", 1)[0].decode() for _, value in headers]
    assert expired == [name for name in present if name != "MoodleSession" for _ in range(2)]
    assert all(value.endswith((EXPIRED, b"; Domain=.leerplein.nl")) for _, value in headers)


def test_expiry_headers_on_ip_hosts_have_no_domain(catalogue: Catalogue) -> None:
    headers = expiry_headers(["_ga"], ["analytics"], "127.0.0.1:8080", catalogue)
    assert headers == [(b"set-cookie", b"_ga=; " + EXPIRED)]


def test_expiry_headers_nothing_denied_or_nothing_known(catalogue: Catalogue) -> None:
    assert expiry_headers(["_ga", "_fbp"], [], "www.leerplein.nl", catalogue) == []
    assert expiry_headers(["sessionid", "csrftoken"], ["analytics", "marketing"], "www.leerplein.nl", catalogue) == []
    assert expiry_headers([], ["analytics"], "www.leerplein.nl", catalogue) == []


def test_expiry_headers_skip_duplicates_and_unsafe_names(catalogue: Catalogue) -> None:
    headers = expiry_headers(
        ["_ga", "_ga", "_ga_X; Domain=evil", "_gid\r\nX: 1"], ["analytics"], "localhost", catalogue
    )
    assert headers == [(b"set-cookie", b"_ga=; " + EXPIRED)]


def test_expiry_headers_respect_cookie_name_prefixes() -> None:
    catalogue = Catalogue.load(
        extra_services=[
            {
                "id": "prefixed",
                "name": "Prefixed",
                "vendor": "Test",
                "category": "analytics",
                "privacy_url": "https://example.nl/privacy",
                "purpose": "Test.",
                "retention": "1 dag",
                "cookies": ["__Secure-trk", "__Host-trk"],
            }
        ]
    )
    headers = expiry_headers(["__Secure-trk", "__Host-trk"], ["analytics"], "www.leerplein.nl", catalogue)
    values = [value for _, value in headers]
    assert values == [
        b"__Secure-trk=; " + EXPIRED + b"; Secure",
        b"__Secure-trk=; " + EXPIRED + b"; Secure; Domain=.www.leerplein.nl",
        b"__Secure-trk=; " + EXPIRED + b"; Secure; Domain=.leerplein.nl",
        # __Host- cookies never carry a Domain, so only the host-only one exists.
        b"__Host-trk=; " + EXPIRED + b"; Secure",
    ]


def test_expiry_headers_use_the_open_cookie_database_when_loaded(tmp_path) -> None:
    path = tmp_path / "ocd.csv"
    path.write_text(
        "ID,Platform,Category,Cookie / Data Key name,Domain,Description,Retention period,Data Controller,"
        "User Privacy & GDPR Rights Portals,Wildcard match\n"
        "1,Tracker,Marketing,trk_,,x,1 year,T,https://t.example,1\n",
        encoding="utf-8",
    )
    catalogue = Catalogue.load(open_cookie_database=path)
    headers = expiry_headers(["trk_abc"], ["marketing"], "localhost", catalogue)
    assert headers == [(b"set-cookie", b"trk_abc=; " + EXPIRED)]
