"""The tracker catalogue: the one place that knows which third parties a page talks to.

Tracker knowledge is data (``catalogue.json`` for essential infrastructure and
first-party analytics, ``services/*.json`` for the services, plus the
operator's ``services``);
this module validates it once and indexes it, so that the HTML rewriter, the
cookie filter and the banner's runtime guard can ask "whose is this?" with a
few dictionary look-ups instead of a scan over every pattern.

URL patterns (``scripts``, ``beacons``, ``iframes``):

- ``host`` or ``host/path-prefix``. ``host`` is lowercase and may start with
  ``*.``, which stands for the domain itself and every subdomain. The prefix may
  carry the start of a query string (``/gtag/js?id=AW-``) and ``*`` for part of
  one path segment (``/*/fbevents.js``). A prefix ending in a letter or digit
  ends at a boundary: ``/tr`` matches ``/tr``, ``/tr/`` and ``/tr?id=1``, not
  ``/travel``.
- ``/path`` (one leading slash): a self-hosted tool, matched on the end of the
  URL's path on any host, or on a site-relative URL (``/matomo.js``).

When a script or frame URL matches no pattern but its host is one of a
service's ``hosts``, it still belongs to that service: code from a tracker's
own host is that tracker's. ``hosts`` therefore lists only hosts that belong
wholly to the service, never shared ones such as a search engine's or a font
CDN's. Beacons get no such fallback: an ``<img>`` from a vendor's image CDN
(a video thumbnail) is a picture, not a pixel, so only ``beacons`` patterns
count there.

When patterns overlap, the most specific wins: an exact host before a wildcard
one, a longer path prefix before a shorter one; on a tie, the service listed
first (the operator's own services come before the built-in ones).

Cookie patterns are names, or names with ``*`` for any run of characters
(``_ga_*``, ``mf_*-*-*-*-*``). They list cookies a service sets on the site's
own domain, the only ones the gateway can see, filter and expire; cookies a
vendor keeps on its own domain go with blocking the vendor. In the JSON they
map to how long each cookie lives (``{"_ga": "2y", "_gid": "1d"}``, see
``gateway.trackers.lifetimes``); an operator's ``[[services]]`` may give a
plain list of names instead.

The built-in services are split by area into ``services/<area>.json``, read in
the order of ``SERVICE_FILES``; that order is the catalogue's order, which
decides pattern ties. An embed (a service with ``iframes``) has a
``placeholder``: what the blocked-embed placeholder calls it ("YouTube-video").
A ``name`` is one text, or a table per language when it is translated
(``{"nl": "Facebook-plug-ins", "en": "Facebook plug-ins"}``). Purposes,
retention periods, placeholders and translated names are given in Dutch and
English; the other languages of ``gateway.languages`` show the English.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gateway.languages import LANGUAGES
from gateway.trackers.lifetimes import is_lifetime
from gateway.trackers.signatures import InlineSignatures, normalise

# The categories built-in services belong to; an operator's service may name any optional category of the site.
BUILTIN_CATEGORIES = ("analytics", "marketing")
URL_FIELDS = ("scripts", "beacons", "iframes")
LIST_FIELDS = ("scripts", "inline", "beacons", "iframes", "hosts", "cookies")
TEXT_FIELDS = ("id", "vendor", "category", "privacy_url")
REQUIRED_FIELDS = (*TEXT_FIELDS, "name", "purpose", "retention")
OPTIONAL_FIELDS = ("placeholder",)
# The built-in services, one file per area under ``services/``, in catalogue order.
SERVICE_FILES = ("analytics", "advertising", "social", "communication", "embeds")
MIN_SIGNATURE_LENGTH = 4
MEMO_SIZE = 16384

# Open Cookie Database: only these categories are ours to block. Functional,
# Security, Necessary and Personalization cookies keep a site working, so an
# unknown cookie in one of them is left alone (``None``).
OCD_CATEGORIES = {"Analytics": "analytics", "Marketing": "marketing"}
OCD_COLUMNS = ("Cookie / Data Key name", "Category", "Domain", "Wildcard match")
MIN_OCD_NAME = 3

_HOST = re.compile(r"(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]*[a-z][a-z0-9-]*")
_SERVICE_ID = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_COOKIE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_AUTHORITY_END = re.compile(r"[/\\?#]")
_UNSEEN = str.maketrans("", "", "\t\n\r")


@dataclass(frozen=True)
class Service:
    """One third-party service: who runs it, why, and how to recognise it."""

    id: str
    name: str
    vendor: str
    category: str
    privacy_url: str
    purpose: Mapping[str, str]
    retention: Mapping[str, str]
    scripts: tuple[str, ...] = ()
    inline: tuple[str, ...] = ()
    beacons: tuple[str, ...] = ()
    iframes: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    # Cookie pattern to lifetime (``2y``, ``session``), for the cookies whose lifetime is known.
    cookie_lifetimes: Mapping[str, str] = field(default_factory=dict)
    placeholder: Mapping[str, str] = field(default_factory=dict)
    # The name per language where it is translated ("Facebook-plug-ins"); ``name`` is the English one.
    names: Mapping[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.id)

    def label(self, language: str) -> str:
        """The service's name as a visitor reading ``language`` sees it."""
        return self.names.get(language) or self.name

    def title(self, language: str) -> str:
        """What a held embed of this service is called (``YouTube-video``); the name when not given."""
        return self.placeholder.get(language) or self.placeholder.get("en") or self.name

    def text(self, language: str) -> tuple[str, str]:
        """Purpose and retention in ``language``, falling back to English."""
        purpose = self.purpose.get(language) or self.purpose.get("en", "")
        retention = self.retention.get(language) or self.retention.get("en", "")
        return purpose, retention


