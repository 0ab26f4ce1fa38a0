"""Where the plain stretch of a page ends: the rewriter's bulk scan, byte by byte.

``plain_end(buffer, position, foreign)`` answers what
``gateway.pages.rewrite.BULK.match(buffer, position).end()`` answers
(``BULK_FOREIGN`` when ``foreign``): how far text and markup that loads
nothing run from ``position``. It stops before the first tag the rewriter
must look at (a tag that can fetch, ``</svg>``, ``</math>``, a tag with a
``(`` in its attributes), before an unfinished construct, and at the end.
Where it stops, ``start_tag`` reads the tag's bounds as ``rewrite.START_TAG``
would, and ``end_tag_at`` finds where a script or other raw text ends, so
that a tag the rewriter remembers costs it no regular expression at all.
``remembered_run`` goes further: it passes plain stretches and the tags the
rewriter's memo (``gateway.pages.tagmemo``) holds, scripts with their bodies,
in one call, noting the labels and hosts a remembered tracker tag adds to the
page, and hands back at the first tag the rewriter must read itself.

The module is plain Python and is compiled with Cython when the package is
built (``hatch_build.py``). Compiled, it scans at several hundred MB/s,
against about 170 MB/s for the regular expression; run as Python it is far
slower than the expression, so the rewriter uses it only when ``COMPILED``.
Property tests hold each of them to the same answer as the Python they
stand in for, on any input.
"""

from __future__ import annotations

import cython

if cython.compiled:
    from cython.cimports.libc.string import memcmp

COMPILED: bool = cython.compiled

# The names of tags the rewriter reads (rewrite._INTERESTING_NAMES), by length.
_NAMES_BY_LENGTH: tuple[tuple[bytes, ...], ...] = (
    (),
    (),
    (),
    (b"img", b"use", b"svg"),
    (b"link", b"head", b"base", b"meta", b"math"),
    (b"style", b"title", b"frame", b"video", b"audio", b"track", b"embed", b"input", b"image"),
    (b"script", b"iframe", b"source", b"object"),
    (b"noembed", b"feimage"),
    (b"textarea", b"noframes"),
    (b"plaintext",),
)


@cython.cfunc
@cython.inline
@cython.exceptval(check=False)
def _is_space(c: cython.uchar) -> cython.bint:
    """``\\s`` of a bytes pattern: space, \\t, \\n, \\v, \\f, \\r."""
    return c == 32 or 9 <= c <= 13


@cython.cfunc
@cython.inline
@cython.exceptval(check=False)
def _is_letter(c: cython.uchar) -> cython.bint:
    return 97 <= (c | 32) <= 122


