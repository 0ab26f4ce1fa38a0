"""Per-path policy: areas of a site where some categories stay off whatever was granted.

A learner's course or exam pages (``/cursus/*``, ``/toets/*``) can be kept
free of analytics and marketing even for visitors who accepted everything.

Paths are compared the way a web server may route them, so that no spelling
of a course page slips past its policy: percent-encoded letters decoded
(``/%63ursus``), dot segments resolved (``/x/../cursus``), repeated slashes
and backslashes as one slash (``//cursus``), and case ignored (``/CURSUS``)
unless the operator says the site's paths are case-sensitive
(``case_sensitive_paths = true``: ``/Cursus`` and ``/cursus`` are different
pages there, so a policy on one must not take the other).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from gateway.net.urls import normalise_path


@dataclass(frozen=True)
class PathPolicy:
    paths: tuple[str, ...]  # patterns, already comparable
    deny: frozenset[str]
    case_sensitive: bool = False

    def applies_to(self, path: str) -> bool:
        path = _comparable(path, self.case_sensitive)
        return any(fnmatchcase(path, pattern) for pattern in self.paths)


def parse_path_policies(
    raw: Iterable[Mapping[str, Any]], categories: Iterable[str], required: str, case_sensitive: bool = False
) -> tuple[PathPolicy, ...]:
    """Validate ``[[path_policies]]`` tables: ``paths = [...]`` and ``deny = [...]``.

    ``case_sensitive``: the site routes ``/Cursus`` and ``/cursus`` to different pages."""
    known = set(categories)
    policies = []
    for index, table in enumerate(raw):
        where = f"path_policies[{index}]"
        if not isinstance(table, Mapping) or set(table) != {"paths", "deny"}:
            raise ValueError(f"{where}: needs exactly 'paths' and 'deny'")
        paths, deny = table["paths"], table["deny"]
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise ValueError(f"{where}.paths: a list of path patterns starting with '/'")
        if not isinstance(deny, list) or not all(isinstance(c, str) for c in deny):
            raise ValueError(f"{where}.deny: a list of category names")
        unknown = set(deny) - known
        if unknown:
            raise ValueError(f"{where}.deny: unknown category {', '.join(sorted(unknown))}")
        if required in deny:
            raise ValueError(f"{where}.deny: {required!r} is required and cannot be denied")
        patterns = tuple(_comparable(p, case_sensitive) for p in paths)
        policies.append(PathPolicy(patterns, frozenset(deny), case_sensitive))
    return tuple(policies)


@lru_cache(maxsize=4096)
def _comparable(path: str, case_sensitive: bool = False) -> str:
    path = normalise_path(path)
    return path if case_sensitive else path.lower()


def granted_for(path: str, granted: frozenset[str], policies: tuple[PathPolicy, ...]) -> frozenset[str]:
    if not policies or len(granted) == 1:
        return granted  # nothing to take away
    for policy in policies:
        if policy.applies_to(path):
            granted = granted - policy.deny
    return granted
