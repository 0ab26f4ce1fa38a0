"""Whether a visitor is new today, without keeping anything that identifies them past the day.

A visitor is a keyed hash (BLAKE2b) of their anonymised address (/24 or
/48, ``gateway.net.addresses``), browser family and site, under a salt made
at random for the day (``secrets.token_bytes``). Salt and hashes live in this
object only, in memory: never written to a file, table or log, and dropped
when the day changes, after which no hash can be linked to the next day's
or recomputed. The set of hashes is bounded (``MAX_SEEN``); once full, the
day's further visitors are no longer counted as new. The hashes of the last
``RECENT`` visitors are kept at hand with what they hash (an anonymised
address, a browser family, a site), so a visitor's next pages cost a lookup;
those go with the day too.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from hashlib import blake2b

MAX_SEEN = 500_000  # visitors remembered per day and worker (8-byte hashes)
RECENT = 4096  # recent visitors whose hash is kept at hand (dropped with the day, or when full)
DAY = 86_400  # seconds


class DayVisitors:
    """The visitors seen today, as keyed hashes; ``clock`` gives the time as ``time.time`` does."""

    __slots__ = ("_digests", "_keyed", "_salt", "_seen", "clock", "day", "ends")

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.start_day(clock())

    def __repr__(self) -> str:  # never the salt
        return f"<DayVisitors {self.day} ({len(self._seen)} seen)>"

    def start_day(self, now: float) -> None:
        """A new day: a new salt, and nobody seen; the old salt and hashes are dropped."""
        self.day: date = datetime.fromtimestamp(now, UTC).date()
        self.ends = (now // DAY + 1) * DAY
        self._salt = secrets.token_bytes(32)
        self._keyed = blake2b(key=self._salt, digest_size=8)  # copied per visit: the key is hashed in once
        self._seen: set[bytes] = set()
        # The day's last few visitors with their hashes: a visitor's next pages cost a lookup, not a hash.
        self._digests: dict[bytes, bytes] = {}

    def is_new(self, visitor: bytes) -> bool:
        """Is this the visitor's first page today (on this worker)? Remembers them when it is.

        ``visitor`` is the anonymised address, browser family and site, joined by newlines."""
        digest = self._digests.get(visitor)
        if digest is None:
            keyed = self._keyed.copy()
            keyed.update(visitor)
            digest = keyed.digest()
            if len(self._digests) >= RECENT:
                self._digests.clear()
            self._digests[visitor] = digest
        seen = self._seen
        if digest in seen or len(seen) >= MAX_SEEN:
            return False
        seen.add(digest)
        return True
