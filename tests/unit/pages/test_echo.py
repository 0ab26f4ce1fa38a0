"""A page's last rewrite copied into the next (gateway.pages.echo): the same pages out, far fewer bytes read."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rewrite import FRAGMENTS
from test_tagmemo import GA, GA_INLINE, HAND_OVER, PIXEL, STATEFUL, VIDEO

import gateway.pages.rewrite as rewrite_module
from gateway.pages.echo import ECHO_BUDGET, MAX_ECHOED_PAGE, PageEchoes
from gateway.pages.rewrite import RewritePolicy, Rewriter
from gateway.pages.tagmemo import TagMemo
from gateway.trackers.catalogue import default_catalogue
from gateway.trackers.thirdparty import ThirdParties

pytestmark = pytest.mark.skipif(not rewrite_module.SCANNER_COMPILED, reason="echoes need the compiled scanner")

STRICT = ThirdParties(default_catalogue(), strict=True)
NOTHING = frozenset({"functional"})
ANALYTICS = frozenset({"functional", "analytics"})
ALL = frozenset({"functional", "analytics", "marketing", "other"})
SITE = "www.leerplein.nl"
PAGE = "https://www.leerplein.nl/course/view.php"
BANNER = b"<script src=/_consent/banner.js></script>"


def rewrite(body, granted=NOTHING, memo=None, echoes=None, chunks=(), page=PAGE, head=BANNER):
    """(output, blocked labels, hosts noted) and the rewriter, fed ``body`` in pieces of ``chunks``."""
    policy = RewritePolicy(
        STRICT,
        granted,
        SITE,
        head_injection=head,
        placeholder=lambda held, language=None: f"blocked {getattr(held, 'id', held)} {language}",
        page_url=page,
        sightings=set(),
        memo=memo,
        echoes=echoes,
    )
    rewriter, out, start = Rewriter(policy), [], 0
    for size in chunks:
        out.append(rewriter.feed(body[start : start + size]))
        start += size
    out += [rewriter.feed(body[start:]), rewriter.finish()]
    return (b"".join(out), policy.blocked, policy.sightings), rewriter


def learning_page(session: bytes, learner: bytes = b"Sanne de Vries", sections: int = 40) -> bytes:
    """A course page as a learning platform makes it for one request."""
    head = (
        b"<!DOCTYPE html><html lang=nl><head><title>Cursus</title>"
        b'<meta name="csrf-token" content="' + session + b'">' + GA + GA_INLINE + b"<link rel=stylesheet href=/all.css>"
        b'<script>M.cfg = {"sesskey": "' + session + b'"};</script></head><body>'
    )
    menu = b"<nav>" + b"".join(b"<a href=/course/view.php?id=%d>Cursus %d</a>" % (n, n) for n in range(30)) + b"</nav>"
    user = (
        b"<div class=user>Ingelogd als <b>"
        + learner
        + b'</b> <a href="/login/logout.php?sesskey='
        + session
        + b'">Uit</a></div>'
    )
    body = b"".join(
        b"<section id=s%d><h2>Les %d</h2><p>Uitleg bij les %d &amp; opdrachten.</p>"
        b"<img src=/pluginfile.php/%d/les.png width=640 height=360>%s</section>"
        % (n, n, n, n, VIDEO if n % 10 == 3 else PIXEL if n % 10 == 7 else b"")
        for n in range(sections)
    )
    return head + menu + user + body + b"<footer>" + BANNER.replace(b"banner", b"site") + b"</footer></body></html>"


def warm(memo: TagMemo, body: bytes, granted=NOTHING, page=PAGE) -> None:
    for _ in range(2):  # the memo keeps a tag the second time it is offered
        rewrite(body, granted, memo, page=page)


def test_the_next_page_copies_what_came_back_unchanged() -> None:
    memo, echoes = TagMemo(), PageEchoes()
    warm(memo, learning_page(b"a" * 32))
    first, recorder = rewrite(learning_page(b"b" * 32), memo=memo, echoes=echoes)
    assert recorder.copied == 0 and len(echoes) == 1  # nothing was kept for the URL: this page is
    body = learning_page(b"c" * 32, learner=b"Mohammed El Amrani")
    second, replayer = rewrite(body, memo=memo, echoes=echoes)
    assert second == rewrite(body)[0]  # what a rewriter without memo or echo makes of it
    assert replayer.copied > 0.9 * len(body)
    assert "meta-pixel" in second[1] and "google-analytics" in second[1]  # labels of copied tags too
    assert second[0].count(b"data-consent-src=https://www.facebook.com/tr") == 4  # held, though copied


@pytest.mark.parametrize(("chunk", "share"), [(1, 0.0), (7, 0.0), (64, 0.25), (1000, 0.8)])
def test_pages_in_pieces_copy_and_are_kept_alike(chunk: int, share: float) -> None:
    """A page is copied from in stretches within the pieces its kept page came in: pieces of a few
    bytes give nothing to copy (and the page is rewritten as usual), larger ones nearly all."""
    memo, echoes = TagMemo(), PageEchoes()
    warm(memo, learning_page(b"a" * 32))
    kept = learning_page(b"b" * 32)
    rewrite(kept, memo=memo, echoes=echoes, chunks=[chunk] * (len(kept) // chunk))
    body = learning_page(b"session-key-of-another-length")
    pieces = [chunk + 3] * (len(body) // (chunk + 3))
    result, replayer = rewrite(body, memo=memo, echoes=echoes, chunks=pieces)
    assert result == rewrite(body)[0]
    assert replayer.copied >= share * len(body)


def test_other_grants_other_pages() -> None:
    """A visitor who granted more gets a page of their own: no copy across grants."""
    memo, echoes = TagMemo(), PageEchoes()
    for granted in (NOTHING, ALL):
        warm(memo, learning_page(b"a" * 32), granted)
        rewrite(learning_page(b"b" * 32), granted, memo, echoes)
    assert len(echoes) == 2
    for granted in (NOTHING, ALL):
        body = learning_page(b"c" * 32)
        result, replayer = rewrite(body, granted, memo, echoes)
        assert result == rewrite(body, granted)[0]
        assert replayer.copied > 0.9 * len(body)


def test_a_page_that_changed_is_kept_anew() -> None:
    memo, echoes = TagMemo(), PageEchoes()
    warm(memo, learning_page(b"a" * 32))
    rewrite(learning_page(b"b" * 32), memo=memo, echoes=echoes)
    other = b"<!DOCTYPE html><html><head></head><body>" + b"<p>Nieuw rooster</p><img src=/r.png>" * 200 + b"</body>"
    warm(memo, other)
    result, replayer = rewrite(other, memo=memo, echoes=echoes)
    assert result == rewrite(other)[0] and replayer.copied < len(other) / 2
    _, recorder = rewrite(other, memo=memo, echoes=echoes)  # the old one was dropped: this one is kept
    assert recorder.copied == 0
    _, replayer = rewrite(other, memo=memo, echoes=echoes)
    assert replayer.copied > 0.9 * len(other)


def test_a_page_kept_before_the_memo_knew_its_tags_is_kept_anew() -> None:
    """The first page of a URL comes with a cold memo: every tag ended a compiled pass, so its
    stretches are short. Once the memo knows the tags, a page rewritten now replaces it."""
    memo, echoes = TagMemo(), PageEchoes()
    _, first = rewrite(learning_page(b"a" * 32), memo=memo, echoes=echoes)
    kept = echoes.get((PAGE, NOTHING))
    _, second = rewrite(learning_page(b"b" * 32), memo=memo, echoes=echoes)  # tags kept now, on their 2nd offer
    assert echoes.get((PAGE, NOTHING)) is kept
    _, third = rewrite(learning_page(b"c" * 32), memo=memo, echoes=echoes)  # few passes: the kept page goes
    assert echoes.get((PAGE, NOTHING)) is None
    _, fourth = rewrite(learning_page(b"d" * 32), memo=memo, echoes=echoes)
    body = learning_page(b"e" * 32)
    result, fifth = rewrite(body, memo=memo, echoes=echoes)
    assert first.copied == fourth.copied == 0 and second.copied < 0.7 * len(body)
    assert fifth.copied > 0.9 * len(body) and result == rewrite(body)[0]


def test_one_page_of_a_url_is_kept_at_a_time(monkeypatch) -> None:
    """The first requests for a URL come together: one of them keeps its page, the others are
    rewritten as usual instead of each holding the page twice over. One that never ends yields."""
    import gateway.pages.echo as echo_module

    memo, echoes = TagMemo(), PageEchoes()
    body = learning_page(b"a" * 32)
    warm(memo, body)

    def started() -> Rewriter:
        policy = RewritePolicy(STRICT, NOTHING, SITE, head_injection=BANNER, page_url=PAGE, memo=memo, echoes=echoes)
        rewriter = Rewriter(policy)
        rewriter.feed(body[:100])
        return rewriter

    first, second = started(), started()
    assert first.recording is not None and second.recording is None
    for rewriter in (second, first):
        rewriter.feed(body[100:])
        rewriter.finish()
    assert len(echoes) == 1 and started().replay is not None
    echoes.forget((PAGE, NOTHING))
    abandoned = started()  # its visitor went away: it never finishes
    assert abandoned.recording is not None and started().recording is None
    later = echo_module.time.monotonic() + echo_module.RECORDING_TIMEOUT + 1
    monkeypatch.setattr(echo_module.time, "monotonic", lambda: later)
    assert started().recording is not None


def test_a_page_too_large_to_keep_holds_nothing_of_itself() -> None:
    """Past ``MAX_ECHOED_PAGE`` the recording lets go of the page and its output at once (a 100 MB
    stream goes through in constant memory), and another page of the URL may be kept."""
    memo, echoes = TagMemo(), PageEchoes()
    piece = learning_page(b"a" * 32)
    warm(memo, piece)
    policy = RewritePolicy(STRICT, NOTHING, SITE, head_injection=BANNER, page_url=PAGE, memo=memo, echoes=echoes)
    rewriter = Rewriter(policy)
    recording = rewriter.recording
    assert recording is not None
    fed = 0
    while fed <= MAX_ECHOED_PAGE:
        rewriter.feed(piece)
        fed += len(piece)
    assert rewriter.recording is None and recording.chunks is None and not recording.outputs
    assert echoes.may_record((PAGE, NOTHING))
    rewriter.finish()
    assert len(echoes) == 0


def test_without_a_memo_nothing_is_kept() -> None:
    echoes = PageEchoes()
    rewrite(learning_page(b"b" * 32), echoes=echoes)
    assert len(echoes) == 0


def test_kept_pages_stay_within_their_budget() -> None:
    memo, echoes = TagMemo(), PageEchoes(budget=200_000, entries=3)
    body = learning_page(b"a" * 32)
    warm(memo, body)
    for n in range(5):
        rewrite(body, memo=memo, echoes=echoes, page=f"{PAGE}/{n}")
    assert len(echoes) == 3 and echoes.size <= 200_000
    assert echoes.get((f"{PAGE}/0", NOTHING)) is None and echoes.get((f"{PAGE}/4", NOTHING)) is not None
    large = learning_page(b"a" * 32, sections=2000)
    assert len(large) > 200_000 / 2
    rewrite(large, memo=memo, echoes=echoes, page=f"{PAGE}/large")
    assert echoes.get((f"{PAGE}/large", NOTHING)) is None and echoes.size <= 200_000
    assert MAX_ECHOED_PAGE < ECHO_BUDGET


# Edits that land in the middle of markup: quotes, brackets, end tags and comments cut in two.
EDITS = [
    b"",
    b"x",
    b"<",
    b">",
    b'"',
    b"'",
    b"=",
    b" ",
    b"/",
    b"-->",
    b"<!--",
    b"</script",
    b"</script>",
    b"</scr",
    b"<img src=/x.png>",
    PIXEL,
    GA,
    b"<a href=/y>",
    b"</b>",
    b"<style>",
    b"<svg>",
    b"<base href=https://cdn.example/>",
]
documents = st.lists(
    st.sampled_from(
        [*FRAGMENTS, *STATEFUL, *HAND_OVER, GA, GA_INLINE, PIXEL, VIDEO, b"<p>tekst</p>", b"<img src=/a.png>"]
    ),
    min_size=1,
    max_size=14,
).map(b"".join)
edits = st.lists(
    st.tuples(st.floats(min_value=0, max_value=1), st.integers(min_value=0, max_value=12), st.sampled_from(EDITS)),
    max_size=4,
)
chunkings = st.lists(st.integers(min_value=1, max_value=80), max_size=10)
grants = st.sampled_from([NOTHING, ANALYTICS, ALL])


def edited(body: bytes, changes: list[tuple[float, int, bytes]]) -> bytes:
    for where, cut, insert in changes:
        at = int(where * len(body))
        body = body[:at] + insert + body[at + cut :]
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, edits, edits, grants, st.one_of(st.just([]), chunkings), st.one_of(st.just([]), chunkings))
def test_copying_from_the_last_page_gives_what_reading_gives(body, changes, more, granted, kept_chunks, chunks):
    """Any page after any other, in any pieces: output, labels and hosts as a rewriter without echo
    or memo makes them, for the page that is copied from and for the one kept after it."""
    memo, echoes = TagMemo(), PageEchoes()
    head = b"<!DOCTYPE html><html lang=nl><head>"
    kept, body = head + body, head + edited(body, changes)
    warm(memo, kept, granted)
    rewrite(kept, granted, memo, echoes, kept_chunks)
    for page in (body, edited(body, more)):
        result, _ = rewrite(page, granted, memo, echoes, chunks)
        assert result == rewrite(page, granted, chunks=chunks)[0]


REAL_PAGES = sorted((Path(__file__).parents[2] / "e2e/realworld/pages").glob("*.html"))


def made_for_one_request(body: bytes, seed: int) -> bytes:
    """``body`` as a later request could get it: a few tokens changed or put in, wherever they land
    (in text, in attribute values, in scripts and comments, cutting a tag or two)."""
    rng = random.Random(seed)
    for _ in range(6):
        at = rng.randrange(len(body))
        token = rng.choice([b"%032x" % rng.getrandbits(128), b"%d" % rng.getrandbits(40), b"Sanne", b"<", b'"'])
        body = body[:at] + token + body[at + rng.choice([0, 0, 1, 12]) :]
    return body


def copied_after_another_version(page: Path, pieces: int = 0) -> tuple[int, int]:
    """(bytes copied, bytes) of ``page`` rewritten after another version of itself, in pieces of
    ``pieces`` bytes (0: whole); its output is held to a rewriter's without echo or memo."""
    memo, echoes = TagMemo(), PageEchoes()
    body = page.read_bytes()
    kept = made_for_one_request(body, 1)
    warm(memo, kept)
    rewrite(kept, memo=memo, echoes=echoes)
    later = made_for_one_request(body, 2)
    chunks = [pieces] * (len(later) // pieces) if pieces else ()
    result, rewriter = rewrite(later, memo=memo, echoes=echoes, chunks=chunks)
    assert result == rewrite(later, chunks=chunks)[0]
    return rewriter.copied, len(later)


@pytest.mark.parametrize("page", REAL_PAGES, ids=lambda path: path.stem)
def test_real_pages_copied_from_their_last_rewrite_come_out_as_read(page: Path) -> None:
    """Pages saved from real sites, each rewritten after another version of itself, whole and in
    pieces of 4 KB: what a rewriter without echo or memo makes of them."""
    copied_after_another_version(page)
    copied_after_another_version(page, 4096)


def test_most_of_a_real_page_is_copied() -> None:
    """Over the saved pages, with a dozen changes between the two versions, three quarters of the
    bytes are copied (75 % when this was written). The rest: large scripts and style blocks the
    rewriter passes itself, and what follows each change up to the next tag it reads."""
    copied = total = 0
    for page in REAL_PAGES:
        page_copied, size = copied_after_another_version(page)
        copied, total = copied + page_copied, total + size
    assert copied > 0.65 * total
