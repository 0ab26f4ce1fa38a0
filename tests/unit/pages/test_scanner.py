"""The compiled scanner (gateway.pages.scanner) and its Python source answer as the bulk expression does."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rewrite import FRAGMENTS, rewrite

import gateway.pages.rewrite as rewrite_module
from gateway.pages import scanner
from gateway.pages.rewrite import BULK, BULK_FOREIGN, RAW_TEXT, START_TAG

pytest.importorskip("cython")  # the source runs uncompiled with Cython's pure-Python shadow module
SOURCE_PATH = Path(rewrite_module.__file__).with_name("scanner.py")
_spec = importlib.util.spec_from_file_location("scanner_source", SOURCE_PATH)
source = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(source)

# Constructs at the edges of the grammar, as whole pieces and cut anywhere by the random bytes around them.
EDGES = [
    b"<style>a{}</style>",
    b"<style>a{background:url(x)}</style>",
    b"<STYLE media=x>p{}</Style >",
    b"<style>@import 'x';</style>",
    b"<style>a\\62{}</style>",
    b"<style></styles></style>",
    b"<title>a</title",
    b"<title>x</titlex></title>",
    b"<textarea x=1>(</textarea>",
    b"</svg>",
    b"</math >",
    b"</MATH",
    b"</svgx>",
    b"</a b='>'>",
    b"</ x>",
    b"</>",
    b"<div style='a(b)'>",
    b"<div a=(b)>",
    b'<p a="(">',
    b"<p a='x' b=\"y\" c=z d>",
    b"<b=>",
    b"<b ='>",
    b"<b a=\t\n'x'>",
    b"<!--->",
    b"<!---->",
    b"<!-- a --!>",
    b"<!-- - -- --->",
    b"<!-",
    b"<?--x>",
    b"<?x>",
    b"<!x>",
    b"<\x0b",
    b"<img\x0bsrc=x>",
    b"<svg>",
    b"<svg/>",
    b"<video>",
    b"<image>",
    b"<imgx>",
    b"<feImage>",
    b"<PLAINTEXT>",
    b"<1",
    b"<\xff>",
    b"< ",
    b'<a b="c>',
    b"<a b= >",
    b"<a b=>",
    b"<a/b='c'/>",
    b"<a\x0cb>",
    b"</script>",
    b"</SCRIPT ",
    b"</scrIpt\x0b>",
    b"</script\x0c",
    b"</style/>",
    b"</</title>",
    b"</textareax>",
]
documents = st.lists(st.one_of(st.sampled_from(FRAGMENTS + EDGES), st.binary(max_size=12)), max_size=12).map(b"".join)
quick = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(documents, st.integers(min_value=0), st.booleans())
def test_the_scanner_stops_where_the_expression_stops(body: bytes, start: int, foreign: bool) -> None:
    position = start % (len(body) + 1)
    expected = (BULK_FOREIGN if foreign else BULK).match(body, position).end()
    assert source.plain_end(body, position, foreign) == expected
    assert scanner.plain_end(body, position, foreign) == expected


@quick
@given(documents, st.integers(min_value=0))
def test_start_tags_are_read_as_the_expression_reads_them(body: bytes, start: int) -> None:
    position = start % (len(body) + 1)
    match = START_TAG.match(body, position)
    expected = (match.end(1), match.end()) if match else (-1, -1)
    assert source.start_tag(body, position) == expected
    assert scanner.start_tag(body, position) == expected


def python_end_tag_at(body: bytes, name: bytes, start: int, stop: int) -> int:
    """The rewriter's own search, uncompiled: ``rewrite._find_end`` with the compiled scanner off."""
    try:
        rewrite_module.SCANNER_COMPILED = False
        return rewrite_module._find_end(body, b"</" + name, start, stop)
    finally:
        rewrite_module.SCANNER_COMPILED = scanner.COMPILED


@quick
@given(documents, st.sampled_from(sorted(RAW_TEXT)), st.integers(min_value=0), st.integers(min_value=0))
def test_end_tags_are_found_where_the_rewriter_finds_them(body: bytes, name: bytes, start: int, stop: int) -> None:
    start, stop = start % (len(body) + 2), stop % (len(body) + 20)
    expected = python_end_tag_at(body, name, start, stop)
    assert source.end_tag_at(body, name, start, stop) == expected
    assert scanner.end_tag_at(body, name, start, stop) == expected


@pytest.mark.parametrize("page", sorted((Path(__file__).parents[2] / "e2e/realworld/pages").glob("*.html"))[:40])
def test_real_pages_read_tags_and_end_tags_alike(page: Path) -> None:
    body = page.read_bytes()
    for position in range(body.find(b"<"), len(body)) if b"<" in body else ():
        if body[position] != 60:
            continue
        match = START_TAG.match(body, position)
        assert scanner.start_tag(body, position) == ((match.end(1), match.end()) if match else (-1, -1))
    for name in (b"script", b"style", b"title"):
        position = 0
        while position >= 0:
            found = scanner.end_tag_at(body, name, position, len(body))
            assert found == python_end_tag_at(body, name, position, len(body))
            position = -1 if found < 0 else found + 1


@pytest.mark.parametrize("page", sorted((Path(__file__).parents[2] / "e2e/realworld/pages").glob("*.html"))[:40])
def test_real_pages_stop_at_the_same_places(page: Path) -> None:
    body = page.read_bytes()
    for foreign in (False, True):
        position = 0
        while position < len(body):
            end = (BULK_FOREIGN if foreign else BULK).match(body, position).end()
            assert scanner.plain_end(body, position, foreign) == end
            position = end + 1


def test_the_installed_package_has_it_compiled() -> None:
    """The build compiles it (``hatch_build.py``); CONSENT_GATEWAY_PURE=1 builds without."""
    if os.environ.get("CONSENT_GATEWAY_PURE") == "1":
        pytest.skip("built without the compiled scanner on purpose")
    assert scanner.COMPILED, f"{scanner.__file__}: reinstall with `pip install -e .` and a C compiler"
    assert rewrite_module.SCANNER_COMPILED


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.lists(st.integers(min_value=0, max_value=40), max_size=20))
def test_the_rewriter_gives_the_same_page_with_either(body: bytes, chunks: list[int]) -> None:
    compiled = rewrite(body, chunks=chunks)
    try:
        rewrite_module.SCANNER_COMPILED = False
        expression = rewrite(body, chunks=chunks)
    finally:
        rewrite_module.SCANNER_COMPILED = scanner.COMPILED
    assert compiled == expression


MARKERS = (b"matomo.js", b"piwik.php")
attribute_text = st.lists(
    st.sampled_from(
        [
            b" src=",
            b"/",
            b"//",
            b"/\t\n/",
            b"/\r\\",
            b"\\",
            b":",
            b"&",
            b"(",
            b"x",
            b'"',
            b"'",
            b"MATOMO.JS",
            b"matomo.j",
            b"s",
            b"Piwik.PHP",
            b" href=a/b",
        ]
    ),
    max_size=12,
).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(attribute_text, st.sampled_from([(), MARKERS]))
def test_plainly_local_tags_are_told_as_the_rewriter_tells_them(attributes: bytes, markers: tuple) -> None:
    """What lets a tag the memo does not hold pass in C: no URL that could leave the page's host,
    no catalogued file name, in any case (``Rewriter._plainly_local``)."""
    expected = not (rewrite_module.SUSPECT.search(attributes) or any(m in attributes.lower() for m in markers))
    assert scanner.plainly_local(attributes, markers) == source.plainly_local(attributes, markers) == expected