@dataclass(frozen=True)
class Essential:
    """Infrastructure a page may load before any choice: it sets no tracking cookies, and the page
    cannot work without it. ``patterns`` are hosts or host/path prefixes (``www.google.com/recaptcha/``)."""

    id: str
    name: str
    patterns: tuple[str, ...]
    reason: Mapping[str, str]


class Catalogue:
    """All known services, indexed once for fast look-ups; never changes after it is built."""

    __slots__ = (
        "services",
        "essentials",
        "_essential",
        "_by_id",
        "_scripts",
        "_beacons",
        "_iframes",
        "_hosts",
        "_signatures",
        "_cookies",
        "_ocd",
        "_memo",
        "path_markers",
    )

    def __init__(
        self,
        services: Iterable[Service],
        open_cookie_database: Mapping[str, str] | None = None,
        essentials: Iterable[Essential] = (),
    ) -> None:
        self.services: tuple[Service, ...] = tuple(services)
        self.essentials: tuple[Essential, ...] = tuple(essentials)
        self._essential = _PrefixIndex((pattern, entry) for entry in self.essentials for pattern in entry.patterns)
        self._by_id = {service.id: service for service in self.services}
        if len(self._by_id) != len(self.services):
            raise ValueError("services: a service id appears twice")
        self._scripts = _UrlIndex(self.services, "scripts")
        self._beacons = _UrlIndex(self.services, "beacons")
        self._iframes = _UrlIndex(self.services, "iframes")
        self._hosts = _HostIndex(self.services)
        self._signatures = InlineSignatures(
            (normalise(signature), service) for service in self.services for signature in service.inline
        )
        self._cookies = _CookieIndex((pattern, service) for service in self.services for pattern in service.cookies)
        self._ocd = _CookieIndex(open_cookie_database.items()) if open_cookie_database else None
        # Last path segments of host-less patterns (matomo.js, piwik.php): a relative URL without
        # one of these cannot match anything, which lets the rewriter pass such tags quickly.
        self.path_markers: tuple[bytes, ...] = tuple(
            sorted(
                {end.lower().encode() for index in (self._scripts, self._beacons, self._iframes) for end in index.ends}
            )
        )
        # A site repeats its URLs on every page: remember recent answers.
        self._memo: dict[tuple[str, str], Service | None] = {}

    @classmethod
    def load(
        cls,
        extra_services: Iterable[Mapping[str, Any]] = (),
        open_cookie_database: str | Path | None = None,
        *,
        categories: Iterable[str] = BUILTIN_CATEGORIES,
        moved: Mapping[str, str] | None = None,
    ) -> Catalogue:
        """The built-in catalogue plus the operator's ``extra_services``.

        An extra service with a built-in id replaces the built-in one. Extra
        services come first, so they win where patterns overlap. ``categories``
        are the ones an extra service may name; ``open_cookie_database`` is the
        path of the Open Cookie Database CSV, consulted for cookies that no
        service names. ``moved`` maps service ids to the operator's category
        for them (``[categories.video] services = ["youtube"]``): every part of
        the gateway reads a service's category from here, so this is the one
        place a move happens.
        """
        allowed = tuple(categories)
        extras = [_service(raw, allowed, f"services[{i}]") for i, raw in enumerate(extra_services)]
        extra_ids = [service.id for service in extras]
        if len(set(extra_ids)) != len(extra_ids):
            twice = sorted({i for i in extra_ids if extra_ids.count(i) > 1})
            raise ValueError(f"services: id {twice[0]!r} appears twice")
        builtins = [s for s in _builtin_services() if s.id not in set(extra_ids)]
        services = _moved([*extras, *builtins], moved or {}, frozenset(extra_ids))
        ocd = read_open_cookie_database(Path(open_cookie_database)) if open_cookie_database is not None else None
        return cls(services, ocd, _builtin_essentials())

    def service(self, service_id: str) -> Service:
        return self._by_id[service_id]

    def match_script(self, url: str) -> Service | None:
        """The service behind an external script's ``src``."""
        return self._match_url(self._scripts, url, by_host=True)

    def match_beacon(self, url: str) -> Service | None:
        """The service behind a tracking pixel or beacon endpoint (``beacons`` patterns only)."""
        return self._match_url(self._beacons, url, by_host=False)

    def match_iframe(self, url: str) -> Service | None:
        """The service behind an embedded frame's ``src``."""
        return self._match_url(self._iframes, url, by_host=True)

    def match_host(self, host: str) -> Service | None:
        """The service owning ``host`` (bare, ``host:port`` or a URL): for preconnect links and the runtime guard."""
        if not isinstance(host, str):
            return None
        if "/" in host or "\\" in host:
            parts = _split_url(host)
            host = parts[0] if parts else ""
        else:
            host = _clean_host(host)
        return self._hosts.find(host) if host else None

    def match_essential(self, host: str, path: str = "/") -> Essential | None:
        """The essential infrastructure entry covering ``host`` and ``path``, if any."""
        return self._essential.find(host, path)

    def match_inline(self, code: str) -> Service | None:
        """The service whose longest signature occurs in an inline script body."""
        if not isinstance(code, str) or not code:
            return None
        key = ("inline", code)
        if key in self._memo:
            return self._memo[key]
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        found = self._memo[key] = self._signatures.find(code)
        return found

    def service_of_cookie(self, name: str) -> Service | None:
        """The catalogue service that sets a cookie called ``name``, if any."""
        return self._cookies.find(name)

    def category_of_cookie(self, name: str) -> str | None:
        """The consent category a cookie needs, or ``None`` when it is not ours to block.

        The catalogue answers first, then the Open Cookie Database if one was
        loaded (only its Analytics and Marketing entries count).
        """
        service = self._cookies.find(name)
        if service is not None:
            return service.category
        return self._ocd.find(name) if self._ocd is not None else None

    def cookie_patterns(self, category: str) -> tuple[str, ...]:
        """Cookie names and wildcards of every service in ``category``, for expiring them."""
        patterns = (p for s in self.services if s.category == category for p in s.cookies)
        return tuple(dict.fromkeys(patterns))

    def as_banner_data(self) -> dict[str, Any]:
        """What the browser needs: hosts and cookies per category, and a description per service."""
        categories: dict[str, dict[str, list[str]]] = {}
        for service in self.services:
            entry = categories.setdefault(service.category, {"hosts": [], "cookies": []})
            entry["hosts"].extend(h for h in service.hosts if h not in entry["hosts"])
            entry["cookies"].extend(c for c in service.cookies if c not in entry["cookies"])
        services = {
            s.id: {
                "name": s.name,
                "vendor": s.vendor,
                "category": s.category,
                "purpose": dict(s.purpose),
                "retention": dict(s.retention),
                "cookies": list(s.cookies),
                "privacy_url": s.privacy_url,
            }
            for s in self.services
        }
        essential = [pattern for entry in self.essentials for pattern in entry.patterns]
        return {"categories": categories, "services": services, "essential": essential}

    def host_categories(self) -> dict[str, list[str]]:
        """Each category's hosts, as few as judge every host the way ``match_host`` does.

        A host goes to the category of its first service, as in the index; a host a
        wildcard of the same category already decides is left out. Sorted by domain,
        which lets gzip find the repeats."""
        first: dict[str, str] = {}
        for service in self.services:
            for host in service.hosts:
                first.setdefault(host, service.category)
        kept: dict[str, list[str]] = {}
        for host, category in first.items():
            if _decided_above(host, first) != category:
                kept.setdefault(category, []).append(host)
        return {category: sorted(hosts, key=_domain_order) for category, hosts in kept.items()}

    def _match_url(self, index: _UrlIndex, url: str, by_host: bool) -> Service | None:
        key = (index.kind, url)
        try:
            return self._memo[key]
        except KeyError:
            pass
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        found = self._memo[key] = self._match_url_uncached(index, url, by_host)
        return found

    def _match_url_uncached(self, index: _UrlIndex, url: str, by_host: bool) -> Service | None:
        parts = _split_url(url)
        if parts is None:
            return None
        host, path, target = parts
        domains = _parent_domains(host) if host else []
        found = index.find(host, domains, path, target)
        if found is None and by_host and host:
            found = self._hosts.find(host, domains)
        return found


