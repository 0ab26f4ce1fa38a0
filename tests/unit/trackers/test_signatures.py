"""The sampled signature index answers as asking every signature in turn would."""

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.trackers.catalogue import default_catalogue
from gateway.trackers.signatures import PIECE, STRIDE, InlineSignatures, normalise, samples_needed

REAL_PAGES = Path(__file__).resolve().parents[2] / "e2e" / "realworld" / "pages"
INLINE_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script", re.S | re.I)
CATALOGUE = default_catalogue()
SIGNATURES = [(normalise(signature), service) for service in CATALOGUE.services for signature in service.inline]
INDEX = InlineSignatures(SIGNATURES)
ORDERED = sorted(SIGNATURES, key=lambda pair: -len(pair[0]))


def every_one_in_turn(code: str):
    normalised = normalise(code)
    return next((service for signature, service in ORDERED if signature in normalised), None)


def test_normalising_drops_white_space_and_makes_quotes_one_kind() -> None:
    assert normalise("gtag( \"config\",\n\t'G-1' )") == "gtag('config','G-1')"
    assert normalise("fbq\r\f\v(") == "fbq("


@given(length=st.integers(0, 200), offset=st.integers(0, 50))
def test_a_signature_anywhere_covers_the_samples_it_is_said_to(length: int, offset: int) -> None:
    covered = [start for start in range(offset, offset + length - PIECE + 1) if start % STRIDE == 0]
    assert len(covered) >= samples_needed(length)


def test_the_catalogue_has_signatures_of_every_kind() -> None:
    """Short ones (always looked for) and long ones (found through samples) both occur."""
    assert len(INDEX) == len(SIGNATURES) > 500
    assert any(samples_needed(len(signature)) == 0 for signature, _ in SIGNATURES)
    assert any(samples_needed(len(signature)) >= 3 for signature, _ in SIGNATURES)


def test_every_signature_is_found_alone_and_inside_other_code() -> None:
    for signature, _ in SIGNATURES:
        for code in (signature, f"var x = 1;\n{signature}\nvar y = 2;", f"ab{signature}c"):
            assert INDEX.find(code) is every_one_in_turn(code) is not None, signature


def test_real_inline_scripts_get_the_same_answer() -> None:
    scripts = [
        body
        for page in sorted(REAL_PAGES.glob("*.html"))
        for body in INLINE_SCRIPT.findall(page.read_text(errors="replace"))
        if body.strip()
    ]
    answers = [every_one_in_turn(body) for body in scripts]
    assert len(scripts) > 1000 and sum(answer is not None for answer in answers) > 50
    assert [INDEX.find(body) for body in scripts] == answers


signature_text = st.sampled_from([signature for signature, _ in SIGNATURES])
filler = st.text(alphabet=st.sampled_from(list("abcfgqtx_.(){}'\" \n;=0123")), max_size=40)


@settings(max_examples=400)
@given(parts=st.lists(st.one_of(filler, signature_text, signature_text.map(lambda s: s[1:-1])), max_size=8))
def test_any_mixture_of_signatures_and_code_gets_the_same_answer(parts: list[str]) -> None:
    code = "".join(parts)
    assert INDEX.find(code) is every_one_in_turn(code)


def test_the_longest_signature_wins_whatever_comes_first() -> None:
    index = InlineSignatures([("fbq(", "short"), ("fbq('init',", "long"), ("_linkedin_partner_id", "other")])
    assert index.find("fbq('track'); fbq( 'init', '1')") == "long"
    assert index.find("fbq('track')") == "short"
    assert index.find("window._linkedin_partner_id=1; fbq('init', 2)") == "other"
    assert index.find("nothing here") is None
