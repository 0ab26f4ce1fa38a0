"""Gateway configuration: one settled, validated object read by everything else.

Values come from a TOML file and from ``GATEWAY_*`` environment variables;
the environment wins. Every problem stops start-up with a ``SettingsError``
that names the key, so an operator never has to guess which line is wrong.

This module sits below everything that reads it, so two checks that need
knowledge from above run when the gateway is built from the settings, still
before it serves anything: the admin password hash's format
(``gateway.admin.auth``) and the format of each analytics id
(``gateway.collect.protocol``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.languages import LANGUAGES, per_language
from gateway.net.addresses import Network
from gateway.net.origin import normalise_origin
from gateway.net.urls import normalise_path
from gateway.trackers.paths import PathPolicy, parse_path_policies
from gateway.trackers.thirdparty import OTHER_CATEGORY

ENV_PREFIX = "GATEWAY_"
REQUIRED_CATEGORY = "functional"
BLOCKING_MODES = ("strict", "catalogue")
MIN_SECRET_LENGTH = 16


class SettingsError(ValueError):
    """A configuration problem; the message names the offending key."""


@dataclass(frozen=True)
class Category:
    """A consent category as the visitor sees it; ``services`` are catalogued services the operator
    moved into it (``[categories.video] services = ["youtube"]``)."""

    name: str
    label: Mapping[str, str]
    description: Mapping[str, str]
    required: bool = False
    services: tuple[str, ...] = ()

    def text(self, language: str) -> tuple[str, str]:
        """Label and description in ``language``, falling back to English."""
        label = self.label.get(language) or self.label.get("en") or self.name
        description = self.description.get(language) or self.description.get("en") or ""
        return label, description


@dataclass(frozen=True)
class StatisticsGroup:
    """A named set of pages counted together in the statistics (``[[statistics.groups]]``): a course,
    a module, a test. ``paths`` are shell patterns, normalised as pages' paths are compared."""

    name: str
    paths: tuple[str, ...]


def default_category(name: str, required: bool = False) -> Category:
    """A built-in category, its label and description in every language from the locale files."""
    return Category(
        name, per_language(f"category_{name}"), per_language(f"category_{name}_description"), required=required
    )


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    default_category(REQUIRED_CATEGORY, required=True),
    default_category("analytics"),
    default_category("marketing"),
)


OTHER_THIRD_PARTIES = default_category(OTHER_CATEGORY)


# Query parameters removed from page URLs in analytics hits: they carry secrets or personal data.
COLLECT_STRIP_PARAMETERS: tuple[str, ...] = (
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "auth",
    "code",
    "state",
    "key",
    "api_key",
    "apikey",
    "session",
    "sessionid",
    "session_id",
    "sid",
    "phpsessid",
    "jsessionid",
    "sesskey",
    "moodlesession",
    "ticket",
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "otp",
    "email",
    "e-mail",
    "mail",
    "name",
    "firstname",
    "first_name",
    "lastname",
    "last_name",
    "fullname",
    "username",
    "user",
    "login",
    "phone",
    "tel",
    "mobile",
    "address",
    "street",
    "postcode",
    "zip",
    "zipcode",
    "bsn",
    "birthdate",
    "dob",
    "iban",
)


def _default_categories() -> tuple[Category, ...]:
    return DEFAULT_CATEGORIES


# The analytics backends: each has ``<name>_category`` and a list of the ids whose hits are ours.
COLLECT_BACKENDS = (("ga4", "ga4_measurement_ids"), ("ua", "ua_property_ids"), ("matomo", "matomo_site_ids"))


