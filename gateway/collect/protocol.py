"""The three measurement protocols and the backends they are forwarded to.

What a protocol looks like (parameter names, id formats, script URLs) is
tracker knowledge and comes from the ``collect`` section of the catalogue;
where hits go and which ids are ours comes from the settings only, so the
gateway can never be used to relay hits to a backend or property of the
visitor's choosing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from gateway.settings import CollectSettings, SettingsError
from gateway.trackers.catalogue import measurement_protocols


@dataclass(frozen=True)
class Protocol:
    """How one analytics protocol names things, read from the catalogue."""

    name: str
    id_parameter: str
    id_pattern: re.Pattern[str]
    page_parameter: str
    url_parameters: frozenset[str]
    json_parameters: frozenset[str]
    user_id_parameters: frozenset[str]
    ip_parameter: str
    user_agent_parameter: str | None
    token_parameter: str | None
    set_parameters: tuple[tuple[str, str], ...]
    dropped_parameters: frozenset[str]
    max_events: int
    spec: Mapping[str, Any]

    @classmethod
    def from_catalogue(cls, name: str) -> Protocol:
        spec = measurement_protocols()[name]
        return cls(
            name=name,
            id_parameter=spec["id_parameter"],
            id_pattern=re.compile(spec["id_pattern"]),
            page_parameter=spec["page_parameter"],
            url_parameters=frozenset(spec["url_parameters"]),
            json_parameters=frozenset(spec.get("json_parameters", ())),
            user_id_parameters=frozenset(spec["user_id_parameters"]),
            ip_parameter=spec["ip_parameter"],
            user_agent_parameter=spec.get("user_agent_parameter"),
            token_parameter=spec.get("token_parameter"),
            set_parameters=tuple(spec.get("set_parameters", {}).items()),
            dropped_parameters=frozenset(spec["dropped_parameters"]),
            max_events=int(spec["max_events"]),
            spec=spec,
        )


@dataclass(frozen=True)
class Backend:
    """One configured analytics backend: where its hits go, which ids are ours, which category it needs."""

    protocol: Protocol
    endpoint: str
    ids: frozenset[str]
    category: str
    batch_endpoint: str | None = None
    script_url: str | None = None  # where the tracker's script comes from
    token: str | None = None  # Matomo's token_auth: lets the gateway set the (anonymised) visitor address

    @property
    def name(self) -> str:
        return self.protocol.name


def configured_backends(settings: CollectSettings) -> dict[str, Backend]:
    """The backends the operator configured, by protocol name; a backend without ids is off.

    Raises ``SettingsError`` for an id that does not look like one of its protocol's: the
    gateway does not start with it."""
    backends: dict[str, Backend] = {}
    if settings.ga4_measurement_ids:
        ga4 = Protocol.from_catalogue("ga4")
        backends["ga4"] = Backend(
            ga4,
            settings.ga4_endpoint or ga4.spec["endpoint"],
            checked_ids(ga4, "ga4_measurement_ids", settings.ga4_measurement_ids),
            settings.ga4_category,
            script_url=settings.ga4_script_url or ga4.spec["script"]["url"],
        )
    if settings.ua_property_ids:
        ua = Protocol.from_catalogue("ua")
        backends["ua"] = Backend(
            ua,
            settings.ua_endpoint or ua.spec["endpoint"],
            checked_ids(ua, "ua_property_ids", settings.ua_property_ids),
            settings.ua_category,
            batch_endpoint=settings.ua_batch_endpoint or ua.spec["batch_endpoint"],
        )
    if settings.matomo_site_ids and settings.matomo_url:
        matomo = Protocol.from_catalogue("matomo")
        backends["matomo"] = Backend(
            matomo,
            urljoin(settings.matomo_url, matomo.spec["tracker"]),
            checked_ids(matomo, "matomo_site_ids", settings.matomo_site_ids),
            settings.matomo_category,
            script_url=urljoin(settings.matomo_url, matomo.spec["script"]["file"]),
            token=settings.matomo_token_auth,
        )
    return backends


def checked_ids(protocol: Protocol, key: str, ids: tuple[str, ...]) -> frozenset[str]:
    """``ids`` (the setting ``key``), each matching the protocol's id pattern from the catalogue."""
    for measurement_id in ids:
        if not protocol.id_pattern.fullmatch(measurement_id):
            raise SettingsError(f"{key}: {measurement_id!r} does not look like a {protocol.name} id")
    return frozenset(ids)
