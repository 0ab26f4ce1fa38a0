"""Streaming HTML rewriter: nothing on a page contacts a held third party before consent.

The scanner works on bytes of any ASCII-compatible charset. One possessive
regular expression swallows long runs of text and tags that load nothing
(quoted attribute values included, so ``<div title="<script>">`` is no
script), and Python only looks at the tags that can make the browser fetch
something, at tags with a ``(`` in their attributes (a ``style`` with
``url()``), and at ``<style>`` blocks that could. Every URL found there is
judged by ``gateway.trackers.thirdparty`` after resolving it as the browser would
(against ``<base href>`` and the page's own URL). Bytes outside the tags it
changes are passed through unchanged, and any chunking of the input gives
the same output as the whole body at once.

Where the scanner and a browser could read markup differently, the scanner
errs towards reading more as markup, never less: inside ``<svg>`` and
``<math>`` nothing is raw text, CDATA counts only as a bogus comment, and a
comment ends at ``--!>`` as well as ``-->``.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.net.urls import Target, resolve
from gateway.pages.echo import PageEchoes, Recording, Replay
from gateway.pages.sightings import BY_FETCH, Seen, element_kind
from gateway.pages.styles import may_fetch, neutralise, replace_urls

try:  # the compiled scanner (``hatch_build.py``); without it the regular expression does the same
    from gateway.pages.scanner import COMPILED as SCANNER_COMPILED
    from gateway.pages.scanner import end_tag_at, plain_end, remembered_run, start_tag
except ImportError:  # not compiled, and no Cython to run its source
    SCANNER_COMPILED = False
from gateway.pages.tagmemo import MAX_REMEMBERED_SCRIPT, MAX_REMEMBERED_TAG, Context, Remembered, TagMemo
from gateway.trackers.catalogue import Service
from gateway.trackers.thirdparty import (
    GENERIC_BEACON_CATEGORY,
    OTHER_CATEGORY,
    UNKNOWN_SERVICE,
    WEB_BEACON,
    Hold,
    ThirdParties,
)

# Decisions about inline scripts look at this much of the body, whatever the chunking.
INLINE_SCAN_LIMIT = 64 * 1024
# A <style> block up to this size is held as a whole when it must be (a stand-in plus the original, inert).
STYLE_SCAN_LIMIT = 512 * 1024
# A larger one is neutralised in pieces that end at a "}" and are at most this long.
STYLE_PIECE = 64 * 1024
# A start tag is read whole up to this size (inline images as data: URLs can be large);
# a longer one is made inert by its name alone (``Rewriter._oversized``).
MAX_TAG = 1024 * 1024
_TAG_NAME = re.compile(rb"<([a-zA-Z][^\s/>]*+)")

# Attributes as the HTML tokenizer reads them: a quote opens a value only right after "=".
# Written as an unrolled loop (run, then "=value run" pairs): the regex engine tries fewer alternatives.
_ATTRS = rb"[^>=]*+(?:=\s*+(?:\"[^\"]*+\"|'[^']*+'|(?=[^\"'])[^\s>]*+)[^>=]*+)*+"
# The same for tags passed over without a look: no "(" anywhere, so no style="...url(...)".
_PLAIN_ATTRS = rb"[^>=(]*+(?:=\s*+(?:\"[^\"(]*+\"|'[^'(]*+'|(?=[^\"'])[^\s>(]*+)[^>=(]*+)*+"
_INTERESTING_NAMES = (
    b"script style textarea title xmp iframe img link head plaintext noembed noframes frame source video "
    b"audio track object embed input image use feimage meta base svg math"
).split()
_INTERESTING = b"|".join(_INTERESTING_NAMES)
_NOT_INTERESTING = rb"(?!(?i:" + _INTERESTING + rb")[\s/>])"
_FIRST_LETTERS = bytes(sorted({c for name in _INTERESTING_NAMES for c in name[:1].lower() + name[:1].upper()}))
_COMMENT = rb"<!--(?:-?>|(?:[^-]++|-(?!-!?>))*+--!?>)"

# Raw-text elements the rewriter never changes, passed over whole when they are complete and
# could not fetch anything (a <style> without "(", "@" or "\" in it fetches nothing).
_PLAIN_RAW_TEXT = b"".join(
    rb"|(?i:" + name + rb")(?=[\s/>])" + _PLAIN_ATTRS + rb">(?:" + content + rb"|<(?!/(?i:" + name + rb")[\s/>]))*+"
    rb"</(?i:" + name + rb")(?=[\s/>])"
    for name, content in ((rb"style", rb"[^<(@\\]++"), (rb"title", rb"[^<]++"), (rb"textarea", rb"[^<]++"))
)


def _bulk(raw_text: bytes) -> re.Pattern[bytes]:
    # Alternatives ordered by how often they occur; tags whose first letter starts no
    # interesting name skip the (costlier) name check. The loop is unrolled (text, then
    # "<construct text" pairs) and the "<" is matched once for all constructs.
    return re.compile(
        rb"[^<]*+(?:<(?:/(?!(?i:svg|math)[\s/>])[a-zA-Z]" + _ATTRS + rb">"
        rb"|(?![" + _FIRST_LETTERS + rb"])[a-zA-Z]" + _PLAIN_ATTRS + rb">"
        rb"|"
        + _NOT_INTERESTING
        + rb"[a-zA-Z]"
        + _PLAIN_ATTRS
        + rb">"
        + raw_text
        + rb"|"
        + _COMMENT[1:]
        + rb"|[!?](?!--)[^>]*+>|/(?![a-zA-Z])[^>]*+>"
        rb"|(?=[^a-zA-Z!/?]))[^<]*+)*+"
    )


BULK = _bulk(_PLAIN_RAW_TEXT)
BULK_FOREIGN = _bulk(b"")  # inside <svg> and <math>: no raw text at all
START_TAG = re.compile(rb"<([a-zA-Z][^\s/>]*+)(" + _ATTRS + rb")>")
ATTRIBUTE = re.compile(rb"([\s/]*+)([^\s/>][^\s/>=]*+)(?:(\s*+=\s*+)(\"[^\"]*+\"|'[^']*+'|[^\s>]++))?+")
ATTRIBUTE_VALUES = re.compile(rb"[\s/]*+([^\s/>][^\s/>=]*+)(?:\s*+=\s*+(\"[^\"]*+\"|'[^']*+'|[^\s>]++))?+")
COMMENT = re.compile(_COMMENT)
END_TAG = re.compile(rb"</([a-zA-Z][^\s/>]*+)" + _ATTRS + rb">")
BOGUS = re.compile(rb"<(?:[!?](?!--)|/(?![a-zA-Z]))[^>]*+>")
COMPLETE_CONSTRUCTS = (COMMENT, END_TAG, BOGUS)
# Enough bytes after "<!--" to tell "<!-->" and "<!--->" from a long comment.
OPENER_LOOKAHEAD = 6
COMMENT_OPENER = b"<!--"
# Bytes that make a tag's URLs worth a look: an absolute or protocol-relative URL, a backslash,
# a scheme ("https:host"), an entity, or a "(" (CSS). Without them every URL in it is same-host.
SUSPECT = re.compile(rb"[/\\][\t\n\r]*+[/\\]|[&\\:(]")

# "<script" and "</script" in CSS kept inside a <script>: "<\script" reads the same in CSS and ends nothing in HTML.
SCRIPT_IN_TEXT = re.compile(rb"<(/?)(script)", re.IGNORECASE)
UNREADABLE = Target("https", "unreadable.invalid", "/", "")
RAW_TEXT = frozenset({b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes"})
FOREIGN = frozenset({b"svg", b"math"})
# Tags whose rewriting reads more than the tag and the memo's context (``gateway.pages.tagmemo``).
UNREMEMBERED = frozenset({b"base", b"html", b"head", b"style"})
# Start tags whose effect reaches past their own bytes (state, raw text, foreign content): the
# compiled pass over remembered tags (``scanner.remembered_run``) hands them back; scripts it handles.
HANDED_BACK = UNREMEMBERED | (RAW_TEXT - {b"script"}) | FOREIGN | {b"plaintext"}
SCRIPT_URL_ATTRIBUTES = (b"src", b"href", b"xlink:href")
JS_TYPES = frozenset(
    {
        "",
        "module",
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    }
)
TINY_SIZES = frozenset({"0", "1", "0px", "1px"})
# Where the gateway serves a URL of a font CDN (``gateway.fonts``), or None for any other URL.
FontUrls = Callable[[Target | None], str | None]
# Hints that only open a connection: to a font CDN served first-party they would tell it the visitor's address.
CONNECTION_HINTS = frozenset({"preconnect", "dns-prefetch"})
HINT_RELS = frozenset({"preconnect", "dns-prefetch", "preload", "prefetch", "modulepreload", "prerender"})
FETCHING_RELS = HINT_RELS | {"stylesheet", "icon", "shortcut", "apple-touch-icon", "mask-icon", "manifest"}
# Markup written for other consent managers: left for the banner when it is inert.
HAND_MARKED = (b"data-consent", b"data-category", b"data-name")
# Per element: the attributes that make the browser fetch, what kind of fetch, and whether they list URLs.
URL_ATTRIBUTES: dict[bytes, tuple[tuple[bytes, str, bool], ...]] = {
    b"img": ((b"src", "image", False), (b"srcset", "image", True)),
    b"image": ((b"src", "image", False), (b"href", "image", False), (b"xlink:href", "image", False)),
    b"source": ((b"src", "other", False), (b"srcset", "image", True)),
    b"iframe": ((b"src", "frame", False),),
    b"frame": ((b"src", "frame", False),),
    b"link": ((b"href", "other", False), (b"imagesrcset", "image", True)),
    b"video": ((b"src", "other", False), (b"poster", "image", False)),
    b"audio": ((b"src", "other", False),),
    b"track": ((b"src", "other", False),),
    b"object": ((b"data", "frame", False),),
    b"embed": ((b"src", "frame", False),),
    b"input": ((b"src", "image", False),),
    b"use": ((b"href", "other", False), (b"xlink:href", "other", False)),
    b"feimage": ((b"href", "image", False), (b"xlink:href", "image", False)),
}
# Discovery's kind per element and URL attribute; "" for a <link href>, whose relations say what it loads.
ELEMENT_KINDS = {
    (name, attribute): "" if (name, attribute) == (b"link", b"href") else element_kind(name, attribute, kind)
    for name, attributes in URL_ATTRIBUTES.items()
    for attribute, kind, _ in attributes
}
SVG_SCRIPT_ATTRIBUTES = ((b"href", "script", False), (b"xlink:href", "script", False))
REFRESH_URL = re.compile(r"\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(.*)", re.IGNORECASE | re.DOTALL)


def encode_value(text: str) -> bytes:
    """Text for an attribute value in a page of any ASCII-compatible charset: bytes that were not
    UTF-8 go back as they came (``surrogateescape``), other non-ASCII characters as references."""
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        pass
    out = bytearray()
    for character in text:
        code = ord(character)
        if code < 0x80:
            out.append(code)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(code - 0xDC00)
        else:
            out += b"&#%d;" % code
    return bytes(out)


def held_name(attribute: bytes) -> bytes:
    """Where a held attribute's value waits: ``src`` in ``data-consent-src``,
    ``xlink:href`` in ``data-consent-xlink-href``."""
    return b"data-consent-" + attribute.replace(b":", b"-")


@functools.lru_cache(maxsize=2048)
def quoted_value(value: str) -> bytes:
    """``value`` escaped and quoted for an attribute. Kept: pages set the same few values again and
    again (categories, service ids, text/plain, placeholders)."""
    return b'"' + encode_value(html.escape(value, quote=True)) + b'"'


class Tag:
    """A start tag; its attributes are read lazily and only re-serialised when something changes."""

    def __init__(self, name: bytes, attributes: bytes) -> None:
        self.name = name
        self.attributes = attributes
        self.raw_values: dict[bytes, bytes] = {}
        for attribute, value in reversed(ATTRIBUTE_VALUES.findall(attributes)):
            self.raw_values[attribute.lower()] = value  # the first occurrence wins, as in browsers
        self.parsed: list[list[bytes]] | None = None
        self.changed = False
        self.holds: list[Hold] = []

    def get(self, name: bytes) -> str | None:
        raw = self.raw_values.get(name)
        if raw is None:
            return None
        text = (raw[1:-1] if raw[:1] in (b'"', b"'") else raw).decode("utf-8", "surrogateescape")
        return html.unescape(text) if "&" in text else text

    def has(self, name: bytes) -> bool:
        return name in self.raw_values

    def has_any(self, names: tuple[bytes, ...]) -> bool:
        return not self.raw_values.keys().isdisjoint(names)

    @property
    def parts(self) -> list[list[bytes]]:
        """[leading, name, equals, value] per attribute, parsed on first change."""
        if self.parsed is None:
            self.parsed = [list(m.groups(b"")) for m in ATTRIBUTE.finditer(self.attributes)]
            consumed = sum(len(b"".join(part)) for part in self.parsed)
            self.tail = self.attributes[consumed:]
        return self.parsed

    def rename(self, old: bytes, new: bytes) -> None:
        """Every occurrence of ``old`` (a repeated attribute too) is renamed; a browser reads only the first."""
        for part in self.parts:
            if part[1].lower() == old:
                part[1] = new
                self.changed = True
        if old in self.raw_values:
            self.raw_values[new] = self.raw_values.pop(old)

    def set(self, name: bytes, value: str) -> None:
        quoted = quoted_value(value)
        for part in self.parts:
            if part[1].lower() == name:
                part[2], part[3] = b"=", quoted
                break
        else:
            self.parts.append([b" ", name, b"=", quoted])
        self.raw_values[name] = quoted
        self.changed = True

    def hold(self, attribute: bytes, hold: Hold) -> None:
        """Move ``attribute`` out of the browser's reach and note what it waits for."""
        self.rename(attribute, held_name(attribute))
        self.holds.append(hold)

    def mark(self) -> None:
        """Say on the element what it waits for: every category its held URLs need, the first service."""
        categories = " ".join(dict.fromkeys(hold.category for hold in self.holds))
        self.set(b"data-consent", categories)
        service = next((hold.service for hold in self.holds if hold.service is not None), None)
        if service is not None:
            self.set(b"data-consent-service", service.id)

    def to_bytes(self) -> bytes:
        if not self.changed:
            return b"<" + self.name + self.attributes + b">"
        attributes = b"".join(b"".join(part) for part in self.parts)
        return b"<" + self.name + attributes + self.tail + b">"


