"""Which service an inline script belongs to, found by the signatures its code carries.

A page's inline scripts are often unique to the request (a session key, a
CSRF token, a timestamp in a config object), so no memo answers for them,
and asking each of the catalogue's hundreds of signatures in turn costs
about 30 microseconds even for a one-line script.

Instead the code is sampled: the four characters at every fourth position.
A signature that occurs in the code covers at least ``(length - 3) // 4``
of those samples, each of them one of its own four-character pieces. So
every piece of every signature points back to the signatures holding it,
the samples of the code count how often each signature is pointed to, and
only a signature pointed to often enough can occur and is looked for, in
the catalogue's order (longest first). The answer is the one asking every
signature in turn would give; signatures too short to be sure of a sample
are always looked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Generic, TypeVar

PIECE = 4  # characters per sample
STRIDE = 4  # a sample at every STRIDE-th position of the code

Owner = TypeVar("Owner")


def normalise(code: str) -> str:
    """Quotes are one kind and white space does not count: ``fbq("init"`` and ``fbq( 'init'`` are one signature.

    (Chained replacements: ``str.translate`` is several times slower, most of all on non-ASCII code.)
    """
    code = code.replace('"', "'").replace(" ", "").replace("\n", "").replace("\t", "")
    return code.replace("\r", "").replace("\f", "").replace("\v", "")


def samples_needed(length: int) -> int:
    """How many samples of the code a signature of ``length`` characters covers at least, wherever it is."""
    return max(0, length - PIECE + 1) // STRIDE


class InlineSignatures(Generic[Owner]):
    """Signatures (already normalised) with their owners, searched longest first."""

    def __init__(self, signatures: Iterable[tuple[str, Owner]]) -> None:
        self._ordered: tuple[tuple[str, Owner], ...] = tuple(sorted(signatures, key=lambda pair: -len(pair[0])))
        self._needed = tuple(samples_needed(len(signature)) for signature, _ in self._ordered)
        self._always = tuple(index for index, needed in enumerate(self._needed) if needed == 0)
        holders: dict[str, set[int]] = {}
        for index, (signature, _) in enumerate(self._ordered):
            if self._needed[index]:
                for start in range(len(signature) - PIECE + 1):
                    holders.setdefault(signature[start : start + PIECE], set()).add(index)
        self._holders = {piece: tuple(sorted(indices)) for piece, indices in holders.items()}

    def __len__(self) -> int:
        return len(self._ordered)

    def find(self, code: str) -> Owner | None:
        """The owner of the first signature (longest first) that occurs in ``code``."""
        normalised = normalise(code)
        hits: list[int] = []  # counted once at the end: Counter.update per piece cost more than the look-ups
        gather = hits.extend
        holders = self._holders.get
        for start in range(0, len(normalised) - PIECE + 1, STRIDE):
            indices = holders(normalised[start : start + PIECE])
            if indices is not None:
                gather(indices)
        pointed = Counter(hits)
        needed = self._needed
        candidates = [index for index, count in pointed.items() if count >= needed[index]]
        candidates.extend(self._always)
        candidates.sort()
        for index in candidates:
            signature, owner = self._ordered[index]
            if signature in normalised:
                return owner
        return None