@dataclass(frozen=True)
class CollectSettings:
    """First-party analytics (``gateway.collect``), as ``Settings.collect``.

    The configuration names these with the keys of its table: the backend keys
    as they are here (``ga4_measurement_ids``), the others with ``collect_`` in
    front (``collect_queue_size`` is ``queue_size``); ``setting_key`` maps one to
    the other. Unset endpoints and script URLs default to the catalogue's.
    Whether each id looks like one of its protocol's is the collector's to
    check (``gateway.collect.protocol``), when the gateway is built.
    """

    ga4_endpoint: str | None = None
    ga4_measurement_ids: tuple[str, ...] = ()
    ga4_script_url: str | None = None
    ga4_category: str = "analytics"
    ua_endpoint: str | None = None
    ua_batch_endpoint: str | None = None
    ua_property_ids: tuple[str, ...] = ()
    ua_category: str = "analytics"
    matomo_url: str | None = None
    matomo_site_ids: tuple[str, ...] = ()
    matomo_token_auth: str | None = None
    matomo_category: str = "analytics"
    user_id: bool = False
    strip_parameters: tuple[str, ...] = COLLECT_STRIP_PARAMETERS
    queue_size: int = 10_000
    concurrency: int = 64
    retries: int = 3
    timeout: float = 5.0
    drain_timeout: float = 5.0
    max_body: int = 64 * 1024
    script_ttl: float = 3600.0

    def __post_init__(self) -> None:
        for name in ("ga4_endpoint", "ga4_script_url", "ua_endpoint", "ua_batch_endpoint", "matomo_url"):
            value = getattr(self, name) or None
            if value is not None and not _is_http_url(value):
                raise SettingsError(f"{name}: {value!r} is not an http:// or https:// URL")
            self._settle(name, value)
        if self.matomo_url is not None and not self.matomo_url.endswith("/"):
            self._settle("matomo_url", self.matomo_url + "/")
        self._settle("matomo_token_auth", self.matomo_token_auth or None)
        for _, key in COLLECT_BACKENDS:
            self._settle(key, tuple(dict.fromkeys(str(i).strip() for i in getattr(self, key) if str(i).strip())))
        if self.matomo_site_ids and self.matomo_url is None:
            raise SettingsError("matomo_url: required when matomo_site_ids is set")
        strip = tuple(dict.fromkeys(p.strip().lower() for p in self.strip_parameters if p.strip()))
        self._settle("strip_parameters", strip)
        for name in ("queue_size", "concurrency", "max_body"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{setting_key(name)}: must be 1 or more")
        if self.retries < 0:
            raise SettingsError(f"{setting_key('retries')}: must be 0 or more")
        for name in ("timeout", "drain_timeout", "script_ttl"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{setting_key(name)}: must be a positive number of seconds")

    def _settle(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def check_categories(self, category_names: tuple[str, ...]) -> None:
        """Each backend's category must be one the site has (the collect settings do not know them)."""
        for protocol, _ in COLLECT_BACKENDS:
            category = getattr(self, f"{protocol}_category")
            if category not in category_names:
                raise SettingsError(f"{protocol}_category: {category!r} is not one of {', '.join(category_names)}")


def setting_key(collect_field: str) -> str:
    """The configuration key of a ``CollectSettings`` field: ``queue_size`` is ``collect_queue_size``."""
    backend = collect_field.split("_", 1)[0]
    return collect_field if backend in dict(COLLECT_BACKENDS) else f"collect_{collect_field}"


COLLECT_FIELDS = {setting_key(f.name): f for f in dataclasses.fields(CollectSettings)}


@dataclass(frozen=True)
class Settings:
    """Everything an operator can change, with defaults that are safe to run.

    ``collect`` holds the first-party analytics settings; ``load`` (and so the
    TOML file and the environment) takes them by their flat keys."""

    secret_key: tuple[str, ...] | str = ()
    demo: bool = False
    cookie_name: str = "consent"
    cookie_domain: str | None = None
    cookie_max_age: int = 180 * 24 * 3600
    categories: tuple[Category, ...] = field(default_factory=_default_categories)
    revision: int = 1
    prefix: str = "/_consent"
    database_url: str = "sqlite:///consent.db"
    trusted_proxies: tuple[Network, ...] | tuple[str, ...] = ()
    privacy_url: str = "/privacy"
    default_language: str = "nl"
    allowed_origins: tuple[str, ...] = ()
    path_policies: tuple[PathPolicy, ...] | tuple[dict, ...] = ()
    case_sensitive_paths: bool = False  # path policies: /Cursus and /cursus are different pages of this site
    services: tuple[dict, ...] = ()
    open_cookie_database: str | None = None
    blocking: str = "strict"
    allowed_hosts: tuple[str, ...] = ()
    upstream: str | None = None
    preserve_host: bool = False
    public_hosts: tuple[str, ...] = ()
    upstream_connect_timeout: float = 5.0
    upstream_read_timeout: float = 60.0
    page_cache_size: int = 16 * 1024 * 1024
    max_page_size: int = 32 * 1024 * 1024  # decoded bytes of one page the rewriter reads
    store_timeout: float = 2.0  # seconds a consent write may wait for the store before the API answers 503
    header_timeout: float = 10.0  # serve: seconds for a request's head to arrive
    body_timeout: float = 30.0  # serve: seconds a request body may go quiet
    max_connections_per_address: int = 256  # serve: open connections of one client address (not trusted proxies)
    first_party_fonts: bool = True
    font_mirrors: tuple[str, ...] = ()
    discovery: bool = True  # record the third parties and cookies each site uses (gateway.discovery)
    statistics: bool = True  # count cookieless, aggregate page figures (gateway.statistics)
    statistics_retention_days: int = 762  # day rows older than this become month rows (25 months)
    statistics_query_parameters: tuple[str, ...] = ()  # query parameters that tell pages apart in the figures
    statistics_groups: tuple[StatisticsGroup, ...] | tuple[dict, ...] = ()
    retention_days: int = 365
    metrics_token: str | None = None
    admin_token: str | None = None
    admin_user: str | None = None
    admin_password_hash: str | None = None
    admin_session_max_age: int = 1800
    collect: CollectSettings = field(default_factory=CollectSettings)

    def __post_init__(self) -> None:
        keys = (self.secret_key,) if isinstance(self.secret_key, str) else tuple(self.secret_key)
        keys = tuple(key for key in keys if key)
        if self.demo and not keys:
            keys = (secrets.token_urlsafe(32),)  # demo only: choices are forgotten on restart
        self._settle("secret_key", keys)
        self._settle("trusted_proxies", tuple(_network(p) for p in self.trusted_proxies))
        self._settle("allowed_origins", tuple(_origin(o) for o in self.allowed_origins))
        self._settle("public_hosts", tuple(h.strip().lower() for h in self.public_hosts if h.strip()))
        self._settle("categories", _ordered_categories(self.categories, self.blocking))
        self._settle("allowed_hosts", tuple(_host_pattern(h) for h in self.allowed_hosts if h.strip()))
        self._settle("services", tuple(self.services))
        self._settle("font_mirrors", tuple(_font_mirror(m) for m in self.font_mirrors if m.strip()))
        self._settle("path_policies", self._parsed_path_policies())
        self._settle("statistics_query_parameters", _query_parameters(self.statistics_query_parameters))
        groups = _statistics_groups(self.statistics_groups, self.case_sensitive_paths)
        self._settle("statistics_groups", groups)
        self._validate()
        self.collect.check_categories(self.category_names)

    def _parsed_path_policies(self) -> tuple[PathPolicy, ...]:
        if all(isinstance(p, PathPolicy) for p in self.path_policies):
            return tuple(self.path_policies)  # type: ignore[arg-type]
        try:
            return parse_path_policies(
                self.path_policies,  # type: ignore[arg-type]
                self.category_names,
                REQUIRED_CATEGORY,
                self.case_sensitive_paths,
            )
        except ValueError as error:
            raise SettingsError(str(error)) from None

    def _settle(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _validate(self) -> None:
        if not self.secret_key and not self.demo:
            raise SettingsError("secret_key: required outside demo mode (set GATEWAY_SECRET_KEY)")
        for secret in self.secret_key:
            if len(secret) < MIN_SECRET_LENGTH and not self.demo:
                raise SettingsError(f"secret_key: each secret needs at least {MIN_SECRET_LENGTH} characters")
        if not self.cookie_name or not self.cookie_name.isascii() or any(c in self.cookie_name for c in " ;,="):
            raise SettingsError(f"cookie_name: {self.cookie_name!r} is not a valid cookie name")
        if self.cookie_max_age <= 0:
            raise SettingsError("cookie_max_age: must be a positive number of seconds")
        if self.blocking not in BLOCKING_MODES:
            raise SettingsError(f"blocking: {self.blocking!r} is not one of {', '.join(BLOCKING_MODES)}")
        if self.revision < 1:
            raise SettingsError("revision: must be 1 or higher")
        if not self.prefix.startswith("/") or self.prefix.endswith("/") or len(self.prefix) < 2:
            raise SettingsError(f"prefix: {self.prefix!r} must start with '/' and not end with one")
        if self.default_language not in LANGUAGES:
            raise SettingsError(f"default_language: {self.default_language!r} is not one of {', '.join(LANGUAGES)}")
        if not self.database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise SettingsError("database_url: expected sqlite:///path or postgresql://...")
        if self.open_cookie_database is not None and not Path(self.open_cookie_database).is_file():
            raise SettingsError(f"open_cookie_database: {self.open_cookie_database!r} is not a file")
        if self.upstream is not None and not _is_http_url(self.upstream):
            raise SettingsError(f"upstream: {self.upstream!r} is not an http:// or https:// URL")
        for name in ("upstream_connect_timeout", "upstream_read_timeout"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name}: must be a positive number of seconds")
        for name in ("header_timeout", "body_timeout"):
            if not 0.1 <= getattr(self, name) <= 3600:
                raise SettingsError(f"{name}: must be between 0.1 and 3600 seconds")
        if self.max_connections_per_address < 1:
            raise SettingsError("max_connections_per_address: must be at least 1")
        if not 0.1 <= self.store_timeout <= 60:
            raise SettingsError("store_timeout: must be between 0.1 and 60 seconds")
        if self.max_page_size < 1024 * 1024:
            raise SettingsError("max_page_size: must be at least 1048576 bytes (1 MiB)")
        if self.page_cache_size < 0:
            raise SettingsError("page_cache_size: must be 0 (off) or a positive number of bytes")
        if self.retention_days < 1:
            raise SettingsError("retention_days: must be 1 or more days")
        if self.statistics_retention_days < 1:
            raise SettingsError("statistics_retention_days: must be 1 or more days")
        _validate_access(self)

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)

    @property
    def moved_services(self) -> dict[str, str]:
        """Service id to the operator's category for it, from ``[categories.<name>] services``."""
        return {service: c.name for c in self.categories for service in c.services}

    @property
    def site_hosts(self) -> tuple[str, ...]:
        """Hosts that are the site itself besides a page's own: ``public_hosts``, and the
        ``cookie_domain`` with its subdomains (``*.example.nl``)."""
        if not self.cookie_domain:
            return self.public_hosts
        return (*self.public_hosts, "*." + self.cookie_domain.strip().lstrip(".").lower())

    @property
    def admin_enabled(self) -> bool:
        """The admin is served only when a way to sign in is configured."""
        return bool(self.admin_token or self.admin_user)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        defaults: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Settings:
        """``defaults``, then ``path`` (TOML), then the environment, then ``overrides``; later wins."""
        values: dict[str, Any] = dict(defaults or {})
        if path is not None:
            values.update(_read_toml(Path(path)))
        values.update(_read_environ(os.environ if environ is None else environ))
        values.update(overrides)
        return cls(**_nest_collect(values))


# Every configuration key (as in the TOML file; upper-cased after GATEWAY_ in the environment).
FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "collect"} | COLLECT_FIELDS


def _nest_collect(values: dict[str, Any]) -> dict[str, Any]:
    """The analytics keys of ``values`` gathered into ``collect`` (on top of a ``collect`` given as well)."""
    flat = {COLLECT_FIELDS[key].name: values.pop(key) for key in list(values) if key in COLLECT_FIELDS}
    if flat:
        values["collect"] = dataclasses.replace(values.get("collect") or CollectSettings(), **flat)
    return values


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment


def _origin(value: str) -> str:
    bare = value.strip().rstrip("/") if isinstance(value, str) else ""
    origin = normalise_origin(bare) if "/" not in bare.split("://", 1)[-1] else None
    if origin is None:
        raise SettingsError(f"allowed_origins: {value!r} is not an origin like https://www.example.nl")
    return origin


def _network(value: Network | str) -> Network:
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise SettingsError(f"trusted_proxies: {value!r} is not an IP address or CIDR range") from None


def _ordered_categories(categories: tuple[Category, ...], blocking: str = "strict") -> tuple[Category, ...]:
    """Put the required category first; add it when a site left it out, and under strict blocking
    add the category of other third parties last when the site did not name it."""
    by_name = {c.name: c for c in categories}
    if len(by_name) != len(categories):
        raise SettingsError("categories: a category name appears twice")
    for name in by_name:
        if not name.isidentifier() or not name.islower():
            raise SettingsError(f"categories: {name!r} must be a lowercase word")
    _check_moved_services(categories)
    required = by_name.pop(REQUIRED_CATEGORY, DEFAULT_CATEGORIES[0])
    required = dataclasses.replace(required, required=True)
    if blocking == "strict" and OTHER_CATEGORY not in by_name:
        by_name[OTHER_CATEGORY] = OTHER_THIRD_PARTIES
    optional = (dataclasses.replace(c, required=False, services=tuple(c.services)) for c in by_name.values())
    return (required, *optional)


def _check_moved_services(categories: tuple[Category, ...]) -> None:
    """Each service moves into one optional category; whether it exists is the catalogue's to check."""
    owner: dict[str, str] = {}
    for category in categories:
        key = f"categories.{category.name}.services"
        if category.services and category.name == REQUIRED_CATEGORY:
            raise SettingsError(f"{key}: the required category cannot hold services; they would load without consent")
        for service in category.services:
            if not isinstance(service, str) or not _SERVICE_ID.fullmatch(service):
                raise SettingsError(f"{key}: {service!r} is not a service id like 'youtube'")
            if service in owner:
                raise SettingsError(f"{key}: {service!r} is already in categories.{owner[service]}.services")
            owner[service] = category.name


_QUERY_PARAMETER = re.compile(r"[A-Za-z0-9._~\[\]-]{1,64}")
_GROUP_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
MAX_GROUP_PATTERN = 200  # characters of a group's path pattern


def _query_parameters(raw: tuple[str, ...] | str) -> tuple[str, ...]:
    """``statistics_query_parameters``: names of query parameters kept in the figures' paths."""
    names = (raw,) if isinstance(raw, str) else tuple(raw)
    for name in names:
        if not isinstance(name, str) or not _QUERY_PARAMETER.fullmatch(name.strip()):
            raise SettingsError(f"statistics_query_parameters: {name!r} is not a query parameter name like 'id'")
    return tuple(dict.fromkeys(name.strip() for name in names))


def _statistics_groups(raw: tuple, case_sensitive: bool) -> tuple[StatisticsGroup, ...]:
    """``[[statistics.groups]]`` tables: ``name`` and ``paths`` (shell patterns starting with '/')."""
    groups: list[StatisticsGroup] = []
    for index, table in enumerate(raw):
        if isinstance(table, StatisticsGroup):
            groups.append(table)
            continue
        where = f"statistics.groups[{index}]"
        if not isinstance(table, Mapping) or set(table) != {"name", "paths"}:
            raise SettingsError(f"{where}: needs exactly 'name' and 'paths'")
        name, paths = table["name"], table["paths"]
        if not isinstance(name, str) or not name.strip() or not _GROUP_NAME.fullmatch(name.strip()):
            raise SettingsError(f"{where}.name: {name!r} must be a name of 1 to 64 printable characters")
        if not isinstance(paths, list) or not paths:
            raise SettingsError(f'{where}.paths: expected a list of path patterns like ["/course/fractions/*"]')
        for path in paths:
            if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_GROUP_PATTERN:
                raise SettingsError(f"{where}.paths: {path!r} is not a path pattern starting with '/'")
            if any(c.isspace() or not c.isprintable() for c in path) or "#" in path:
                raise SettingsError(f"{where}.paths: {path!r} holds spaces, control characters or '#'")
        patterns = tuple(
            dict.fromkeys(normalise_path(p) if case_sensitive else normalise_path(p).lower() for p in paths)
        )
        groups.append(StatisticsGroup(name.strip(), patterns))
    names = [group.name for group in groups]
    if len(set(names)) != len(names):
        raise SettingsError(
            f"statistics.groups: the name {next(n for n in names if names.count(n) > 1)!r} appears twice"
        )
    return tuple(groups)


_SERVICE_ID = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_HOST_PATTERN = re.compile(r"(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def _host_pattern(value: str) -> str:
    """An ``allowed_hosts`` entry: ``cdn.example.nl`` or ``*.example.nl`` (the domain and its subdomains)."""
    pattern = value.strip().lower().rstrip(".")
    if not _HOST_PATTERN.fullmatch(pattern):
        raise SettingsError(f"allowed_hosts: {value!r} is not a host like 'cdn.example.nl' or '*.example.nl'")
    return pattern


def _font_mirror(value: str) -> str:
    """A ``font_mirrors`` entry: ``fonts.gstatic.com=https://mirror.example.nl``. Whether the host is a
    font host of the catalogue is checked when the fonts are built (``gateway.fonts.hosts``)."""
    host, equals, url = value.strip().partition("=")
    if not equals or not _HOST_PATTERN.fullmatch(host.strip().lower()) or not _is_http_url(url.strip()):
        raise SettingsError(f"font_mirrors: {value!r} is not like 'fonts.gstatic.com=https://mirror.example.nl'")
    return f"{host.strip().lower()}={url.strip()}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"config: file {str(path)!r} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config: {path} is not valid TOML ({exc})") from None
    values: dict[str, Any] = {}
    for key, raw in data.items():
        if key not in FIELDS:
            raise SettingsError(f"{key}: unknown setting in {path}")
        if key == "categories":
            values[key] = _categories_from_toml(raw)
        elif key == "statistics" and isinstance(raw, dict):
            values.update(_statistics_from_toml(raw))
        else:
            values[key] = _check_type(key, raw)
    return values


def _statistics_from_toml(raw: dict[str, Any]) -> dict[str, Any]:
    """A ``[statistics]`` table: ``enabled`` and ``[[statistics.groups]]``. TOML cannot have
    ``statistics = true`` beside ``[[statistics.groups]]``, so the table stands for both."""
    unknown = set(raw) - {"enabled", "groups"}
    if unknown:
        raise SettingsError(f"statistics.{sorted(unknown)[0]}: unknown setting (only 'enabled' and 'groups')")
    values: dict[str, Any] = {}
    if "enabled" in raw:
        values["statistics"] = _check_type("statistics", raw["enabled"])
    if "groups" in raw:
        values["statistics_groups"] = _check_type("statistics_groups", raw["groups"])
    return values


def _categories_from_toml(raw: Any) -> tuple[Category, ...]:
    """``[categories.<name>]`` tables with ``label`` and ``description`` per language, and the
    ``services`` moved into the category."""
    if not isinstance(raw, dict):
        raise SettingsError("categories: expected tables like [categories.analytics]")
    defaults = {c.name: c for c in (*DEFAULT_CATEGORIES, OTHER_THIRD_PARTIES)}
    result = []
    for name, spec in raw.items():
        if not isinstance(spec, dict) or set(spec) - {"label", "description", "services"}:
            raise SettingsError(f"categories.{name}: only 'label', 'description' and 'services' are allowed")
        base = defaults.get(name, Category(name, {}, {}))
        label = {**base.label, **_language_table(f"categories.{name}.label", spec.get("label", {}))}
        description = {
            **base.description,
            **_language_table(f"categories.{name}.description", spec.get("description", {})),
        }
        services = _service_list(f"categories.{name}.services", spec.get("services", []))
        result.append(Category(name, label, description, services=services))
    return tuple(result)


def _service_list(key: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        raise SettingsError(f'{key}: expected a list of service ids like ["youtube", "vimeo"]')
    return tuple(dict.fromkeys(v.strip() for v in raw))


def _language_table(key: str, raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        return {language: raw for language in LANGUAGES}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise SettingsError(f'{key}: expected a text or a table like {{nl = "...", en = "..."}}')
    return dict(raw)


def _check_type(key: str, raw: Any) -> Any:
    expected = FIELDS[key].type
    if key in LIST_SETTINGS:
        if isinstance(raw, str) or (isinstance(raw, list) and all(isinstance(v, str) for v in raw)):
            return tuple(raw) if isinstance(raw, list) else raw
        raise SettingsError(f"{key}: expected a text or a list of texts")
    if key in TABLE_LISTS:
        if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
            raise SettingsError(f"{key}: expected a list of tables ([[{key}]])")
        return tuple(raw)
    wants = {"bool": bool, "int": int, "float": (int, float)}.get(expected.split(" ")[0], str)
    if isinstance(raw, bool) and wants is not bool or not isinstance(raw, wants):
        kind = "number" if wants == (int, float) else getattr(wants, "__name__", "value")
        raise SettingsError(f"{key}: expected {kind}, got {raw!r}")
    return float(raw) if wants == (int, float) else raw


TABLE_LISTS = ("path_policies", "services", "statistics_groups")
LIST_SETTINGS = ("secret_key", "trusted_proxies", "allowed_origins", "public_hosts", "allowed_hosts", "font_mirrors")
LIST_SETTINGS += ("ga4_measurement_ids", "ua_property_ids", "matomo_site_ids", "collect_strip_parameters")
LIST_SETTINGS += ("statistics_query_parameters",)


def _read_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in FIELDS:
            raise SettingsError(f"{name}: unknown setting")
        if key in TABLE_LISTS:
            raise SettingsError(f"{name}: {key} can only be set in the config file")
        values[key] = _from_env_text(name, key, raw)
    return values


def _from_env_text(name: str, key: str, raw: str) -> Any:
    if key in LIST_SETTINGS:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if key == "categories":
        return _categories_from_env(name, raw)
    kind = FIELDS[key].type.split(" ")[0]
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if kind == "bool":
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise SettingsError(f"{name}: expected true or false, got {raw!r}")
        return raw.lower() in ("1", "true", "yes")
    if key in ("cookie_domain", "upstream", "open_cookie_database", *ACCESS_SECRETS) and not raw:
        return None
    return raw


def _categories_from_env(name: str, raw: str) -> tuple[Category, ...]:
    """``analytics,marketing,video:youtube+vimeo``: names, each with the services moved into it."""
    defaults = {c.name: c for c in (*DEFAULT_CATEGORIES, OTHER_THIRD_PARTIES)}
    result = []
    for part in (part.strip() for part in raw.split(",")):
        if not part:
            continue
        category, colon, listed = part.partition(":")
        services = tuple(s.strip() for s in listed.split("+"))
        if colon and not all(services):
            raise SettingsError(f"{name}: {part!r} expected 'name:service+service', e.g. video:youtube+vimeo")
        base = defaults.get(category.strip(), Category(category.strip(), {}, {}))
        result.append(dataclasses.replace(base, services=services if colon else ()))
    return tuple(result)


ACCESS_SECRETS = ("metrics_token", "admin_token", "admin_user", "admin_password_hash")


def _validate_access(settings: Settings) -> None:
    """The metrics token and the admin's credentials: each complete and long enough.

    Whether the password hash is well-formed is the admin's to check (``gateway.admin.auth``),
    when the gateway is built."""
    for name in ("metrics_token", "admin_token"):
        token = getattr(settings, name)
        if token and len(token) < MIN_SECRET_LENGTH:
            raise SettingsError(f"{name}: needs at least {MIN_SECRET_LENGTH} characters")
    if settings.admin_user and not settings.admin_password_hash:
        raise SettingsError("admin_password_hash: required with admin_user (consent-gateway admin hash-password)")
    if settings.admin_password_hash and not settings.admin_user:
        raise SettingsError("admin_user: required with admin_password_hash")
    if settings.admin_session_max_age <= 0:
        raise SettingsError("admin_session_max_age: must be a positive number of seconds")