@dataclass
class RewritePolicy:
    """What one response may carry: the blocking rules, what is granted, the page's URL, what goes into <head>."""

    third_parties: ThirdParties
    granted: frozenset[str]
    site_host: str = ""
    head_injection: bytes = b""
    # The srcdoc shown in a held frame, given the catalogued service or, for an unknown one, its host,
    # and the page's language (``<html lang>``, None when it has none).
    placeholder: Callable[[Service | str, str | None], str] | None = None
    blocked: list[str] = field(default_factory=list)  # what was neutralised (service ids, "unknown", "web-beacon")
    first_party: Callable[[str], str | None] | None = None  # a catalogued script's URL on the gateway, if any
    page_url: str = ""  # the page's own absolute URL; https://<site_host>/ when not given
    fonts: FontUrls | None = None  # None: font CDNs are judged like any other third party
    # Every host the page loads, for discovery (``third_parties_seen``); None: not collected.
    sightings: set[Seen] | None = None
    # Rewritten start tags of earlier pages under the same rules; None: every tag is decided afresh.
    memo: TagMemo | None = None
    # The last rewrite of each page URL, whose unchanged stretches are copied (with ``memo`` only).
    echoes: PageEchoes | None = None

    def __post_init__(self) -> None:
        self.site_host = self.site_host.rpartition(":")[0] if self.site_host.count(":") == 1 else self.site_host
        self.site_host = (
            self.site_host.strip("[]").lower() if self.site_host.startswith("[") else self.site_host.lower()
        )
        if not self.page_url:
            self.page_url = f"https://{self.site_host or 'localhost'}/"

    def allows(self, category: str) -> bool:
        return category in self.granted

    def third_parties_seen(self) -> frozenset[Seen]:
        """The third parties the page loads with their services, from what the rewriter noted."""
        if not self.sightings:
            return frozenset()
        return self.third_parties.third_parties_of(self.site_host, frozenset(self.sightings))


