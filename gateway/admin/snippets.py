"""TOML an operator adds to classify an unknown host: a ``[[services]]`` entry or ``allowed_hosts``.

The operator's classification lives in the configuration, not in the
database: these snippets are what to paste into ``gateway.toml``. Only host
names that both ``services.hosts`` and ``allowed_hosts`` accept get one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.net.urls import site_of

# Labels of letters, digits and inner dashes; two or more; a letter in the last (no IP addresses).
DNS_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?=[a-z0-9-]*[a-z])[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
PLACEHOLDERS = {
    "purpose": {
        "en": "Fill in: what this service does on the site.",
        "nl": "Invullen: wat deze dienst op de site doet.",
    },
    "retention": {
        "en": "Fill in: how long it keeps its cookies and data.",
        "nl": "Invullen: hoe lang de dienst cookies en gegevens bewaart.",
    },
}
ALLOWED_NOTE = (
    "# A top-level key: above the first [section] of gateway.toml, in place of any allowed_hosts line there\n"
    "# (GATEWAY_ALLOWED_HOSTS, when set, wins over the file: add the hosts there instead).\n"
)


@dataclass(frozen=True, slots=True)
class Snippets:
    """Both ways to classify one host, or (``host`` empty) every unknown host at once."""

    host: str
    service: str  # [[services]] entries
    allowed: str  # an allowed_hosts line


def configurable(host: str) -> bool:
    """Can ``host`` be written in ``services.hosts`` and ``allowed_hosts``?"""
    return DNS_NAME.fullmatch(host) is not None


def snippets_for(
    hosts: Iterable[str], category: str, optional: Iterable[str], taken: Iterable[str], allowed: Iterable[str]
) -> list[Snippets]:
    """One ``Snippets`` per configurable host, then one for all of them when there are several.

    ``category`` is the one each service entry starts with, ``optional`` the
    ones it may name, ``taken`` the service ids already in use (a
    ``[[services]]`` entry with a built-in id would replace that service) and
    ``allowed`` the current ``allowed_hosts``, which the line keeps.
    """
    hosts = [host for host in dict.fromkeys(hosts) if configurable(host)]
    ids = service_ids(hosts, taken)
    choices = ", ".join(optional)
    entries = {host: service_entry(host, ids[host], category, choices) for host in hosts}
    current = tuple(allowed)
    found = [Snippets(host, entries[host], allowed_line([*current, host])) for host in hosts]
    if len(hosts) > 1:
        found.append(Snippets("", "\n".join(entries.values()), allowed_line([*current, *hosts])))
    return found


def service_entry(host: str, service_id: str, category: str, choices: str) -> str:
    return (
        "[[services]]\n"
        f"id = {string(service_id)}\n"
        f"name = {string(host)}  # the name visitors read in the banner\n"
        f"vendor = {string(site_of(host))}  # who runs it\n"
        f"category = {string(category)}  # one of: {choices}\n"
        f"hosts = [{string(host)}]\n"
        f"privacy_url = {string('https://' + site_of(host) + '/')}  # the vendor's privacy policy\n"
        f"purpose = {language_table(PLACEHOLDERS['purpose'])}\n"
        f"retention = {language_table(PLACEHOLDERS['retention'])}\n"
    )


def allowed_line(hosts: Iterable[str]) -> str:
    return ALLOWED_NOTE + f"allowed_hosts = [{', '.join(string(host) for host in dict.fromkeys(hosts))}]\n"


def service_ids(hosts: Iterable[str], taken: Iterable[str]) -> dict[str, str]:
    """An id per host from its name (``cdn.example.net``: ``cdn-example-net``), unlike any id in ``taken``."""
    used = set(taken)
    ids = {}
    for host in hosts:
        base = re.sub(r"[^a-z0-9]+", "-", host).strip("-")
        candidate, number = base, 1
        while candidate in used:
            number += 1
            candidate = f"{base}-{number}"
        used.add(candidate)
        ids[host] = candidate
    return ids


def language_table(texts: dict[str, str]) -> str:
    return "{ " + ", ".join(f"{language} = {string(text)}" for language, text in texts.items()) + " }"


def string(text: str) -> str:
    """A TOML basic string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'
