"""Content-Encoding on the way through: decode compressed HTML, rewrite, encode it again.

Decoding is bounded: a response may decode to at most ``limit`` bytes in all.
A compressed body is inflated in steps that never produce more than what is
left of the limit, so a gzip or brotli bomb (1 MB that inflates to 1 GiB)
costs at most the limit in memory before ``PageTooLarge`` is raised.
"""

from __future__ import annotations

import functools
import zlib

import brotli

SUPPORTED = frozenset({"gzip", "x-gzip", "deflate", "br", "identity", ""})


class PageTooLarge(ValueError):
    """The page decodes to more than the limit (``max_page_size``)."""


class Transcoder:
    """Streaming decoder and encoder for one ``Content-Encoding``."""

    def __init__(self, encoding: str, limit: int = 32 * 1024 * 1024) -> None:
        self.limit = limit
        self.decoded = 0  # bytes decoded so far
        self.encoding = encoding.strip().lower()
        if self.encoding not in SUPPORTED:
            raise ValueError(f"unsupported content-encoding {encoding!r}")
        if self.encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
            self._encoder = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        elif self.encoding == "deflate":
            self._decoder = None  # zlib-wrapped or raw: decided on the first bytes
            self._encoder = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS)
        elif self.encoding == "br":
            self._decoder = brotli.Decompressor()
            self._encoder = brotli.Compressor(quality=5)
        self.identity = self.encoding in ("identity", "")

    def decode(self, data: bytes) -> bytes:
        """Raises ``ValueError`` on a corrupt body, ``PageTooLarge`` past the limit."""
        if not data:
            return data
        room = self.limit - self.decoded
        # One byte more than fits tells "too large".
        decoded = data if self.identity else self._inflate(data, room + 1)
        self.decoded += len(decoded)
        if len(decoded) > room:
            raise PageTooLarge(f"the page decodes to more than {self.limit} bytes")
        return decoded

    def _inflate(self, data: bytes, most: int) -> bytes:
        """At most ``most`` bytes of ``data`` decoded; input left over is dropped (the page is refused then)."""
        try:
            if self.encoding == "br":
                return self._decoder.process(data, output_buffer_limit=most)
            if self._decoder is None:
                # RFC 9110 deflate is zlib-wrapped, but some servers send raw deflate.
                wrapped = len(data) < 2 or ((data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0)
                self._decoder = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            return self._decoder.decompress(data, most)
        except (zlib.error, brotli.error) as error:
            raise ValueError(f"corrupt {self.encoding} body: {error}") from None

    def encode(self, data: bytes, final: bool = False) -> bytes:
        if self.identity:
            return data
        if self.encoding == "br":
            return self._encoder.process(data) + (self._encoder.finish() if final else self._encoder.flush())
        return self._encoder.compress(data) + self._encoder.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)


@functools.lru_cache(maxsize=256)
def readable_encodings(accept_encoding: bytes) -> bytes:
    """``Accept-Encoding`` narrowed to what the rewriter can read, so no page slips through unread."""
    codings = [c for c in accept_encoding.decode("latin-1").split(",") if c.split(";")[0].strip().lower() in SUPPORTED]
    return ",".join(codings).strip().encode("latin-1") or b"identity"