class Rewriter:
    """Feed body chunks in, get rewritten bytes out; call ``finish`` after the last chunk."""

    def __init__(self, policy: RewritePolicy) -> None:
        self.policy = policy
        self.judge = policy.third_parties.judge
        self.buffer = b""
        self.raw_end: bytes | None = None  # inside a raw-text element, looking for this end tag
        self.css_stream = False  # the raw text is a long <style> block, neutralised piece by piece
        self.plaintext = False
        self.foreign = 0  # depth of <svg> / <math>
        self.base = policy.page_url  # what relative URLs resolve against; <base href> changes it once
        self.base_set = False
        self.base_foreign = False  # relative URLs go to a host other than the page's own
        self.head_pending = bool(policy.head_injection)
        self.emitted = 0  # bytes returned so far
        self.injected_at: int | None = None  # where in the output the head injection starts, once placed
        self.sightings = policy.sightings
        self.language: str | None = None  # the page's <html lang>, for the placeholders of held frames
        self.memo = policy.memo
        self.markers = _lowered(policy.third_parties.catalogue.path_markers)
        self.context: Context | None = None
        self.remembered = self._remembered()
        self.consumed = 0  # where in the page ``buffer`` starts
        self.copied = 0  # bytes of the page copied from its last rewrite (``gateway.pages.echo``)
        self.recording: Recording | None = None
        self.replay: Replay | None = None
        self.echo_key = (policy.page_url, policy.granted)
        if policy.echoes is not None and self.remembered is not None and SCANNER_COMPILED:
            kept = policy.echoes.get(self.echo_key)
            if kept is not None:
                self.replay = Replay(kept)
            elif policy.echoes.may_record(self.echo_key):
                self.recording = Recording()

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        if self.recording is not None and not self.recording.take(data):
            self._forgo_recording()  # too large to keep: nothing of it is held
        return self._run(final=False)

    def finish(self) -> bytes:
        return self._run(final=True)

    def _run(self, final: bool) -> bytes:
        buffer, out, position = self.buffer, [], 0
        size = len(buffer)
        view = memoryview(buffer)  # unchanged runs are joined from the view: one copy fewer
        while position < size:
            if self.plaintext:
                out.append(buffer[position:])
                position = size
                break
            if self.raw_end is not None:
                position, done = self._skip_raw_text(buffer, position, out, final)
                if not done:
                    break
                continue
            if self.head_pending:
                step = self._before_head(buffer, position, out, final)
            else:
                if SCANNER_COMPILED and self.remembered is not None and not self.foreign:
                    # Plain stretches and remembered tags in C, up to the first tag to look at here.
                    if self.replay is not None:
                        position = self._replayed_run(self.replay, buffer, position, out, final)
                    elif self.recording is not None:
                        position = self._recorded_run(self.recording, buffer, position, out)
                    else:
                        position = self._compiled_pass(buffer, position, out)
                else:
                    if SCANNER_COMPILED:
                        end = plain_end(buffer, position, self.foreign > 0)
                    else:
                        end = (BULK_FOREIGN if self.foreign else BULK).match(buffer, position).end()
                    if end > position:
                        out.append(view[position:end])
                        position = end
                if position == size:
                    break
                step = self._interesting(buffer, position, out, final)
            if step is None:  # needs more input
                break
            position = step
        self.buffer = buffer[position:]
        self.consumed += position
        if final:
            if self.buffer:
                out.append(self.buffer)
                self.consumed += len(self.buffer)
                self.buffer = b""
            if self.head_pending:  # a document with no element at all: the banner goes at its end
                self._inject(out)
        result = b"".join(out)
        self.emitted += len(result)
        if self.recording is not None:
            self.recording.outputs.append(result)
        if final and (self.recording is not None or self.replay is not None):
            self._echo_done()
        return result

    def _compiled_pass(
        self,
        buffer: bytes,
        position: int,
        out: list[bytes],
        until: int = -1,
        recording: Recording | None = None,
        written: int = 0,
    ) -> int:
        """``scanner.remembered_run`` from ``position`` with this page's table, lists and markers
        (none when relative URLs lead off the host): up to ``until``, noting marks in ``recording``."""
        return remembered_run(
            buffer,
            position,
            self.remembered,
            out,
            HANDED_BACK,
            MAX_REMEMBERED_TAG,
            MAX_REMEMBERED_SCRIPT,
            self.policy.blocked,
            self.sightings,
            until,
            None if recording is None else recording.marks,
            None if recording is None else recording.seens,
            self.consumed,
            written,
            0 if recording is None else recording.segment,
            None if self.base_foreign else self.markers,
        )

    # --- the page's last rewrite (``gateway.pages.echo``) ----------------------------------------

    def _recorded_run(self, recording: Recording, buffer: bytes, position: int, out: list[bytes]) -> int:
        """The compiled pass, noting its marks for the pages that follow."""
        if self.context is None or not recording.follows(self.context):
            return self._compiled_pass(buffer, position, out)
        position = self._compiled_pass(
            buffer, position, out, -1, recording, recording.written_before(out, self.emitted)
        )
        recording.ran(out)
        return position

    def _replayed_run(self, replay: Replay, buffer: bytes, position: int, out: list[bytes], final: bool) -> int:
        """Copy from the kept page and read what differs, in turns, up to a tag the rewriter must read."""
        assert self.context is not None
        blocked, size = self.policy.blocked, len(buffer)
        replay.turns += 1
        while True:
            position = replay.copy(buffer, position, self.consumed, out, blocked, self.sightings, self.context, final)
            until = replay.until
            position = self._compiled_pass(buffer, position, out, until)
            if until < 0 or position < until or position >= size:
                return position

    def _forgo_recording(self) -> None:
        assert self.policy.echoes is not None
        self.policy.echoes.recorded(self.echo_key)
        self.recording = None

    def _echo_done(self) -> None:
        """Keep this page for the next, or drop a kept page that no longer matches."""
        echoes, key = self.policy.echoes, self.echo_key
        assert echoes is not None
        if self.recording is not None:
            page = self.recording.page(self.policy.blocked)
            if page is not None:
                echoes.put(key, page)
            echoes.recorded(key)
            self.recording = None
        elif self.replay is not None:
            self.copied = self.replay.copied
            if not self.replay.worth_keeping(self.consumed):
                echoes.forget(key, self.replay.page)
            self.replay = None

    # --- raw text and the banner's place ------------------------------------------------------

    def _skip_raw_text(self, buffer: bytes, position: int, out: list[bytes], final: bool) -> tuple[int, bool]:
        end_tag = self.raw_end or b""
        found = _find_end(buffer, end_tag, position)
        if self.css_stream:
            return self._stream_css(buffer, position, found, out, final)
        if found >= 0:
            out.append(buffer[position:found])
            self.raw_end = None
            return found, True
        keep = 0 if final else len(end_tag) + 1
        stop = max(position, len(buffer) - keep)
        out.append(buffer[position:stop])
        return stop, final

    def _before_head(self, buffer: bytes, position: int, out: list[bytes], final: bool) -> int | None:
        """Until the banner is placed, walk construct by construct: it goes right after <head>, or
        before the first element that is not <html> when the document has no <head> before it."""
        start = buffer.find(b"<", position)
        if start < 0:
            out.append(buffer[position:])
            return len(buffer)
        if start > position:
            out.append(buffer[position:start])
            return start
        for pattern in COMPLETE_CONSTRUCTS:
            match = pattern.match(buffer, start)
            if match:
                out.append(match.group())
                return match.end()
        if buffer.startswith(COMMENT_OPENER, start):
            return self._stream_comment(buffer, start, out, final)
        match = START_TAG.match(buffer, start)
        if match is None:
            return self._incomplete(buffer, start, out, final)
        name = match.group(1).lower()
        if name == b"html":
            return self._interesting(buffer, start, out, final)
        if name == b"head":
            end = self._interesting(buffer, start, out, final)
            self._inject(out)
            return end
        # Chosen place when no <head> comes first (markup or a script before <html>, a page without
        # <head>, a fragment): right before the first element other than <html>. The browser puts
        # what comes there into <head> or <body> by itself, the banner's scripts run from either,
        # and they still come before any tag of the page that could need the Consent Mode default.
        self._inject(out)
        return start

    def _inject(self, out: list[bytes]) -> None:
        self.head_pending = False
        self.injected_at = self.emitted + sum(map(len, out))
        out.append(self.policy.head_injection)

    def _stream_comment(self, buffer: bytes, start: int, out: list[bytes], final: bool) -> int | None:
        """An unterminated comment is passed on as it comes, not held."""
        if final or len(buffer) - start >= len(COMMENT_OPENER) + OPENER_LOOKAHEAD:
            out.append(COMMENT_OPENER)
            self.raw_end = b"-->"
            return start + len(COMMENT_OPENER)
        return None

    def _incomplete(self, buffer: bytes, start: int, out: list[bytes], final: bool) -> int | None:
        """A "<" that starts no complete construct yet: wait for more, or decide at the end.

        At the end of the document a tag that never closes (an unterminated
        quote, say) runs to the end, as in the browser's tokenizer: what
        follows it is no markup, so nothing in it is fetched.
        """
        if len(buffer) - start < MAX_TAG and _may_complete(buffer, start):
            if not final:
                return None
            out.append(buffer[start:])
            return len(buffer)
        name = _TAG_NAME.match(buffer, start)
        if name is not None and len(buffer) - start >= MAX_TAG:
            return self._oversized(name, out)
        out.append(b"<")
        return start + 1

    def _oversized(self, name: re.Match[bytes], out: list[bytes]) -> int:
        """A start tag too long to read: an element that loads things is made inert by what comes
        first (a browser reads the first of repeated attributes), the rest streams on as it is."""
        lowered = name.group(1).lower()
        if lowered == b"script":
            out.append(name.group() + b' type="text/plain" data-consent="' + OTHER_CATEGORY.encode() + b'"')
            self.policy.blocked.append(UNKNOWN_SERVICE)
        elif lowered in URL_ATTRIBUTES or lowered in (b"base", b"meta"):
            out.append(b"<cg-held-" + name.group(1))  # an unknown element fetches nothing
            self.policy.blocked.append(UNKNOWN_SERVICE)
        else:
            out.append(name.group())
        return name.end()

    # --- tags -----------------------------------------------------------------------------------

    def _interesting(self, buffer: bytes, position: int, out: list[bytes], final: bool) -> int | None:
        match: re.Match[bytes] | None = None
        if SCANNER_COMPILED:  # the tag's bounds from C; the match object only when the tag is rewritten
            name_end, end = start_tag(buffer, position)
            if end < 0:
                return self._not_a_start_tag(buffer, position, out, final)
            name = buffer[position + 1 : name_end].lower()
            attributes = buffer[name_end : end - 1]
        else:
            match = START_TAG.match(buffer, position)
            if match is None:
                return self._not_a_start_tag(buffer, position, out, final)
            end = match.end()
            name = match.group(1).lower()
            attributes = match.group(2)
        if name in FOREIGN and not attributes.rstrip().endswith(b"/"):
            self.foreign += 1
        remembered_tags = self.remembered
        if remembered_tags is None or name in UNREMEMBERED or len(attributes) > MAX_REMEMBERED_TAG:
            return self._start_tag(name, match or START_TAG.match(buffer, position), buffer, out, final)
        inline = name == b"script" and not _may_name_url(attributes)
        if inline:  # its body decides: the body is part of the key
            body_end = _find_end(buffer, b"</script", end, end + MAX_REMEMBERED_SCRIPT)
            if body_end < 0:  # longer, or not all here yet
                return self._start_tag(name, match or START_TAG.match(buffer, position), buffer, out, final)
            key = buffer[position:body_end]
        else:
            key = buffer[position:end]
        remembered = remembered_tags.get(key)
        if remembered is None:
            return self._remember(key, name, match or START_TAG.match(buffer, position), buffer, out, final, inline)
        out.append(remembered.output)
        if remembered.blocked:
            self.policy.blocked.extend(remembered.blocked)
        if remembered.seen and self.sightings is not None:
            self.sightings.update(remembered.seen)
        if inline and not self.foreign:  # its body, found for the key, is passed on as it is
            out.append(buffer[end:body_end])
            return body_end
        self._enter(name)
        return end

    def _remember(
        self,
        key: bytes,
        name: bytes,
        match: re.Match[bytes],
        buffer: bytes,
        out: list[bytes],
        final: bool,
        inline: bool,
    ) -> int | None:
        """Rewrite a start tag, noting what it does to the page for the memo (``inline``: a script
        whose body is in the key)."""
        blocked = len(self.policy.blocked)
        written = len(out)
        noted, self.sightings = self.sightings, (set() if self.sightings is not None else None)
        try:
            step = self._start_tag(name, match, buffer, out, final)
        finally:
            seen, self.sightings = self.sightings, noted
        if seen and noted is not None:
            noted.update(seen)
        if not inline and name == b"script" and not Tag(b"script", match.group(2)).has_any(SCRIPT_URL_ATTRIBUTES):
            return step  # "data-src" looked like a URL, but its body decides and is not in the key
        if step == match.end() and self.memo is not None and self.remembered is not None:
            output = b"".join(out[written:])
            self.memo.put(
                self.remembered, key, Remembered(output, tuple(self.policy.blocked[blocked:]), frozenset(seen or ()))
            )
        return step

    def _start_tag(
        self, name: bytes, match: re.Match[bytes], buffer: bytes, out: list[bytes], final: bool
    ) -> int | None:
        raw_name, attributes = match.groups()
        if name == b"script":
            return self._script(Tag(raw_name, attributes), buffer, match.end(), out, final)
        if name == b"style":
            return self._style(Tag(raw_name, attributes), buffer, match.end(), out, final)
        if name == b"html" and self.language is None:
            self.language = Tag(raw_name, attributes).get(b"lang") or ""
            self.remembered = self._remembered()
        if not self._plainly_local(attributes):
            tag = Tag(raw_name, attributes)
            self._element(name, tag)
            if b"(" in attributes:
                self._style_attribute(tag)
            if tag.holds:
                tag.mark()
                self.policy.blocked.extend(hold.label for hold in tag.holds)
                if name == b"iframe" and (tag.has(b"data-consent-src") or tag.has(b"data-consent-srcdoc")):
                    self._placeholder(tag)
            out.append(tag.to_bytes() if tag.changed else match.group())
        else:
            out.append(match.group())
        self._enter(name)
        return match.end()

    def _enter(self, name: bytes) -> None:
        """After a start tag: raw text or plain text may follow."""
        if name in RAW_TEXT and not self.foreign:
            self.raw_end = b"</" + name
        elif name == b"plaintext" and not self.foreign:
            self.plaintext = True

    def _remembered(self) -> dict[bytes, Remembered] | None:
        """The memo's table for what this page's tags are rewritten in, as far as it is known yet."""
        if self.memo is None:
            return None
        policy = self.policy
        context: Context = (
            policy.granted,
            policy.site_host,
            policy.page_url,
            self.base,
            self.language,
            self.sightings is not None,
        )
        self.context = context
        return self.memo.entries(context)

    def _not_a_start_tag(self, buffer: bytes, position: int, out: list[bytes], final: bool) -> int | None:
        end = END_TAG.match(buffer, position)
        if end is not None:  # </svg> or </math>, which the bulk pattern leaves to us
            if end.group(1).lower() in FOREIGN:
                self.foreign = max(0, self.foreign - 1)
            out.append(end.group())
            return end.end()
        if buffer.startswith(COMMENT_OPENER, position):
            return self._stream_comment(buffer, position, out, final)
        return self._incomplete(buffer, position, out, final)

    def _plainly_local(self, attributes: bytes) -> bool:
        """Every URL in these attributes stays on the page's own host and names no catalogued file."""
        if self.base_foreign or SUSPECT.search(attributes):
            return False
        if self.markers:  # a catalogued file's name (``matomo.js``) in any case
            lowered = attributes.lower()
            return not any(marker in lowered for marker in self.markers)
        return True

    def _held(self, url: str | None, kind: str, tiny: bool = False, seen: str = "") -> Hold | None:
        """What ``url`` waits for when that is not granted yet; ``None`` when it may load now.

        ``seen`` is the discovery kind of the element (``gateway.pages.sightings``), when it says
        more than ``kind``."""
        if not url:
            return None
        target = resolve(url, self.base)
        if target is None and not url.isascii():
            target = UNREADABLE  # a browser may read these bytes in another charset: assume another site
        hold = self.judge(target, kind, self.policy.site_host, tiny)
        notes = self.sightings
        # Discovery notes every host; which are third parties is worked out once per page.
        if notes is not None and target is not None and target is not UNREADABLE:
            service = hold.service if hold is not None else None
            notes.add((seen or BY_FETCH[kind], target.host, service.id if service is not None else None))
        return hold if hold is not None and hold.category not in self.policy.granted else None

    def _element(self, name: bytes, tag: Tag) -> None:
        if name == b"base":
            self._base(tag)
        elif name == b"meta":
            self._refresh(tag)
        elif name == b"iframe" and tag.has(b"srcdoc"):
            self._srcdoc(tag)
        if name == b"link" and not FETCHING_RELS.intersection((tag.get(b"rel") or "").lower().split()):
            return
        if name == b"link" and self.policy.fonts is not None:
            href = tag.get(b"href")
            seen = self._link_kind(tag, b"href", "other") if self.sightings is not None else ""
            if self._font_link(tag):
                target = resolve(href, self.base) if seen and href else None
                if target is not None and self.sightings is not None:  # served first-party, but the site uses the CDN
                    self.sightings.add((seen, target.host, None))
                return
        tiny = name == b"img" and tag.get(b"width") in TINY_SIZES and tag.get(b"height") in TINY_SIZES
        for attribute, kind, listed in URL_ATTRIBUTES.get(name, ()):
            value = tag.get(attribute)
            if value is None:
                continue
            seen = ""
            if self.sightings is not None:  # discovery: the kind of element, when its URL turns out third-party
                seen = "beacon" if tiny else ELEMENT_KINDS[name, attribute] or self._link_kind(tag, attribute, kind)
            hold = self._held_list(value, kind, seen) if listed else self._held(value, kind, tiny, seen)
            if hold is not None:
                if name == b"link" and attribute == b"href" and HINT_RELS.intersection(tag.get(b"rel").lower().split()):
                    tag.rename(b"rel", b"data-consent-rel")  # a hint keeps its href: without rel it does nothing
                    tag.holds.append(hold)
                else:
                    tag.hold(attribute, hold)

    def _font_link(self, tag: Tag) -> bool:
        """A link to a font CDN served first-party: a stylesheet or preload now points at the gateway, a
        connection hint is switched off (it would reach the CDN for nothing). True when it was one."""
        href = tag.get(b"href")
        local = self.policy.fonts(resolve(href, self.base)) if href and self.policy.fonts else None
        if local is None:
            return False
        if CONNECTION_HINTS.issuperset((tag.get(b"rel") or "").lower().split()):
            tag.rename(b"rel", b"data-first-party-rel")
        else:
            tag.set(b"href", local)
        return True

    def _fonts_in(self, css: str) -> str:
        """``css`` with its URLs on font CDNs pointed at the gateway (the same object when none is)."""
        fonts = self.policy.fonts
        if fonts is None:
            return css
        return replace_urls(css, lambda url: fonts(resolve(url, self.base))) or css

    def _held_list(self, value: str, kind: str, seen: str = "") -> Hold | None:
        first = None
        for url in srcset_urls(value):
            hold = self._held(url, kind, seen=seen)
            if hold is not None and first is None:
                first = hold
                if self.sightings is None:
                    break  # discovery wants every candidate's host; holding needs only the first
        return first

    @staticmethod
    def _link_kind(tag: Tag, attribute: bytes, kind: str) -> str:
        rel, preload_as = (tag.get(b"rel") or "").lower(), (tag.get(b"as") or "").strip().lower()
        return element_kind(b"link", attribute, kind, rel, preload_as)

    def _base(self, tag: Tag) -> None:
        """The first <base href> sets what later relative URLs resolve against, as in browsers."""
        href = tag.get(b"href")
        if self.base_set or href is None:
            return
        self.base_set = True
        target = resolve(href, self.base)
        if target is None:
            return
        self.base = target.href
        self.base_foreign = not self.policy.third_parties.is_same_site(target.host, self.policy.site_host)
        self.remembered = self._remembered()

    def _refresh(self, tag: Tag) -> None:
        if (tag.get(b"http-equiv") or "").strip().lower() != "refresh":
            return
        url = REFRESH_URL.match(tag.get(b"content") or "").group(1).strip()
        if url[:1] in ("'", '"'):
            url = url[1:].partition(url[0])[0]
        hold = self._held(url, "frame", seen="link")
        if hold is not None:
            tag.hold(b"http-equiv", hold)

    def _srcdoc(self, tag: Tag) -> None:
        """A frame's inline document loads what it names too: rewritten like a page, and held whole
        when anything in it has to wait."""
        srcdoc = tag.get(b"srcdoc") or ""
        inner = RewritePolicy(
            self.policy.third_parties,
            self.policy.granted,
            self.policy.site_host,
            page_url=self.base,
            sightings=self.sightings,  # what the inline document loads, the page loads
        )
        rewriter = Rewriter(inner)
        rewriter.feed(srcdoc.encode("utf-8", "surrogateescape"))
        rewriter.finish()
        if inner.blocked:
            tag.rename(b"srcdoc", b"data-consent-srcdoc")
            tag.holds.extend(self._holds_of(inner.blocked))

    def _holds_of(self, labels: list[str]) -> list[Hold]:
        """What a frame's inline document waits for: one hold per category its elements need."""
        catalogue, holds = self.policy.third_parties.catalogue, {}
        for label in labels:
            if label == UNKNOWN_SERVICE:
                hold = Hold(OTHER_CATEGORY)
            elif label == WEB_BEACON:
                hold = Hold(GENERIC_BEACON_CATEGORY)
            else:
                service = catalogue.service(label)
                hold = Hold(service.category, service)
            holds.setdefault(hold.category, hold)
        return list(holds.values())

    def _placeholder(self, tag: Tag) -> None:
        if self.policy.placeholder is None:
            return
        held: Service | str | None = tag.holds[0].service
        if held is None:
            target = resolve(tag.get(b"data-consent-src") or "", self.base)
            held = target.host if target is not None else "?"
        if tag.has(b"srcdoc"):
            tag.rename(b"srcdoc", b"data-consent-srcdoc")
        tag.set(b"srcdoc", self.policy.placeholder(held, self.language or None))

    def _style_attribute(self, tag: Tag) -> None:
        css = tag.get(b"style")
        if css is None or not may_fetch(css):
            return
        local = self._fonts_in(css)
        if local is not css:
            tag.set(b"style", local)
            css = local
        holds: list[Hold] = []
        result = neutralise(css, lambda url: self._collect(url, holds))
        if result is None or not holds:
            return
        neutral, whole = result
        tag.rename(b"style", b"data-consent-style")
        tag.set(b"style", "" if whole else neutral)
        tag.holds.extend(holds)

    def _collect(self, url: str, holds: list[Hold]) -> bool:
        hold = self._held(url, "other", seen="stylesheet")  # fetched by CSS: imports, fonts, backgrounds
        if hold is not None:
            holds.append(hold)
        return hold is not None

    # --- scripts and style blocks -----------------------------------------------------------------

    def _script(self, tag: Tag, buffer: bytes, body_start: int, out: list[bytes], final: bool) -> int | None:
        if not self.foreign:
            self.raw_end = b"</script"
        script_type = _script_type(tag)
        if script_type not in JS_TYPES:
            out.append(tag.to_bytes())
            return body_start
        holds: list[Hold] = []
        src = tag.get(b"src")
        if src is not None and self._plainly_local(tag.attributes):  # the site's own script: most are
            out.append(tag.to_bytes())
            return body_start
        if src is not None:
            hold = self._held(src, "script")
            if hold is not None:
                holds.append(hold)
            if self.policy.first_party is not None:
                self._point_to_gateway(tag, src)
        elif tag.has(b"href") or tag.has(b"xlink:href"):  # an SVG script
            for attribute, kind, _ in SVG_SCRIPT_ATTRIBUTES:
                hold = self._held(tag.get(attribute), kind)
                if hold is not None:
                    tag.hold(attribute, hold)
        else:
            window = INLINE_SCAN_LIMIT + len(b"</script>")
            end = _find_end(buffer, b"</script", body_start, body_start + window)
            if end < 0 and len(buffer) - body_start < window and not final:
                self.raw_end = None
                return None  # hold the tag until its body is known
            body_end = min(end if end >= 0 else len(buffer), body_start + INLINE_SCAN_LIMIT)
            service = self.policy.third_parties.catalogue.match_inline(
                buffer[body_start:body_end].decode("utf-8", "surrogateescape")
            )
            if service is not None and service.category not in self.policy.granted:
                holds.append(Hold(service.category, service))
        holds.extend(tag.holds)
        if holds:
            if script_type:
                tag.set(b"data-consent-type", tag.get(b"type") or "")
            tag.set(b"type", "text/plain")
            tag.holds = holds
            tag.mark()
            self.policy.blocked.extend(hold.label for hold in holds)
        out.append(tag.to_bytes())
        return body_start

    def _point_to_gateway(self, tag: Tag, src: str) -> None:
        """gtag.js / matomo.js of a granted service served by the gateway: the vendor never sees the visitor."""
        target = resolve(src, self.base)
        if target is None or self.policy.third_parties.catalogue.match_script(target.href) is None:
            return
        local = self.policy.first_party(src) if self.policy.first_party else None
        if local is not None:
            tag.set(b"src", local)

    def _style(self, tag: Tag, buffer: bytes, body_start: int, out: list[bytes], final: bool) -> int | None:
        """A <style> block: passed on when it fetches nothing held; else a stand-in without the held
        URLs goes first and the original follows inert, for the banner to swap in after consent.

        The original waits in a ``<script type="text/plain" data-consent-style>``, not in an inert
        ``<style>``: Chromium's preload scanner fetches the ``@import`` of any ``<style>``, whatever
        its type."""
        if self.foreign:
            return self._foreign_style(tag, buffer, body_start, out, final)
        end = _find_end(buffer, b"</style", body_start, body_start + STYLE_SCAN_LIMIT)
        if end < 0 and len(buffer) - body_start < STYLE_SCAN_LIMIT and not final:
            return None  # wait for the whole block
        self.raw_end = b"</style"
        if end < 0 and not final:  # too long to hold: neutralised piece by piece, no stand-in
            self._finish_tag(tag, out)
            self.css_stream = True
            return body_start
        written = buffer[body_start : end if end >= 0 else len(buffer)].decode("utf-8", "surrogateescape")
        css = self._fonts_in(written)
        holds: list[Hold] = []
        result = neutralise(css, lambda url: self._collect(url, holds))
        if result is None or not holds:
            self._finish_tag(tag, out)
            if css is written:
                return body_start
            out.append(css.encode("utf-8", "surrogateescape"))  # font URLs first-party, the rest as it was
            return end if end >= 0 else len(buffer)
        closing = END_TAG.match(buffer, end) if end >= 0 else None
        if end >= 0 and closing is None and not final:
            return None  # the end tag is not complete yet
        self.raw_end = None
        neutral, _ = result
        standin = Tag(tag.name, tag.attributes)
        standin.set(b"data-consent-standin", "")
        out.append(standin.to_bytes() + neutral.encode("utf-8", "surrogateescape") + b"</style>")
        original = Tag(b"script", tag.attributes)
        original.holds = holds
        original.set(b"data-consent-style", "")
        self._make_inert(original)
        body = css.encode("utf-8", "surrogateescape")
        out.append(original.to_bytes() + SCRIPT_IN_TEXT.sub(rb"<\1\\\2", body) + b"</script>")
        return closing.end() if closing is not None else len(buffer)

    def _foreign_style(self, tag: Tag, buffer: bytes, body_start: int, out: list[bytes], final: bool) -> int | None:
        """Inside <svg> a <style> holds markup too: it is scanned as markup, and held whole when its CSS
        would fetch something held."""
        end = _find_end(buffer, b"</style", body_start, body_start + STYLE_SCAN_LIMIT)
        if end < 0 and len(buffer) - body_start < STYLE_SCAN_LIMIT and not final:
            return None
        css = buffer[body_start : end if end >= 0 else min(len(buffer), body_start + STYLE_SCAN_LIMIT)]
        neutralise(css.decode("utf-8", "surrogateescape"), lambda url: self._collect(url, tag.holds))
        if tag.holds:
            self._make_inert(tag)
        out.append(tag.to_bytes())
        return body_start

    def _make_inert(self, tag: Tag) -> None:
        current = tag.get(b"type")
        if current:
            tag.set(b"data-consent-type", current)
        tag.set(b"type", "text/plain")
        tag.mark()
        self.policy.blocked.extend(hold.label for hold in tag.holds)

    def _finish_tag(self, tag: Tag, out: list[bytes]) -> None:
        out.append(tag.to_bytes())

    def _stream_css(self, buffer: bytes, position: int, found: int, out: list[bytes], final: bool) -> tuple[int, bool]:
        """A long <style> block, neutralised in pieces that end after a "}"."""
        if found >= 0:
            stop = found
        else:
            cut = buffer.rfind(b"}", position, position + STYLE_PIECE)
            if cut < 0 and not final and len(buffer) - position < STYLE_PIECE:
                return position, False
            stop = len(buffer) if final else (cut + 1 if cut >= 0 else min(len(buffer), position + STYLE_PIECE))
        css = self._fonts_in(buffer[position:stop].decode("utf-8", "surrogateescape"))
        holds: list[Hold] = []
        result = neutralise(css, lambda url: self._collect(url, holds))
        out.append(
            css.encode("utf-8", "surrogateescape") if result is None else result[0].encode("utf-8", "surrogateescape")
        )
        self.policy.blocked.extend(hold.label for hold in holds)
        if found >= 0:
            self.raw_end = None
            self.css_stream = False
            return found, True
        return stop, final or stop > position