@functools.cache
def default_catalogue() -> Catalogue:
    """The built-in catalogue, built once per process."""
    return Catalogue.load()


@functools.cache
def _builtin_services() -> tuple[Service, ...]:
    folder = resources.files(__package__).joinpath("services")
    services = []
    for area in SERVICE_FILES:
        raw = json.loads(folder.joinpath(f"{area}.json").read_text(encoding="utf-8"))
        where = f"services/{area}.json"
        services.extend(_service(entry, BUILTIN_CATEGORIES, f"{where}[{i}]") for i, entry in enumerate(raw))
    return tuple(services)


@functools.cache
def _builtin_essentials() -> tuple[Essential, ...]:
    raw = json.loads(resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8"))
    return tuple(_essential(entry, f"catalogue.json essential[{i}]") for i, entry in enumerate(raw["essential"]))


def _moved(services: list[Service], moved: Mapping[str, str], own: frozenset[str]) -> list[Service]:
    """``services`` with the operator's categories applied; an unknown id, or an operator's own
    service given a second category, names the ``categories.<name>.services`` key."""
    by_id = {service.id: service for service in services}
    for service_id, category in moved.items():
        key = f"categories.{category}.services"
        if service_id not in by_id:
            raise ValueError(f"{key}: {service_id!r} is not a catalogued service or one of [[services]]")
        if service_id in own and by_id[service_id].category != category:
            raise ValueError(
                f"{key}: {service_id!r} is one of [[services]] with category {by_id[service_id].category!r};"
                " set its category there"
            )
    return [replace(s, category=moved[s.id]) if s.id in moved else s for s in services]


def _essential(raw: Any, where: str) -> Essential:
    if not isinstance(raw, Mapping) or set(raw) != {"id", "name", "patterns", "reason"}:
        raise ValueError(f"{where}: expected id, name, patterns and reason")
    patterns = _text_list(where, "patterns", raw["patterns"])
    for pattern in patterns:
        host = pattern.partition("/")[0]
        if not _HOST.fullmatch(host) or pattern != pattern.strip() or "*" in pattern.partition("/")[2]:
            raise ValueError(f"{where}: pattern {pattern!r} is not 'host', '*.domain' or 'host/path-prefix'")
    reason = _language_table(where, "reason", raw["reason"])
    return Essential(raw["id"], raw["name"], patterns, reason)


@functools.cache
def measurement_protocols() -> Mapping[str, Mapping[str, Any]]:
    """What first-party analytics needs to know per protocol (``ga4``, ``ua``, ``matomo``): the
    ``collect`` section of catalogue.json (endpoints, script URLs, parameter names)."""
    raw = json.loads(resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8"))
    return MappingProxyType({name: MappingProxyType(spec) for name, spec in raw["collect"].items()})


@dataclass(frozen=True)
class FontCDN:
    """A font CDN the gateway can serve first-party (the ``fonts`` section of catalogue.json): the hosts
    its stylesheets come from and the hosts of the font files those stylesheets name. Exact hosts only."""

    id: str
    name: str
    vendor: str
    stylesheet_hosts: tuple[str, ...]
    file_hosts: tuple[str, ...]


@functools.cache
def font_cdns() -> tuple[FontCDN, ...]:
    """The catalogued font CDNs, checked."""
    raw = json.loads(resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8"))
    return tuple(_font_cdn(entry, f"catalogue.json fonts[{i}]") for i, entry in enumerate(raw.get("fonts", ())))


def _font_cdn(raw: Any, where: str) -> FontCDN:
    fields = {"id", "name", "vendor", "stylesheet_hosts", "file_hosts"}
    if not isinstance(raw, Mapping) or set(raw) != fields:
        raise ValueError(f"{where}: expected {', '.join(sorted(fields))}")
    hosts = {key: _text_list(where, key, raw[key]) for key in ("stylesheet_hosts", "file_hosts")}
    for host in (*hosts["stylesheet_hosts"], *hosts["file_hosts"]):
        if host != host.lower() or host.startswith("*.") or not _HOST.fullmatch(host):
            raise ValueError(f"{where}: host {host!r} is not an exact lowercase host like 'fonts.example.com'")
    return FontCDN(raw["id"], raw["name"], raw["vendor"], hosts["stylesheet_hosts"], hosts["file_hosts"])


def read_open_cookie_database(path: Path) -> dict[str, str]:
    """Cookie patterns to categories from the Open Cookie Database CSV.

    Rows that name a vendor domain describe cookies the vendor keeps on its own
    domain; a cookie of that name on the site is the site's own (``sessionid``,
    ``lang``), so only rows without a domain are used, and only names of three
    characters or more.
    """
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in OCD_COLUMNS if column not in (reader.fieldnames or ())]
            if missing:
                raise ValueError(f"open_cookie_database: {path} lacks the column(s) {', '.join(missing)}")
            return dict(_ocd_patterns(reader))
    except FileNotFoundError:
        raise ValueError(f"open_cookie_database: file {str(path)!r} not found") from None


def _ocd_patterns(rows: Iterable[dict[str, str]]) -> Iterator[tuple[str, str]]:
    for row in rows:
        category = OCD_CATEGORIES.get((row["Category"] or "").strip())
        name = (row["Cookie / Data Key name"] or "").strip()
        wildcard = (row["Wildcard match"] or "").strip() == "1"
        if category is None or (row["Domain"] or "").strip() or not _COOKIE.fullmatch(name) or "*" in name:
            continue
        if len(name) < MIN_OCD_NAME:
            continue  # "i", "sp", or a two-letter prefix would catch the site's own cookies
        yield (name + "*" if wildcard else name), category


# --- validation -------------------------------------------------------------------------------


def _service(raw: Any, categories: tuple[str, ...], where: str) -> Service:
    """A validated ``Service`` from one JSON/TOML table; errors name the service and the field."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a table with id, name, vendor, category, ...")
    label = f"service {raw['id']!r}" if isinstance(raw.get("id"), str) else where
    _check_texts(label, raw, categories)
    cookies = raw.get("cookies", [])
    lifetimes = _cookie_lifetimes(label, cookies)
    lists = _pattern_lists(label, {**raw, "cookies": list(cookies) if isinstance(cookies, Mapping) else cookies})
    if not any(lists.values()):
        raise ValueError(f"{label}: needs at least one of {', '.join(LIST_FIELDS)}")
    placeholder = raw.get("placeholder")
    names = _language_table(label, "name", raw["name"])
    return Service(
        id=raw["id"],
        name=names["en"],
        names=names if isinstance(raw["name"], Mapping) else MappingProxyType({}),
        vendor=raw["vendor"].strip(),
        category=raw["category"],
        privacy_url=raw["privacy_url"],
        purpose=_language_table(label, "purpose", raw["purpose"]),
        retention=_language_table(label, "retention", raw["retention"]),
        cookie_lifetimes=lifetimes,
        placeholder=MappingProxyType({}) if placeholder is None else _language_table(label, "placeholder", placeholder),
        **lists,
    )


def _cookie_lifetimes(label: str, cookies: Any) -> Mapping[str, str]:
    """``{"_ga": "2y"}`` checked; a plain list of names (an operator's service) has no lifetimes."""
    if not isinstance(cookies, Mapping):
        return MappingProxyType({})
    for name, lifetime in cookies.items():
        if not is_lifetime(lifetime):
            raise ValueError(
                f"{label}: field 'cookies' gives {name!r} the lifetime {lifetime!r}, "
                "expected 'session' or a number and min, h, d, w, m or y ('30min', '13m', '2y')"
            )
    return MappingProxyType(dict(cookies))


def _check_texts(label: str, raw: Mapping[str, Any], categories: tuple[str, ...]) -> None:
    unknown = sorted(set(raw) - set(REQUIRED_FIELDS) - set(LIST_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise ValueError(f"{label}: unknown field {unknown[0]!r}")
    for key in REQUIRED_FIELDS:
        if key not in raw:
            raise ValueError(f"{label}: field {key!r} is required")
    for key in TEXT_FIELDS:
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ValueError(f"{label}: field {key!r} must be a non-empty text")
    if not _SERVICE_ID.fullmatch(raw["id"]):
        raise ValueError(f"{label}: field 'id' must be lowercase letters, digits and dashes")
    if raw["category"] not in categories:
        raise ValueError(f"{label}: field 'category' is {raw['category']!r}, expected one of {', '.join(categories)}")
    if not raw["privacy_url"].startswith("https://"):
        raise ValueError(f"{label}: field 'privacy_url' must be an https:// URL")


def _pattern_lists(label: str, raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The matching fields, checked, with hosts lowercased."""
    lists = {key: _text_list(label, key, raw.get(key, [])) for key in LIST_FIELDS}
    for key in URL_FIELDS:
        for pattern in lists[key]:
            _check_url_pattern(label, key, pattern)
        lists[key] = tuple(_lower_host(pattern) for pattern in lists[key])
    lists["hosts"] = tuple(host.lower() for host in lists["hosts"])
    for host in lists["hosts"]:
        if not _HOST.fullmatch(host):
            raise ValueError(f"{label}: field 'hosts' has {host!r}, expected 'cdn.example.com' or '*.example.com'")
    for signature in lists["inline"]:
        if len(normalise(signature)) < MIN_SIGNATURE_LENGTH:
            raise ValueError(f"{label}: field 'inline' has {signature!r}, too short to be specific")
    for pattern in lists["cookies"]:
        if not _COOKIE.fullmatch(pattern) or len(pattern.split("*", 1)[0]) < 2:
            raise ValueError(
                f"{label}: field 'cookies' has {pattern!r}, expected a name; '*' only after two characters"
            )
    return lists


def _text_list(label: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{label}: field {key!r} must be a list of non-empty texts")
    return tuple(dict.fromkeys(v.strip() for v in value))


def _language_table(label: str, key: str, value: Any) -> Mapping[str, str]:
    """``{"nl": ..., "en": ...}``; a plain text, or one language, serves for both."""
    if isinstance(value, str) and value.strip():
        value = {language: value for language in LANGUAGES}
    if not isinstance(value, Mapping) or not value or not all(isinstance(v, str) and v.strip() for v in value.values()):
        raise ValueError(f'{label}: field {key!r} must be a text or a table like {{nl = "...", en = "..."}}')
    fallback = value.get("en") or value.get("nl") or next(iter(value.values()))
    return MappingProxyType({**{language: fallback for language in LANGUAGES}, **value})


def _check_url_pattern(label: str, key: str, pattern: str) -> None:
    problem = None
    if "://" in pattern or pattern.startswith("//"):
        problem = "leave out the scheme"
    elif any(c.isspace() for c in pattern) or "#" in pattern:
        problem = "no spaces or fragments"
    elif pattern.startswith("/"):
        if len(pattern) < 3 or "?" in pattern or "*" in pattern:
            problem = "a path pattern needs a file or folder name, without query or '*'"
    elif not _HOST.fullmatch(_lower_host(pattern).split("/", 1)[0]):
        problem = "expected 'host', 'host/path' or '/path', host like 'cdn.example.com' or '*.example.com'"
    if problem:
        raise ValueError(f"{label}: field {key!r} has {pattern!r}: {problem}")


def _lower_host(pattern: str) -> str:
    host, slash, path = pattern.partition("/")
    return host.lower() + slash + path


# --- indexes ----------------------------------------------------------------------------------


def _parent_domains(host: str) -> list[str]:
    """``host`` itself, then each parent domain: a.b.example.nl, b.example.nl, example.nl, nl."""
    domains = [host]
    dot = host.find(".")
    while dot != -1:
        host = host[dot + 1 :]
        domains.append(host)
        dot = host.find(".")
    return domains


def _decided_above(host: str, categories: Mapping[str, str]) -> str | None:
    """The category the nearest wildcard above ``host`` gives, if any (``*.b.c`` above ``a.b.c`` and ``*.a.b.c``)."""
    for domain in _parent_domains(host.removeprefix("*."))[1:]:
        found = categories.get("*." + domain)
        if found is not None:
            return found
    return None


def _domain_order(host: str) -> list[str]:
    return host.removeprefix("*.").split(".")[::-1]


class _HostIndex:
    """Host patterns: exact hosts in one dict, ``*.`` suffixes in another."""

    __slots__ = ("exact", "suffix")

    def __init__(self, services: Iterable[Service]) -> None:
        self.exact: dict[str, Service] = {}
        self.suffix: dict[str, Service] = {}
        for service in services:
            for host in service.hosts:
                if host.startswith("*."):
                    self.suffix.setdefault(host[2:], service)
                else:
                    self.exact.setdefault(host, service)

    def find(self, host: str, domains: list[str] | None = None) -> Service | None:
        found = self.exact.get(host)
        if found is not None:
            return found
        for domain in domains or _parent_domains(host):
            found = self.suffix.get(domain)
            if found is not None:
                return found
        return None


@dataclass(frozen=True, slots=True)
class _PathRule:
    prefix: str
    regex: re.Pattern[str] | None
    bounded: bool
    weight: int
    service: Service

    @classmethod
    def build(cls, path: str, service: Service) -> _PathRule:
        bounded = bool(path) and path[-1].isalnum()
        regex = None
        if "*" in path:
            body = "[^/?#]*".join(re.escape(part) for part in path.split("*"))
            regex = re.compile(body + ("(?=$|[/?#])" if bounded else ""))
        return cls(path.split("*", 1)[0], regex, bounded, len(path.replace("*", "")), service)

    def matches(self, target: str) -> bool:
        if not target.startswith(self.prefix):
            return False
        if self.regex is not None:
            return self.regex.match(target) is not None
        return not self.bounded or len(target) == len(self.prefix) or target[len(self.prefix)] in "/?#"


class _UrlIndex:
    """URL patterns of one kind: rules per exact host, per wildcard suffix, and per last path segment."""

    __slots__ = ("kind", "exact", "suffix", "ends")

    def __init__(self, services: Iterable[Service], kind: str) -> None:
        self.kind = kind
        self.exact: dict[str, list[_PathRule]] = {}
        self.suffix: dict[str, list[_PathRule]] = {}
        self.ends: dict[str, list[tuple[str, Service]]] = {}
        for service in services:
            for pattern in getattr(service, kind):
                self._add(pattern, service)
        for rules in (*self.exact.values(), *self.suffix.values()):
            rules.sort(key=lambda rule: -rule.weight)  # stable: earlier services win ties
        for ends in self.ends.values():
            ends.sort(key=lambda end: -len(end[0]))

    def _add(self, pattern: str, service: Service) -> None:
        if pattern.startswith("/"):
            self.ends.setdefault(pattern.rsplit("/", 1)[1], []).append((pattern, service))
            return
        host, slash, path = pattern.partition("/")
        rule = _PathRule.build(slash + path, service)
        if host.startswith("*."):
            self.suffix.setdefault(host[2:], []).append(rule)
        else:
            self.exact.setdefault(host, []).append(rule)

    def find(self, host: str, domains: list[str], path: str, target: str) -> Service | None:
        if host:
            for rule in self.exact.get(host, ()):
                if rule.matches(target):
                    return rule.service
            for domain in domains:
                for rule in self.suffix.get(domain, ()):
                    if rule.matches(target):
                        return rule.service
        for end, service in self.ends.get(path.rsplit("/", 1)[-1], ()):
            if path.endswith(end):
                return service
        return None


class _PrefixIndex:
    """``host[/path-prefix]`` patterns (``*.`` for a domain and its subdomains) to values; the longest prefix wins."""

    __slots__ = ("exact", "suffix")

    def __init__(self, patterns: Iterable[tuple[str, Any]]) -> None:
        self.exact: dict[str, list[tuple[str, Any]]] = {}
        self.suffix: dict[str, list[tuple[str, Any]]] = {}
        for pattern, value in patterns:
            host, slash, path = pattern.partition("/")
            table = self.suffix if host.startswith("*.") else self.exact
            table.setdefault(host.removeprefix("*."), []).append(("/" + path if slash else "/", value))
        for rules in (*self.exact.values(), *self.suffix.values()):
            rules.sort(key=lambda rule: -len(rule[0]))

    def find(self, host: str, path: str) -> Any:
        for prefix, value in self.exact.get(host, ()):
            if path.startswith(prefix):
                return value
        for domain in _parent_domains(host):
            for prefix, value in self.suffix.get(domain, ()):
                if path.startswith(prefix):
                    return value
        return None


class _CookieIndex:
    """Cookie names and ``*`` patterns; exact names first, then the longest literal prefix."""

    __slots__ = ("exact", "wild")

    def __init__(self, patterns: Iterable[tuple[str, Any]]) -> None:
        self.exact: dict[str, Any] = {}
        self.wild: dict[str, list[tuple[str, re.Pattern[str] | None, Any]]] = {}
        for pattern, value in patterns:
            if "*" not in pattern:
                self.exact.setdefault(pattern, value)
                continue
            prefix, _, rest = pattern.partition("*")
            regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL) if rest else None
            self.wild.setdefault(prefix[:2], []).append((prefix, regex, value))
        for entries in self.wild.values():
            entries.sort(key=lambda entry: -len(entry[0]))

    def find(self, name: str) -> Any:
        if not isinstance(name, str):
            return None
        found = self.exact.get(name)
        if found is not None:
            return found
        for prefix, regex, value in self.wild.get(name[:2], ()):
            if name.startswith(prefix) and (regex is None or regex.fullmatch(name)):
                return value
        return None


# --- URL parsing ------------------------------------------------------------------------------


def _split_url(url: str) -> tuple[str, str, str] | None:
    """``(host, path, path and query)`` of a URL as a browser would read it.

    ``host`` is empty for relative URLs; ``None`` means not a web URL at all
    (``javascript:``, ``data:``, empty). Never raises.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_UNSEEN)
    head = url[:8].lower()
    if head.startswith("https://"):
        rest = url[8:]
    elif head.startswith("http://"):
        rest = url[7:]
    elif url[:2] in ("//", "\\\\", "/\\", "\\/"):
        rest = url[2:]
    elif not url:
        return None
    else:
        scheme = _SCHEME.match(url)
        if scheme is None:
            return "", *_path_and_target(url)
        if scheme.group().lower() not in ("http:", "https:"):
            return None
        rest = url[scheme.end() :]
    if rest[:1] in ("/", "\\"):
        rest = rest.lstrip("/\\")
    end = _AUTHORITY_END.search(rest)
    authority, remainder = (rest[: end.start()], rest[end.start() :]) if end else (rest, "")
    host = _clean_host(authority.rpartition("@")[2] if "@" in authority else authority)
    if not host:
        return None
    return host, *_path_and_target(remainder)


def _path_and_target(remainder: str) -> tuple[str, str]:
    if "#" in remainder:
        remainder = remainder.partition("#")[0]
    if "\\" in remainder:
        path, question, query = remainder.partition("?")
        remainder = path.replace("\\", "/") + question + query
    if not remainder.startswith("/"):
        remainder = "/" + remainder
    question = remainder.find("?")
    return (remainder if question == -1 else remainder[:question]), remainder


def _clean_host(authority: str) -> str:
    """Lowercase host without port or trailing dot; IPv6 addresses keep their brackets."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority.partition("]")[0] + "]" if "]" in authority else ""
    if ":" in authority:
        authority = authority.partition(":")[0]
    return authority.rstrip(".")
