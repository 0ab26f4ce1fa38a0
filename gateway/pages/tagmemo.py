"""Rewritten start tags, remembered per worker.

Dynamic pages differ on every request (a session key, a CSRF token, the
learner's name), but their tag manager, pixel and embed tags are the same
bytes each time. Deciding such a tag costs about ten microseconds (reading
its attributes, resolving and judging its URLs, writing it back); looking
it up costs a fraction of one.

An entry holds all a tag does to a page: the bytes that go out, what it
adds to the list of neutralised services, and the hosts it adds for
discovery. It is keyed by the tag's bytes (an inline script's with its
body, which decides) and by everything else its rewriting reads: the
granted categories, the page's host and URL, the URL relative URLs resolve
against (``<base>``), the page's language (a held frame's placeholder
speaks it) and whether discovery notes hosts. The rewriter keeps out what
changes the page's state or reads what follows: ``<base>``, ``<html>``,
``<head>`` and ``<style>``.

A tag is only kept the second time it is offered. The tags that carry a
session key or a token are new on every page; kept at once, they filled
the memo within a few thousand pages, which then started again and lost
the tags worth keeping, and each held a few hundred bytes meanwhile. Only a
fingerprint of a tag seen once is noted.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.pages.sightings import Seen

# Entries kept; when full, the memo starts again (a site's repeated tags come back at once).
MEMO_SIZE = 8192
# Longer tags (inline images as data: URLs) are not worth keeping.
MAX_REMEMBERED_TAG = 2048
# An inline script is kept with its body (which decides) up to this size.
MAX_REMEMBERED_SCRIPT = 8192
# The rewriting context: granted categories, page host, the page's URL, what relative URLs resolve
# against, the page's language (for the placeholders of held frames), discovery on.
Context = tuple[frozenset[str], str, str, str, str | None, bool]


@dataclass(frozen=True, slots=True)
class Remembered:
    """What one start tag did to a page."""

    output: bytes
    blocked: tuple[str, ...]  # labels added to ``RewritePolicy.blocked``
    seen: frozenset[Seen]  # hosts noted for discovery


class TagMemo:
    """Bounded memo from (context, tag bytes) to what rewriting the tag came to.

    Entries are filed per context: a rewriter asks for its page's table once
    (``entries``) and then looks tags up by their bytes alone, instead of
    comparing a whole context on every tag.
    """

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._tables: dict[Context, dict[bytes, Remembered]] = {}
        self._count = 0  # entries put since the memo last started again
        self._offered: set[int] = set()  # fingerprints of tags offered once and not kept yet

    def __len__(self) -> int:
        return sum(map(len, self._tables.values()))

    def entries(self, context: Context) -> dict[bytes, Remembered]:
        """The table of ``context``, to look tags up in (``dict.get``) and to ``put`` into."""
        table = self._tables.get(context)
        if table is None:
            table = self._tables[context] = {}
        return table

    def put(self, table: dict[bytes, Remembered], tag: bytes, remembered: Remembered) -> None:
        """Keep what ``tag`` came to, if it was offered before (in any context)."""
        fingerprint = hash(tag)
        if fingerprint not in self._offered:
            if len(self._offered) >= self.size:
                self._offered.clear()
            self._offered.add(fingerprint)
            return
        self._offered.discard(fingerprint)
        if self._count >= self.size:
            # Start again; a table a rewriter still holds is left to it, and goes with its page.
            for held in self._tables.values():
                held.clear()
            self._tables = {}
            self._count = 0
        table[tag] = remembered
        self._count += 1
