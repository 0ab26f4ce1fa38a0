"""A module imported on its first use instead of at start-up.

aiohttp costs each worker about 10 MiB of memory and a quarter of the start-up
time, yet only some features need it: analytics forwarding, first-party fonts
and vendor scripts, WebSockets through the proxy, the crawler. Their modules
name it through ``lazy_module``, so a site that uses none of them never
loads it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for a module until an attribute is read, then imports it (the import lock makes the
    first read from two threads at once safe) and hands on every read from then on."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, {'imported' if self._module is not None else 'not imported yet'}>"


def lazy_module(name: str) -> Any:
    """``name``, imported when an attribute of it is first read."""
    return LazyModule(name)