@functools.lru_cache(maxsize=8)
def _lowered(path_markers: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The names of catalogued files (``matomo.js``), to look for in lower-cased attributes: a few
    ``in`` tests cost less than a case-blind regular expression tried at every byte."""
    return tuple(marker.lower() for marker in path_markers)


def _may_name_url(attributes: bytes) -> bool:
    """Could a script with these attributes load a URL (``src``, or ``href`` in SVG)? A quick
    look that may say yes wrongly (``data-src``), never no wrongly."""
    lowered = attributes.lower()
    return b"src" in lowered or b"href" in lowered


def _script_type(tag: Tag) -> str:
    """The type a browser goes by: ``type``, else ``language`` ("JavaScript" → text/javascript), parameters dropped."""
    script_type = tag.get(b"type")
    if not script_type:
        language = (tag.get(b"language") or "").strip()
        return f"text/{language.lower()}" if language and script_type is None else (script_type or "").strip().lower()
    return script_type.split(";")[0].strip().lower()


def srcset_urls(value: str) -> list[str]:
    """The URLs of a ``srcset``, read as the HTML standard does (a URL may contain commas)."""
    urls, index, size = [], 0, len(value)
    while index < size:
        while index < size and value[index] in " \t\n\r\f,":
            index += 1
        start = index
        while index < size and value[index] not in " \t\n\r\f":
            index += 1
        url = value[start:index]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            depth = 0
            while index < size and (value[index] != "," or depth):
                depth += {"(": 1, ")": -1 if depth else 0}.get(value[index], 0)
                index += 1
        if url:
            urls.append(url)
    return urls


def _find_end(buffer: bytes, end_tag: bytes, start: int, stop: int | None = None) -> int:
    """Where ``end_tag`` ("</script", "-->") starts, ASCII case-insensitively; -1 if not before ``stop``.

    ``bytes.find`` on the fixed start ("</", "--") is far faster than a
    case-insensitive regular expression; the rare candidates are checked by hand.
    A comment also ends at ``--!>``.
    """
    stop = len(buffer) if stop is None else min(stop, len(buffer))
    if end_tag == b"-->":
        return _comment_end(buffer, start, stop)
    name = end_tag[2:]
    if SCANNER_COMPILED:
        return end_tag_at(buffer, name, start, stop)
    position = buffer.find(b"</", start, stop)
    while position >= 0:
        after = position + len(end_tag)
        if after < len(buffer) and buffer[position + 2 : after].lower() == name and buffer[after] in END_TAG_FOLLOWERS:
            return position
        position = buffer.find(b"</", position + 2, stop)
    return -1


def _comment_end(buffer: bytes, start: int, stop: int) -> int:
    """Where the "-->" or "--!>" that closes a comment starts; -1 if not before ``stop``."""
    position = buffer.find(b"--", start, stop)
    while position >= 0:
        if buffer.startswith(b"-->", position) or buffer.startswith(b"--!>", position):
            return position
        position = buffer.find(b"--", position + 1, stop)
    return -1


END_TAG_FOLLOWERS = frozenset(b" \t\n\r\f/>")


def _may_complete(buffer: bytes, start: int) -> bool:
    """Could more input turn what starts at ``start`` into a tag, comment or declaration?"""
    rest = buffer[start + 1 : start + 2]
    return rest == b"" or rest.isalpha() or rest in (b"!", b"/", b"?")
