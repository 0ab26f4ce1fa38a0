"""The last rewrite of each page, kept per worker: what comes back unchanged is copied, not read again.

A page made for one request (a course page with the learner's session key
and name) is new bytes every time, yet nearly all of it is what the same
URL sent the time before: the same menus, the same tag manager, the same
course text. The tag memo (``gateway.pages.tagmemo``) already spares the
rewriter deciding those tags again, but every page is still scanned tag by
tag and every tag looked up. Here the rewriter keeps, per page URL and
granted categories, one earlier page as it came and as it went out, with the places between two
constructs where its compiled pass (``scanner.remembered_run``) stood
("marks"). A later page is compared with it byte by byte (``memcmp``), and
every stretch that is the same from one mark to another, with the same
rewriting context, is copied from the earlier output, with the labels and
hosts it added to the page's lists. Where the pages differ, the rewriter
reads on as usual, past the difference, and then looks for the earlier page
again (nearby, by the next bytes).

Why a copy is exact: the compiled pass decides plain stretches and
remembered tags by their own bytes and the rewriting context alone (no
state before, nothing after but the few bytes that end a ``</script``,
which ``MARGIN`` covers), so equal bytes between two marks, with equal
context, are rewritten to equal bytes. Stretches never cross what the
rewriter did in Python (``<head>``, ``<style>``, a tag it had to decide),
which can change its state. A property test holds pages rewritten with an
echo to pages rewritten without one, for any change and any chunking.

A kept page that stops serving (less than half copied, or kept before the
memo knew its tags) is dropped, and the next page is kept instead; one page
of a URL is recorded at a time. Pages over ``MAX_ECHOED_PAGE`` are not
kept, and the kept pages with their marks stay under ``ECHO_BUDGET`` bytes.
The kept pages never leave the worker: a stretch is copied only where the
new page has the very same bytes.
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass

from gateway.pages.sightings import Seen
from gateway.pages.tagmemo import Context

try:
    from gateway.pages.scanner import common_length
except ImportError:  # no compiled scanner: the rewriter does not use echoes
    common_length = None

MAX_ECHOED_PAGE = 1024 * 1024  # bytes of a page as it came; a larger one is rewritten as usual
ECHO_BUDGET = 8 * 1024 * 1024  # bytes kept in all: pages as they came and went out, and their marks
MAX_ECHOES = 512
# Bytes past a stretch that must be the same too: the compiled pass reads at most nine past a
# construct (a "</script" that begins inside it and the byte after the name).
MARGIN = 16
PROBE = 32  # bytes looked for in the earlier page to find where a changed part ends
WINDOW = 4096  # how far from where it was expected
# A page is kept by one rewrite at a time: the first requests for a URL all come at once, and each
# recording holds the page twice over until it ends. One that never ended yields after this long.
RECORDING_TIMEOUT = 10.0
MAX_MISSES = 64  # tries that found nothing to copy, after which the page is read as usual
SURE = 512  # bytes in common from where the pages were aligned before that need no look around


@dataclass(frozen=True, slots=True)
class EchoedPage:
    """A page as it came and as it went out, with the marks of its compiled passes.

    Mark ``i`` is at ``ins[i]`` in the page, ``outs[i]`` in the output; ``blockeds[i]`` labels
    and ``seen_at[i]`` host sets were noted before it; marks of one pass share ``segments[i]``,
    whose last mark is ``segment_last[segments[i]]`` and whose rewriting context (a ``<base>``
    changes it) is ``contexts[segments[i]]``."""

    contexts: tuple[Context, ...]
    source: bytes
    output: bytes
    ins: array
    outs: array
    blockeds: array
    seen_at: array
    segments: array
    segment_last: array
    blocked: tuple[str, ...]
    seens: tuple[frozenset[Seen], ...]

    @property
    def size(self) -> int:
        """Bytes held: the page, its output and the marks (8 bytes per number)."""
        return len(self.source) + len(self.output) + 5 * 8 * len(self.ins)

    def mark_at(self, place: int) -> int:
        """The index of the last mark at ``place``; -1 if none is there."""
        index = bisect_right(self.ins, place) - 1
        return index if index >= 0 and self.ins[index] == place else -1


# A page's URL and the categories granted: visitors who chose differently get different pages.
EchoKey = tuple[str, frozenset[str]]


class PageEchoes:
    """The kept pages of one worker, by page URL and grants, the least recently used going first."""

    def __init__(self, budget: int = ECHO_BUDGET, entries: int = MAX_ECHOES) -> None:
        self.budget = budget
        self.entries = entries
        self._pages: OrderedDict[EchoKey, EchoedPage] = OrderedDict()
        self.size = 0
        self._recording: dict[EchoKey, float] = {}  # when the page being kept for a key began

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: EchoKey) -> EchoedPage | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def may_record(self, key: EchoKey) -> bool:
        """Whether a page for ``key`` may be kept: not while another one for it is being kept."""
        now = time.monotonic()
        began = self._recording.get(key)
        if began is not None and now - began < RECORDING_TIMEOUT:
            return False
        if len(self._recording) >= self.entries:  # rewrites that never ended, for many URLs
            self._recording.clear()
        self._recording[key] = now
        return True

    def recorded(self, key: EchoKey) -> None:
        """The page being kept for ``key`` is done (kept or not)."""
        self._recording.pop(key, None)

    def put(self, key: EchoKey, page: EchoedPage) -> None:
        self.forget(key)
        if page.size > self.budget:
            return
        self._pages[key] = page
        self.size += page.size
        while self.size > self.budget or len(self._pages) > self.entries:
            _, oldest = self._pages.popitem(last=False)
            self.size -= oldest.size

    def forget(self, key: EchoKey, page: EchoedPage | None = None) -> None:
        """Drop the page kept for ``key`` (only if it is ``page``, when given)."""
        kept = self._pages.get(key)
        if kept is not None and (page is None or kept is page):
            del self._pages[key]
            self.size -= kept.size


class Recording:
    """A page being rewritten with nothing kept for its URL: what it takes, gives and where the marks are."""

    __slots__ = ("contexts", "chunks", "outputs", "marks", "seens", "segment", "taken", "out", "counted", "written")

    def __init__(self) -> None:
        self.contexts: list[Context] = []  # of each pass, by ``segment``
        self.chunks: list[bytes] | None = []  # None: too large to keep
        self.outputs: list[bytes] = []
        self.marks = array("q")  # five numbers a mark, as ``scanner.remembered_run`` notes them
        self.seens: list[frozenset[Seen]] = []
        self.segment = 0
        self.taken = 0
        self.out: list | None = None  # the rewriter's output list of the current turn
        self.counted = 0  # how many of its pieces ``written`` counts
        self.written = 0

    def take(self, data: bytes) -> bool:
        """Note a piece of the page; False once the page is too large to keep (and nothing is held)."""
        self.taken += len(data)
        if self.taken > MAX_ECHOED_PAGE or self.chunks is None:
            self.chunks = None
            self.outputs.clear()
            self.marks = array("q")
            return False
        self.chunks.append(data)
        return True

    def follows(self, context: Context) -> bool:
        """Whether marks are noted for the pass that begins, in ``context``."""
        if self.chunks is None:
            return False
        self.contexts.append(context)
        return True

    def written_before(self, out: list, emitted: int) -> int:
        """The output's length up to the end of ``out`` (this turn's pieces; ``emitted`` before them)."""
        if out is not self.out:
            self.out, self.counted, self.written = out, 0, emitted
        self.written += sum(map(len, out[self.counted :]))
        self.counted = len(out)
        return self.written

    def ran(self, out: list[bytes]) -> None:
        """After a compiled pass: its last mark holds the output's length."""
        self.written = self.marks[-4]
        self.counted = len(out)
        self.segment += 1

    def page(self, blocked: list[str]) -> EchoedPage | None:
        if self.chunks is None or not self.marks:
            return None
        marks = self.marks
        segments = marks[4::5]
        segment_last = array("q", [0]) * self.segment
        for index, segment in enumerate(segments):
            segment_last[segment] = index
        return EchoedPage(
            tuple(self.contexts),
            b"".join(self.chunks),
            b"".join(self.outputs),
            marks[0::5],
            marks[1::5],
            marks[2::5],
            marks[3::5],
            segments,
            segment_last,
            tuple(blocked),
            tuple(self.seens),
        )


