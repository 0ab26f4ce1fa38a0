"""Streaming HTML rewriter: trackers stay inert until their category is granted.

The scanner works on bytes of any ASCII-compatible charset. One possessive
regular expression swallows long runs of text and uninteresting tags
(quoted attribute values included, so ``<div title="<script>">`` is no
script), and Python only looks at the few tags that matter: ``script``,
``img``, ``iframe``, ``link``, ``head`` and the raw-text elements whose
content must not be read as markup. Bytes outside the tags it changes are
passed through unchanged, and any chunking of the input gives the same
output as the whole body at once.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .catalogue import Catalogue, Service

# Decisions about inline scripts look at this much of the body, whatever the chunking.
INLINE_SCAN_LIMIT = 64 * 1024
# A "<" without a complete tag within this many bytes is text.
MAX_TAG = 64 * 1024
# Give up looking for <head> after this much markup.
MAX_HEAD_SEARCH = 64 * 1024

# Attributes as the HTML tokenizer reads them: a quote opens a value only right after "=".
# Written as an unrolled loop (run, then "=value run" pairs): the regex engine tries fewer alternatives.
_ATTRS = rb"[^>=]*+(?:=\s*+(?:\"[^\"]*+\"|'[^']*+'|(?=[^\"'])[^\s>]*+)[^>=]*+)*+"
_INTERESTING = rb"script|style|textarea|title|xmp|iframe|img|link|head|plaintext|noembed|noframes"
_NOT_INTERESTING = rb"(?!(?i:" + _INTERESTING + rb")[\s/>])"
_COMMENT = rb"<!--(?:-?>|(?:[^-]++|-(?!->))*+-->)"
_CDATA = rb"<!\[CDATA\[(?:[^\]]++|\](?!\]>))*+\]\]>"

# Alternatives ordered by how often they occur; tags whose first letter starts
# no interesting name skip the (costlier) name check. The loop is unrolled (text,
# then "<construct text" pairs) and the "<" is matched once for all constructs.
# Raw-text elements the rewriter never changes are passed over whole when they are complete.
_PLAIN_RAW_TEXT = b"".join(
    rb"|(?i:"
    + name
    + rb")(?=[\s/>])"
    + _ATTRS
    + rb">(?:[^<]++|<(?!/(?i:"
    + name
    + rb")[\s/>]))*+</(?i:"
    + name
    + rb")(?=[\s/>])"
    for name in (rb"style", rb"title", rb"textarea")
)
BULK = re.compile(
    rb"[^<]*+(?:<(?:/[a-zA-Z]" + _ATTRS + rb">"
    rb"|(?![sStTxXiIlLhHpPnN])[a-zA-Z]" + _ATTRS + rb">"
    rb"|" + _NOT_INTERESTING + rb"[a-zA-Z]" + _ATTRS + rb">"
    + _PLAIN_RAW_TEXT
    + rb"|"
    + _COMMENT[1:]
    + rb"|"
    + _CDATA[1:]
    + rb"|[!?](?!--|\[CDATA\[)[^>]*+>|/(?![a-zA-Z])[^>]*+>"
    rb"|(?=[^a-zA-Z!/?]))[^<]*+)*+"
)
START_TAG = re.compile(rb"<([a-zA-Z][^\s/>]*+)(" + _ATTRS + rb")>")
ATTRIBUTE = re.compile(rb"([\s/]*+)([^\s/>][^\s/>=]*+)(?:(\s*+=\s*+)(\"[^\"]*+\"|'[^']*+'|[^\s>]++))?+")
ATTRIBUTE_VALUES = re.compile(rb"[\s/]*+([^\s/>][^\s/>=]*+)(?:\s*+=\s*+(\"[^\"]*+\"|'[^']*+'|[^\s>]++))?+")
COMMENT = re.compile(_COMMENT)
CDATA = re.compile(_CDATA)
END_TAG = re.compile(rb"</[a-zA-Z]" + _ATTRS + rb">")
BOGUS = re.compile(rb"<(?:[!?](?!--|\[CDATA\[)|/(?![a-zA-Z]))[^>]*+>")
COMPLETE_CONSTRUCTS = (COMMENT, CDATA, END_TAG, BOGUS)
# Openers of long constructs that are streamed through instead of held: opener -> terminator.
STREAMED_OPENERS = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"))
# Enough bytes after "<!--" to tell "<!-->" and "<!--->" from a long comment.
OPENER_LOOKAHEAD = 6

HAS_SRC = re.compile(rb"(?:^|[\s/])src\s*=", re.IGNORECASE)
REWRITTEN = frozenset({b"script", b"img", b"iframe", b"link"})
RAW_TEXT = frozenset({b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes"})
JS_TYPES = frozenset(
    {
        "",
        "text/javascript",
        "application/javascript",
        "module",
        "text/ecmascript",
        "application/ecmascript",
        "application/x-javascript",
        "text/jscript",
        "text/livescript",
        "text/x-javascript",
    }
)
TINY_SIZES = frozenset({"0", "1", "0px", "1px"})
HINT_RELS = frozenset({"preconnect", "dns-prefetch", "preload", "prefetch", "modulepreload", "prerender"})
# Markup written for other consent managers: the banner revives it, the rewriter leaves it alone.
HAND_MARKED = (b"data-consent", b"data-category", b"data-name")
ALREADY_HELD = (*HAND_MARKED, b"data-consent-src")
GENERIC_BEACON_CATEGORY = "marketing"


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

    def get(self, name: bytes) -> str | None:
        raw = self.raw_values.get(name)
        if raw is None:
            return None
        text = raw[1:-1] if raw[:1] in (b'"', b"'") else raw
        return html.unescape(text.decode("latin-1")) if b"&" in text else text.decode("latin-1")

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
        for part in self.parts:
            if part[1].lower() == old:
                part[1] = new
                self.changed = True

    def set(self, name: bytes, value: str) -> None:
        quoted = b'"' + html.escape(value, quote=True).encode("latin-1", "xmlcharrefreplace") + b'"'
        for part in self.parts:
            if part[1].lower() == name:
                part[2], part[3] = b"=", quoted
                break
        else:
            self.parts.append([b" ", name, b"=", quoted])
        self.raw_values[name] = quoted
        self.changed = True

    def mark(self, service: Service | None, category: str) -> None:
        self.set(b"data-consent", category)
        if service is not None:
            self.set(b"data-consent-service", service.id)

    def to_bytes(self) -> bytes:
        if not self.changed:
            return b"<" + self.name + self.attributes + b">"
        attributes = b"".join(b"".join(part) for part in self.parts)
        return b"<" + self.name + attributes + self.tail + b">"


@dataclass
class RewritePolicy:
    """What one response may carry: the catalogue, what is granted, what goes into <head>."""

    catalogue: Catalogue
    granted: frozenset[str]
    site_host: str = ""
    head_injection: bytes = b""
    placeholder: Callable[[Service], str] | None = None
    blocked: list[str] = field(default_factory=list)  # service ids neutralised, for metrics and tests
    first_party: Callable[[str], str | None] | None = None  # a catalogued script's URL on the gateway, if any

    def allows(self, category: str) -> bool:
        return category in self.granted


class Rewriter:
    """Feed body chunks in, get rewritten bytes out; call ``finish`` after the last chunk."""

    def __init__(self, policy: RewritePolicy) -> None:
        self.policy = policy
        self.buffer = b""
        self.raw_end: bytes | None = None  # inside a raw-text element, looking for this end tag
        self.plaintext = False
        self.head_pending = bool(policy.head_injection)
        self.seen_document = False
        self.scanned = 0  # bytes of markup passed while looking for <head>
        self.emitted = 0  # bytes returned so far
        self.injected_at: int | None = None  # where in the output the head injection starts, once placed

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        return self._run(final=False)

    def finish(self) -> bytes:
        return self._run(final=True)

    def _run(self, final: bool) -> bytes:
        buffer, out, position = self.buffer, [], 0
        size = len(buffer)
        bulk = BULK.match
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
                end = bulk(buffer, position).end()
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
        if final and self.buffer:
            out.append(self.buffer)
            self.buffer = b""
        result = b"".join(out)
        self.emitted += len(result)
        return result

    def _skip_raw_text(self, buffer: bytes, position: int, out: list[bytes], final: bool) -> tuple[int, bool]:
        end_tag = self.raw_end or b""
        found = _find_end(buffer, end_tag, position)
        if found >= 0:
            out.append(buffer[position:found])
            self.raw_end = None
            return found, True
        keep = 0 if final else len(end_tag)
        stop = max(position, len(buffer) - keep)
        out.append(buffer[position:stop])
        return stop, final

    def _before_head(self, buffer: bytes, position: int, out: list[bytes], final: bool) -> int | None:
        """Until the banner is placed, walk tag by tag: it goes right after <head>."""
        if self.scanned > MAX_HEAD_SEARCH:
            self.head_pending = False
            return position
        start = buffer.find(b"<", position)
        if start < 0:
            out.append(buffer[position:])
            self.scanned += len(buffer) - position
            return len(buffer)
        if start > position:
            out.append(buffer[position:start])
            self.scanned += start - position
            return start
        for pattern in COMPLETE_CONSTRUCTS:
            match = pattern.match(buffer, start)
            if match:
                if buffer[start + 1 : start + 9].lower() == b"!doctype":
                    self.seen_document = True
                out.append(match.group())
                self.scanned += match.end() - start
                return match.end()
        streamed = self._stream_long_construct(buffer, start, out, final)
        if streamed is not None:
            return streamed
        match = START_TAG.match(buffer, start)
        if match is None:
            return self._incomplete(buffer, start, out, final)
        name = match.group(1).lower()
        if name == b"html":
            self.seen_document = True
        elif name == b"head":
            self.head_pending = False
            self._mark_injection(out, len(match.group()))
            out.append(match.group() + self.policy.head_injection)
            return match.end()
        else:
            # No <head>: a document gets the banner before its first element; a fragment gets none.
            if self.seen_document:
                self._mark_injection(out, 0)
                out.append(self.policy.head_injection)
            self.head_pending = False
            return start
        out.append(match.group())
        self.scanned += match.end() - start
        return match.end()

    def _mark_injection(self, out: list[bytes], offset: int) -> None:
        self.injected_at = self.emitted + sum(map(len, out)) + offset

    def _stream_long_construct(self, buffer: bytes, start: int, out: list[bytes], final: bool) -> int | None:
        """An unterminated comment or CDATA section is passed on as it comes, not held."""
        for opener, terminator in STREAMED_OPENERS:
            if buffer.startswith(opener, start) and (final or len(buffer) - start >= len(opener) + OPENER_LOOKAHEAD):
                out.append(opener)
                self.raw_end = terminator
                return start + len(opener)
        return None

    def _incomplete(self, buffer: bytes, start: int, out: list[bytes], final: bool) -> int | None:
        """A "<" that starts no complete construct yet: wait for more, or decide at the end.

        At the end of the document a tag that never closes (an unterminated
        quote, say) runs to the end, as in the browser's tokenizer: what
        follows it is no markup, so nothing in it is rewritten.
        """
        if len(buffer) - start < MAX_TAG and _may_complete(buffer, start):
            if not final:
                return None
            out.append(buffer[start:])
            return len(buffer)
        out.append(b"<")
        return start + 1

    def _interesting(self, buffer: bytes, position: int, out: list[bytes], final: bool) -> int | None:
        match = START_TAG.match(buffer, position)
        if match is None:
            streamed = self._stream_long_construct(buffer, position, out, final)
            return streamed if streamed is not None else self._incomplete(buffer, position, out, final)
        raw_name, attributes = match.groups()
        name = raw_name.lower()
        # An inline script is always read; anything else with only local URLs stays as it is.
        if name not in REWRITTEN or (
            self._plainly_local(attributes) and (name != b"script" or HAS_SRC.search(attributes))
        ):
            out.append(match.group())
            if name in RAW_TEXT:
                self.raw_end = b"</" + name
            elif name == b"plaintext":
                self.plaintext = True
            return match.end()
        tag = Tag(raw_name, attributes)
        if name == b"script":
            return self._script(tag, buffer, match.end(), out, final)
        if name == b"img":
            self._image(tag)
        elif name == b"iframe":
            self._iframe(tag)
        else:
            self._link(tag)
        out.append(tag.to_bytes() if tag.changed else match.group())
        if name == b"iframe":
            self.raw_end = b"</iframe"
        return match.end()

    def _plainly_local(self, attributes: bytes) -> bool:
        """No absolute URL, no entity and no catalogued file name: an image, frame or link that stays as it is."""
        if b"//" in attributes or b"&" in attributes:
            return False
        lowered = attributes.lower()
        return not any(map(lowered.__contains__, self.policy.catalogue.path_markers))  # no generator: runs in C

    def _script(self, tag: Tag, buffer: bytes, body_start: int, out: list[bytes], final: bool) -> int | None:
        self.raw_end = b"</script"
        src = tag.get(b"src")
        script_type = (tag.get(b"type") or "").strip().lower()
        if script_type not in JS_TYPES or tag.has_any(HAND_MARKED):
            out.append(tag.to_bytes())
            return body_start
        if src is not None:
            service = self.policy.catalogue.match_script(src)
            local = self.policy.first_party(src) if service is not None and self.policy.first_party else None
            if local is not None:
                tag.set(b"src", local)  # gtag.js / matomo.js served by the gateway: the vendor never sees the visitor
        else:
            window = INLINE_SCAN_LIMIT + len(b"</script>")
            end = _find_end(buffer, b"</script", body_start, body_start + window)
            available = len(buffer) - body_start
            if end < 0 and available < window and not final:
                self.raw_end = None
                return None  # hold the tag until its body is known
            body_end = min(end if end >= 0 else len(buffer), body_start + INLINE_SCAN_LIMIT)
            code = buffer[body_start:body_end].decode("latin-1")
            service = self.policy.catalogue.match_inline(code)
        if service is not None and not self.policy.allows(service.category):
            if script_type:
                tag.set(b"data-consent-type", tag.get(b"type") or "")
            tag.set(b"type", "text/plain")
            tag.mark(service, service.category)
            self.policy.blocked.append(service.id)
        out.append(tag.to_bytes())
        return body_start

    def _image(self, tag: Tag) -> None:
        src = tag.get(b"src")
        if not src or tag.has_any(ALREADY_HELD):
            return
        service = self.policy.catalogue.match_beacon(src)
        if service is not None:
            category = service.category
        elif (
            tag.get(b"width") in TINY_SIZES
            and tag.get(b"height") in TINY_SIZES
            and is_third_party(src, self.policy.site_host)
        ):
            category = GENERIC_BEACON_CATEGORY
        else:
            return
        if self.policy.allows(category):
            return
        tag.rename(b"src", b"data-consent-src")
        tag.rename(b"srcset", b"data-consent-srcset")
        tag.mark(service, category)
        self.policy.blocked.append(service.id if service else "web-beacon")

    def _iframe(self, tag: Tag) -> None:
        src = tag.get(b"src")
        if not src or tag.has_any(ALREADY_HELD):
            return
        service = self.policy.catalogue.match_iframe(src)
        if service is None or self.policy.allows(service.category):
            return
        tag.rename(b"src", b"data-consent-src")
        tag.mark(service, service.category)
        if self.policy.placeholder is not None:
            tag.rename(b"srcdoc", b"data-consent-srcdoc")
            tag.set(b"srcdoc", self.policy.placeholder(service))
        self.policy.blocked.append(service.id)

    def _link(self, tag: Tag) -> None:
        rel = (tag.get(b"rel") or "").lower().split()
        href = tag.get(b"href")
        if not href or not HINT_RELS.intersection(rel) or tag.has_any(HAND_MARKED):
            return
        host = absolute_host(href)
        service = self.policy.catalogue.match_host(host) if host else None
        if service is None or self.policy.allows(service.category):
            return
        tag.rename(b"rel", b"data-consent-rel")
        tag.mark(service, service.category)
        self.policy.blocked.append(service.id)


def absolute_host(url: str) -> str:
    """The host of an absolute or protocol-relative URL; "" for relative URLs and garbage."""
    url = url.strip()
    if not url.startswith("//") and "://" not in url[:10]:
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_third_party(url: str, site_host: str) -> bool:
    host = absolute_host(url)
    site = site_host.split(":")[0].lower()
    return bool(host) and host != site and host.split(".")[-2:] != site.split(".")[-2:]


def _find_end(buffer: bytes, end_tag: bytes, start: int, stop: int | None = None) -> int:
    """Where ``end_tag`` ("</script", "-->") starts, ASCII case-insensitively; -1 if not before ``stop``.

    ``bytes.find`` on the fixed start ("</", "-->") is far faster than a
    case-insensitive regular expression; the rare candidates are checked by hand.
    """
    stop = len(buffer) if stop is None else min(stop, len(buffer))
    if not end_tag.startswith(b"</"):
        found = buffer.find(end_tag, start, stop)
        return found if found >= 0 and found + len(end_tag) <= stop else -1
    name = end_tag[2:]
    position = buffer.find(b"</", start, stop)
    while position >= 0:
        after = position + len(end_tag)
        if after < len(buffer) and buffer[position + 2 : after].lower() == name and buffer[after] in END_TAG_FOLLOWERS:
            return position
        position = buffer.find(b"</", position + 2, stop)
    return -1


END_TAG_FOLLOWERS = frozenset(b" \t\n\r\f/>")


def _may_complete(buffer: bytes, start: int) -> bool:
    """Could more input turn what starts at ``start`` into a tag, comment or declaration?"""
    rest = buffer[start + 1 : start + 2]
    return rest == b"" or rest.isalpha() or rest in (b"!", b"/", b"?")
