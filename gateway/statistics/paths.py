"""A page's path as the figures show it, and the groups (``[[statistics.groups]]``) it belongs to.

Paths are compared the way path policies compare them (``gateway.trackers.paths``):
dot segments resolved, repeated slashes as one, unreserved characters
decoded, and case ignored unless ``case_sensitive_paths``. The query string
is dropped except the parameters the operator lists
(``statistics_query_parameters``), kept in the order of that list. A path
is cut at ``MAX_PATH`` characters: a crawler's endless URLs add nothing to
the figures.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from urllib.parse import parse_qsl, urlencode

from gateway.net.urls import normalise_path
from gateway.settings import StatisticsGroup

MAX_PATH = 200  # characters of a path in the figures

PageOf = tuple[str, tuple[str, ...]]  # (the path in the figures, the names of its groups)


class PagePaths:
    """``paths(path, query_string)``: the page's path in the figures and its groups (memoised by the counter)."""

    def __init__(
        self,
        groups: tuple[StatisticsGroup, ...] = (),
        parameters: tuple[str, ...] = (),
        case_sensitive: bool = False,
    ) -> None:
        self.groups = groups
        self.parameters = parameters
        self.case_sensitive = case_sensitive

    def __call__(self, path: str, query_string: bytes = b"") -> PageOf:
        comparable = normalise_path(path or "/")
        if not self.case_sensitive:
            comparable = comparable.lower()
        groups = tuple(group.name for group in self.groups if any(fnmatchcase(comparable, p) for p in group.paths))
        return (comparable + self.kept_query(query_string))[:MAX_PATH], groups

    def kept_query(self, query_string: bytes) -> str:
        """``?id=3&course=x``: the listed parameters the query holds, in the order of the list."""
        if not query_string or not self.parameters:
            return ""
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        kept = [(name, value) for wanted in self.parameters for name, value in pairs if name == wanted]
        return "?" + urlencode(kept) if kept else ""