class Replay:
    """A page being rewritten beside the page kept for its URL."""

    __slots__ = ("page", "view", "delta", "misses", "copied", "until", "turns")

    def __init__(self, page: EchoedPage) -> None:
        self.page = page
        self.view = memoryview(page.output)
        self.delta = 0  # where the kept page is, relative to this one, since the last copy
        self.misses = 0
        self.copied = 0  # bytes of this page copied
        self.until = -1  # where the compiled pass that follows should stop and hand back
        self.turns = 0  # compiled passes begun (after a tag the rewriter read, or a new piece of the page)

    def worth_keeping(self, size: int) -> bool:
        """Whether the kept page still serves, after a page of ``size`` bytes was rewritten beside it.

        Not when less than half was copied, and not when this page needed far fewer compiled passes
        than the kept one had: the kept page was rewritten before the memo knew its tags (each one
        ended a pass there), so its stretches are short, and a page rewritten now makes a better one."""
        return self.copied * 2 >= size and self.turns * 4 >= len(self.page.segment_last) * 3

    def copy(
        self,
        buffer: bytes,
        position: int,
        offset: int,
        out: list,
        blocked: list[str],
        sightings: set[Seen] | None,
        context: Context,
        final: bool,
    ) -> int:
        """Copy what follows ``position`` (``offset + position`` in the page) from the kept page, as
        far as it is the same; the new position. ``until`` is set for the compiled pass after it."""
        self.until = -1
        page = self.page
        if self.misses > MAX_MISSES:
            return position
        here = offset + position
        start = page.mark_at(here + self.delta)
        common = common_length(buffer, position, page.source, page.ins[start]) if start >= 0 else 0
        if common < SURE and position + common < len(buffer):
            # Where the pages differed in length, or repeat themselves (a list of posts), the old
            # alignment can be wrong and still match a little: the best match nearby wins.
            found, found_common = self._find(buffer, position, here, final)
            if found_common > common:
                start, common = found, found_common
        if start < 0 or page.contexts[page.segments[start]] != context:
            return self._missed(position, position + 1)
        kept = page.ins[start]
        if final and position + common == len(buffer) and kept + common == len(page.source):
            limit = kept + common  # both pages end here: nothing follows to read
        else:
            limit = kept + common - MARGIN
        end = min(bisect_right(page.ins, limit) - 1, page.segment_last[page.segments[start]])
        if end <= start or page.ins[end] <= kept:
            return self._missed(position, position + common + 1)
        out.append(self.view[page.outs[start] : page.outs[end]])
        if page.blockeds[end] > page.blockeds[start]:
            blocked.extend(page.blocked[page.blockeds[start] : page.blockeds[end]])
        if sightings is not None:
            for seen in page.seens[page.seen_at[start] : page.seen_at[end]]:
                sightings.update(seen)
        length = page.ins[end] - kept
        self.delta = kept - here
        self.copied += length
        self.until = position + common + 1  # read past the first difference, then look again
        return position + length

    def _missed(self, position: int, until: int) -> int:
        """Nothing to copy here: the compiled pass reads up to ``until`` before the next look."""
        self.misses += 1
        self.until = until
        return position

    def _find(self, buffer: bytes, position: int, here: int, final: bool) -> tuple[int, int]:
        """The mark of the kept page near where it was expected from which the most bytes are the same
        as here (of the first few places where the next bytes are found); ``(-1, 0)`` if none."""
        probe = buffer[position : position + PROBE]
        if len(probe) < PROBE and not (final and probe):
            return -1, 0
        page = self.page
        expected = here + self.delta
        stop = expected + WINDOW + len(probe)
        found = page.source.find(probe, max(0, expected - WINDOW), stop)
        best, best_common = -1, 0
        for _ in range(8):
            if found < 0:
                break
            start = page.mark_at(found)
            if start >= 0:
                common = common_length(buffer, position, page.source, found)
                if common > best_common:
                    best, best_common = start, common
            found = page.source.find(probe, found + 1, stop)
        return best, best_common
