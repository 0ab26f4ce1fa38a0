"""Keeping a site's Content-Security-Policy working when the gateway adds scripts.

The injected banner tag and Consent Mode default carry a fresh nonce per
response; the nonce is added to the directives that govern them, so the
site's policy stays as strict as it was for everything else.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

# Directives that can name a font CDN's stylesheets or files.
FONT_DIRECTIVES = ("default-src", "style-src", "style-src-elem", "font-src")


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def parse(policy: str) -> list[tuple[str, str]]:
    directives = []
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives.append((name.lower(), value.strip()))
    return directives


def allow(sources: str, nonce: str) -> str:
    """A source list that also admits elements carrying ``nonce``.

    Where a list already allows any inline code ('unsafe-inline' and no nonce
    or hash), adding a nonce would switch that off in every modern browser and
    break the site's own inline scripts, so 'self' is added instead (for the
    external banner.js) and the list is otherwise left as it was.
    """
    tokens = [t for t in sources.split() if t.lower() != "'none'"]
    lowered = [t.lower() for t in tokens]
    allows_inline = "'unsafe-inline'" in lowered and not any(t.startswith(("'nonce-", "'sha")) for t in lowered)
    extra = "'self'" if allows_inline else f"'nonce-{nonce}'"
    if extra not in tokens:
        tokens.append(extra)
    return " ".join(tokens)


def add_nonce(policy: str, nonce: str) -> str:
    """``policy`` admitting scripts and styles with ``nonce`` wherever it restricts them."""
    directives = parse(policy)
    present = dict(directives)
    updates: dict[str, str] = {}
    for kind in ("script-src", "style-src"):
        source = kind if kind in present else "default-src" if "default-src" in present else None
        if source is not None:
            updates[kind] = allow(present[source], nonce)
    for kind in ("script-src-elem", "style-src-elem"):
        if kind in present:
            updates[kind] = allow(present[kind], nonce)
    result = [(name, updates.pop(name, value)) for name, value in directives] + list(updates.items())
    return "; ".join(f"{name} {value}".strip() for name, value in result)


def has_restriction(policy: str) -> bool:
    names = {name for name, _ in parse(policy)}
    return bool(names & {"default-src", "script-src", "script-src-elem", "style-src", "style-src-elem"})


def allow_own_fonts(policy: str, is_font_host: Callable[[str], bool]) -> str:
    """``policy`` with 'self' added to each directive that names a font CDN the gateway serves
    first-party: the site allowed those fonts, and they now come from its own origin."""
    result, changed = [], False
    for name, value in parse(policy):
        tokens = value.split()
        if name in FONT_DIRECTIVES and "'self'" not in tokens and any(is_font_host(_host(t)) for t in tokens):
            value, changed = " ".join([*tokens, "'self'"]), True
        result.append((name, value))
    return "; ".join(f"{name} {value}".strip() for name, value in result) if changed else policy


def _host(source: str) -> str:
    """The host of a source expression (``https://fonts.gstatic.com``, ``fonts.gstatic.com:443``)."""
    return source.lower().partition("://")[2 if "://" in source else 0].partition("/")[0].partition(":")[0]