@cython.cfunc
@cython.inline
@cython.exceptval(check=False)
def _ends_name(c: cython.uchar) -> cython.bint:
    """``[\\s/>]``: what may follow a tag name."""
    return c == 47 or c == 62 or c == 32 or 9 <= c <= 13


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.exceptval(check=False)
def _named(
    data: cython.p_uchar, size: cython.Py_ssize_t, at: cython.Py_ssize_t, name: cython.p_char, length: cython.Py_ssize_t
) -> cython.bint:
    """Is ``name`` (``length`` lower case letters) at ``at``, in any case, followed by ``[\\s/>]``?"""
    index: cython.Py_ssize_t
    if at + length >= size:
        return False
    for index in range(length):
        if (data[at + index] | 32) != name[index]:
            return False
    return _ends_name(data[at + length])


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.exceptval(check=False)
def _interesting(data: cython.p_uchar, size: cython.Py_ssize_t, at: cython.Py_ssize_t) -> cython.bint:
    """Does a tag name the rewriter reads start at ``at`` (followed by ``[\\s/>]``)?"""
    end: cython.Py_ssize_t = at
    while end < size and end - at <= 9 and not _ends_name(data[end]):
        end += 1
    length: cython.Py_ssize_t = end - at
    if end >= size or length < 3 or length > 9:
        return False
    for name in _NAMES_BY_LENGTH[length]:  # noqa: SIM110 - a loop compiles to C, any() to a generator
        if _named(data, size, at, name, length):
            return True
    return False


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.exceptval(check=False)
def _attributes_end(
    data: cython.p_uchar, size: cython.Py_ssize_t, at: cython.Py_ssize_t, plain: cython.bint
) -> cython.Py_ssize_t:
    """Past the ``>`` that closes a tag's attributes, read as the tokenizer does (a quote opens a
    value only right after ``=``); -1 if there is none, or, when ``plain``, if a ``(`` comes first."""
    c: cython.uchar
    quote: cython.uchar
    while at < size:
        c = data[at]
        if c == 62:  # >
            return at + 1
        if plain and c == 40:  # (
            return -1
        if c != 61:  # =
            at += 1
            continue
        at += 1
        while at < size and _is_space(data[at]):
            at += 1
        if at >= size:
            return -1
        quote = data[at]
        if quote == 34 or quote == 39:  # " or '
            at += 1
            while at < size and data[at] != quote:
                if plain and data[at] == 40:
                    return -1
                at += 1
            if at >= size:
                return -1
            at += 1
        else:
            while at < size:
                c = data[at]
                if c == 62 or _is_space(c) or (plain and c == 40):
                    break
                at += 1
    return -1


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.exceptval(check=False)
def _raw_text_end(
    data: cython.p_uchar,
    size: cython.Py_ssize_t,
    at: cython.Py_ssize_t,
    name: cython.p_char,
    length: cython.Py_ssize_t,
    css: cython.bint,
) -> cython.Py_ssize_t:
    """A whole ``<style>``, ``<title>`` or ``<textarea>`` that fetches nothing, from its name at
    ``at``: past the name of its end tag (``</style``), or -1. CSS (``css``) with ``(``, ``@`` or
    ``\\`` in it could fetch."""
    c: cython.uchar
    if not _named(data, size, at, name, length):
        return -1
    at = _attributes_end(data, size, at + length, True)
    if at < 0:
        return -1
    while at < size:
        c = data[at]
        if c == 60:  # <
            if at + 1 < size and data[at + 1] == 47 and _named(data, size, at + 2, name, length):
                return at + 2 + length
        elif css and (c == 40 or c == 64 or c == 92):  # ( @ \
            return -1
        at += 1
    return -1


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.exceptval(check=False)
def _comment_end(data: cython.p_uchar, size: cython.Py_ssize_t, at: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """Past a whole comment whose ``<!--`` ends at ``at``; -1 if it does not end here."""
    if at < size and data[at] == 62:  # <!-->
        return at + 1
    if at + 1 < size and data[at] == 45 and data[at + 1] == 62:  # <!--->
        return at + 2
    while at + 2 < size:
        if data[at] == 45 and data[at + 1] == 45:
            if data[at + 2] == 62:
                return at + 3
            if data[at + 2] == 33 and at + 3 < size and data[at + 3] == 62:
                return at + 4
        at += 1
    return -1


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.exceptval(check=False)
def _construct_end(
    data: cython.p_uchar, size: cython.Py_ssize_t, at: cython.Py_ssize_t, foreign: cython.bint
) -> cython.Py_ssize_t:
    """Past the construct whose ``<`` is just before ``at``, when the scan may pass over it; else -1."""
    c: cython.uchar
    end: cython.Py_ssize_t
    if at >= size:
        return -1
    c = data[at]
    if c == 47:  # "/"
        if at + 1 < size and _is_letter(data[at + 1]):
            if _named(data, size, at + 1, b"svg", 3) or _named(data, size, at + 1, b"math", 4):
                return -1
            return _attributes_end(data, size, at + 2, False)
        end = _find(data, size, at + 1, 62)
        return end + 1 if end >= 0 else -1
    if _is_letter(c):
        if not _interesting(data, size, at):
            end = _attributes_end(data, size, at + 1, True)
            if end >= 0:
                return end
        if foreign:
            return -1
        if (c | 32) == 115:  # s
            return _raw_text_end(data, size, at, b"style", 5, True)
        if (c | 32) == 116:  # t
            end = _raw_text_end(data, size, at, b"title", 5, False)
            return end if end >= 0 else _raw_text_end(data, size, at, b"textarea", 8, False)
        return -1
    if c == 33 or c == 63:  # ! or ?
        if c == 33 and at + 2 < size and data[at + 1] == 45 and data[at + 2] == 45:
            return _comment_end(data, size, at + 3)
        if at + 2 < size and data[at + 1] == 45 and data[at + 2] == 45:
            return -1  # "<?--": the pattern refuses it
        end = _find(data, size, at + 1, 62)
        return end + 1 if end >= 0 else -1
    return at


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.exceptval(check=False)
def _find(
    data: cython.p_uchar, size: cython.Py_ssize_t, at: cython.Py_ssize_t, byte: cython.uchar
) -> cython.Py_ssize_t:
    """Where ``byte`` comes first from ``at``; -1 if nowhere."""
    while at < size:
        if data[at] == byte:
            return at
        at += 1
    return -1


@cython.ccall
@cython.boundscheck(False)
@cython.wraparound(False)
def plain_end(buffer: bytes, position: cython.Py_ssize_t, foreign: cython.bint) -> cython.Py_ssize_t:
    """How far from ``position`` the page runs without anything the rewriter must look at."""
    size: cython.Py_ssize_t = len(buffer)
    data: cython.p_uchar = buffer
    at: cython.Py_ssize_t = _find(data, size, position, 60)  # <
    end: cython.Py_ssize_t
    while at >= 0:
        end = _construct_end(data, size, at + 1, foreign)
        if end < 0:
            return at
        at = _find(data, size, end, 60)
    return size


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
def _marked_plain_end(
    buffer: bytes,
    position: cython.Py_ssize_t,
    until: cython.Py_ssize_t,
    marks: object,
    offset: cython.Py_ssize_t,
    written: cython.Py_ssize_t,
    blocked: cython.Py_ssize_t,
    seen: cython.Py_ssize_t,
    segment: cython.Py_ssize_t,
) -> cython.Py_ssize_t:
    """``plain_end`` outside foreign content, stopping as well at the first construct that starts at
    or after ``until``, and noting a mark at each construct it passes over when ``marks`` is not
    ``None`` (the output of a plain stretch is its input)."""
    size: cython.Py_ssize_t = len(buffer)
    data: cython.p_uchar = buffer
    at: cython.Py_ssize_t = _find(data, size, position, 60)  # <
    end: cython.Py_ssize_t
    while at >= 0:
        if at >= until and at > position:
            return at
        end = _construct_end(data, size, at + 1, False)
        if end < 0:
            return at
        if at > position and marks is not None:
            marks.extend((offset + at, written + at - position, blocked, seen, segment))
        at = _find(data, size, end, 60)
    return size


@cython.ccall
@cython.boundscheck(False)
@cython.wraparound(False)
def start_tag(buffer: bytes, position: cython.Py_ssize_t) -> tuple:
    """``(end of the name, end of the tag)`` of the start tag at ``position``, as
    ``rewrite.START_TAG.match`` reads it (``match.end(1), match.end()``); ``(-1, -1)`` if none."""
    size: cython.Py_ssize_t = len(buffer)
    data: cython.p_uchar = buffer
    at: cython.Py_ssize_t = position + 2
    if position < 0 or at > size or data[position] != 60 or not _is_letter(data[position + 1]):
        return (-1, -1)
    while at < size and not _ends_name(data[at]):
        at += 1
    end: cython.Py_ssize_t = _attributes_end(data, size, at, False)
    if end < 0:
        return (-1, -1)
    return (at, end)


@cython.cfunc
@cython.inline
@cython.exceptval(check=False)
def _lower(c: cython.uchar) -> cython.uchar:
    return c + 32 if 65 <= c <= 90 else c


@cython.ccall
@cython.boundscheck(False)
@cython.wraparound(False)
def end_tag_at(buffer: bytes, name: bytes, start: cython.Py_ssize_t, stop: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """Where ``</`` + ``name`` (lower case; any case in ``buffer``) followed by one of `` \\t\\n\\r\\f/>``
    starts, the ``</`` within ``buffer[start:stop]``; -1 if nowhere. (``rewrite._find_end`` for end tags.)"""
    size: cython.Py_ssize_t = len(buffer)
    data: cython.p_uchar = buffer
    wanted: cython.p_uchar = name
    length: cython.Py_ssize_t = len(name)
    at: cython.Py_ssize_t = max(start, 0)
    after: cython.Py_ssize_t
    index: cython.Py_ssize_t
    c: cython.uchar
    found: cython.bint
    stop = min(stop, size)
    while at + 1 < stop:
        if data[at] != 60 or data[at + 1] != 47:  # "</"
            at += 1
            continue
        after = at + 2 + length
        if after < size:
            found = True
            for index in range(length):
                if _lower(data[at + 2 + index]) != wanted[index]:
                    found = False
                    break
            c = data[after]
            if found and (c == 32 or c == 9 or c == 10 or c == 13 or c == 12 or c == 47 or c == 62):
                return at
        at += 2
    return -1


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.exceptval(check=False)
def _names_url(data: cython.p_uchar, start: cython.Py_ssize_t, end: cython.Py_ssize_t) -> cython.bint:
    """``rewrite._may_name_url``: "src" or "href" anywhere in ``data[start:end]``, in any case."""
    at: cython.Py_ssize_t
    for at in range(start, end - 2):
        if _lower(data[at]) == 115 and _lower(data[at + 1]) == 114 and _lower(data[at + 2]) == 99:  # src
            return True
        if (
            at + 3 < end
            and _lower(data[at]) == 104
            and _lower(data[at + 1]) == 114
            and _lower(data[at + 2]) == 101
            and _lower(data[at + 3]) == 102
        ):  # href
            return True
    return False


@cython.ccall
@cython.boundscheck(False)
@cython.wraparound(False)
def remembered_run(
    buffer: bytes,
    position: cython.Py_ssize_t,
    table: dict,
    out: list,
    handed_back: frozenset,
    max_tag: cython.Py_ssize_t,
    max_script: cython.Py_ssize_t,
    blocked: list,
    sightings: object,
    until: cython.Py_ssize_t = -1,
    marks: object = None,
    seens: list = None,
    offset: cython.Py_ssize_t = 0,
    written: cython.Py_ssize_t = 0,
    segment: cython.Py_ssize_t = 0,
    markers: tuple = None,
) -> cython.Py_ssize_t:
    """Pass plain stretches and start tags the memo's ``table`` holds, writing to ``out`` what
    ``rewrite.Rewriter`` would write for them, and adding what they add to the page's lists:
    labels to ``blocked`` (``RewritePolicy.blocked``), hosts to ``sightings`` (a set, or ``None``
    when discovery is off). Where it must look itself, the position is returned.

    Outside foreign content only. Tags named in ``handed_back`` (``rewrite.HANDED_BACK``: their
    effect reaches past their bytes) are always the rewriter's; a remembered script goes by with
    its body up to ``</script``, which must be in ``buffer`` already.

    With ``until`` (0 or more) it returns at the first place between two constructs at or after
    ``until``. With ``marks`` (an ``array.array("q")``) it notes every such place for
    ``gateway.pages.echo``, five numbers each: where it is in the page (``offset`` is where
    ``buffer`` starts), how much output there is before it (``written`` at the start), how long
    ``blocked`` and ``seens`` (the hosts a tag noted, appended in order) are, and ``segment``.
    The last place noted is where it returned.

    With ``markers`` (the catalogue's file names in lower case; ``None`` when relative URLs lead
    off the page's host), a tag the memo does not hold, other than a script, goes by as it is
    when ``plainly_local`` says so: the rewriter would pass it unchanged and note nothing."""
    size: cython.Py_ssize_t = len(buffer)
    data: cython.p_uchar = buffer
    end: cython.Py_ssize_t
    name_end: cython.Py_ssize_t
    tag_end: cython.Py_ssize_t
    body_end: cython.Py_ssize_t
    script: cython.bint
    inline: cython.bint
    piece: bytes
    if until < 0:
        until = size + 1
    while True:
        if marks is not None:
            marks.extend((offset + position, written, len(blocked), len(seens), segment))
        if position >= until:
            return position
        if marks is None and until > size:
            end = plain_end(buffer, position, False)
        else:
            end = _marked_plain_end(
                buffer, position, until, marks, offset, written, len(blocked), len(seens or ()), segment
            )
        if end > position:
            out.append(buffer[position:end])
            written += end - position
            position = end
            if marks is not None:
                marks.extend((offset + position, written, len(blocked), len(seens), segment))
        if position >= size or data[position] != 60 or position >= until:
            return position
        bounds = start_tag(buffer, position)
        name_end = bounds[0]
        tag_end = bounds[1]
        if tag_end < 0 or tag_end - 1 - name_end > max_tag:
            return position
        name = buffer[position + 1 : name_end].lower()
        if name in handed_back:
            return position
        script = name == b"script"
        inline = script and not _names_url(data, name_end, tag_end - 1)
        body_end = -1
        if script:
            body_end = end_tag_at(buffer, b"script", tag_end, size if not inline else tag_end + max_script)
            if body_end < 0:
                return position
        remembered = table.get(buffer[position:body_end] if inline else buffer[position:tag_end])
        if remembered is None:
            if script or markers is None or not _plainly_local(data, name_end, tag_end - 1, markers):
                return position
            out.append(buffer[position:tag_end])
            written += tag_end - position
            position = tag_end
            continue
        piece = remembered.output
        out.append(piece)
        written += len(piece)
        if remembered.blocked:
            blocked.extend(remembered.blocked)
        if remembered.seen and sightings is not None:
            sightings.update(remembered.seen)
            if seens is not None:
                seens.append(remembered.seen)
        if script:
            out.append(buffer[tag_end:body_end])
            written += body_end - tag_end
            position = body_end
        else:
            position = tag_end


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.exceptval(check=False)
def _plainly_local(
    data: cython.p_uchar, start: cython.Py_ssize_t, end: cython.Py_ssize_t, markers: tuple
) -> cython.bint:
    """``rewrite.Rewriter._plainly_local`` for the attributes ``data[start:end]``: nothing of
    ``rewrite.SUSPECT`` in them, and none of ``markers`` in any case."""
    at: cython.Py_ssize_t = start
    after: cython.Py_ssize_t
    c: cython.uchar
    while at < end:
        c = data[at]
        if c == 38 or c == 92 or c == 58 or c == 40:  # & \ : (
            return False
        if c == 47:  # "/", then tabs and line breaks, then "/" or "\\"
            after = at + 1
            while after < end and (data[after] == 9 or data[after] == 10 or data[after] == 13):
                after += 1
            if after < end and (data[after] == 47 or data[after] == 92):
                return False
        at += 1
    marker: bytes
    wanted: cython.p_uchar
    length: cython.Py_ssize_t
    index: cython.Py_ssize_t
    for marker in markers:
        wanted = marker
        length = len(marker)
        at = start
        while at + length <= end:
            index = 0
            while index < length and _lower(data[at + index]) == wanted[index]:
                index += 1
            if index == length:
                return False
            at += 1
    return True


@cython.ccall
def plainly_local(attributes: bytes, markers: tuple) -> cython.bint:
    """``_plainly_local`` over all of ``attributes`` (for tests)."""
    return _plainly_local(attributes, 0, len(attributes), markers)


@cython.ccall
@cython.boundscheck(False)
@cython.wraparound(False)
def common_length(
    first: bytes, at: cython.Py_ssize_t, second: bytes, second_at: cython.Py_ssize_t
) -> cython.Py_ssize_t:
    """How many bytes ``first[at:]`` and ``second[second_at:]`` have in common from their start."""
    limit: cython.Py_ssize_t = min(len(first) - at, len(second) - second_at)
    count: cython.Py_ssize_t = 0
    if at < 0 or second_at < 0:
        return 0
    if not cython.compiled:
        while count < limit and first[at + count] == second[second_at + count]:
            count += 1
        return count
    a: cython.p_uchar = first
    b: cython.p_uchar = second
    while count + 256 <= limit and memcmp(a + at + count, b + second_at + count, 256) == 0:
        count += 256
    while count < limit and a[at + count] == b[second_at + count]:
        count += 1
    return count
