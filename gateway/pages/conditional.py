"""Conditional requests when one URL gives a different page for each consent state.

A rewritten page's ``ETag`` carries the consent state it was made for, and a
visitor's ``If-None-Match`` only reaches the site when it names a page of the
visitor's current state. Otherwise a browser that cached a page with live
trackers could revalidate it with a 304 after the visitor withdrew.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

MARK = "-cg"
STATE_LENGTH = 8


def consent_state(granted: Iterable[str], banner_version: str) -> str:
    """A short name for "what was granted, under which banner"."""
    text = ",".join(sorted(granted)) + "|" + banner_version
    return hashlib.sha256(text.encode()).hexdigest()[:STATE_LENGTH]


def opaque(etag: str) -> str:
    """The opaque part of an entity tag, without ``W/`` and quotes."""
    etag = etag.strip()
    return (etag[2:] if etag.startswith("W/") else etag).strip('"')


def tag_for_state(etag: str, state: str) -> str:
    """The site's ``etag`` marked with the consent ``state``; weak, since the bytes were rewritten."""
    return f'W/"{opaque(etag)}{MARK}{state}"'


def translate_if_none_match(value: str, state: str) -> tuple[str | None, bool]:
    """The header to pass on (``None``: drop it), and whether one of the visitor's tags named this state.

    Tags made for another consent state are dropped; tags the gateway never
    made pass unchanged.
    """
    kept: list[str] = []
    ours = False
    for tag in (part.strip() for part in value.split(",")):
        if not tag:
            continue
        base, mark, tagged_state = opaque(tag).rpartition(MARK)
        if not mark or len(tagged_state) != STATE_LENGTH:
            kept.append(tag)
        elif tagged_state == state:
            kept.append(f'W/"{base}"')
            ours = True
    return (", ".join(kept) or None), ours
