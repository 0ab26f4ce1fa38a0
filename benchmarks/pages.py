"""Realistic learning-site pages for the benchmarks, built from the demo site's markup.

A course page of a typical LMS: navigation with many links, course cards,
lesson text, a few dozen images (most first-party), first-party scripts and
styles, the usual tracker snippets and an embedded video.

A logged-in LMS page differs on every request (session key, CSRF token, a
timestamp), so no cache ever serves it twice. ``course_page(..., dynamic=True)``
carries six nginx SSI commands where such a page has them:
an nginx with ``ssi on`` expands ``$request_id`` and ``$msec`` into them, and
every body it serves is different.
"""

from __future__ import annotations

import random

from gateway.templating import template

REQUEST_ID = b'<!--#echo var="request_id" -->'  # 32 random hex digits per request
MSEC = b'<!--#echo var="msec" -->'  # the time in seconds with milliseconds


def course_page(target_size: int, seed: int = 7, *, dynamic: bool = False) -> bytes:
    """About ``target_size`` bytes of course page; with ``dynamic``, the SSI commands a per-request page needs."""
    rng = random.Random(seed)
    base = template("demo/lesson.html").render(slug="excel", title="Excel voor beginners", summary="Formules").encode()
    head_extra = (
        b"".join(
            b'<link rel="stylesheet" href="/theme/styles.php/boost/%d/all">\n<script src="/lib/javascript.php/%d/lib/requirejs.js"></script>\n'  # noqa: E501
            % (n, n)
            for n in range(8)
        )
        + b'<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>\n'
    )
    nav = (
        b'<nav class="navbar"><ul>'
        + b"".join(
            b'<li class="nav-item"><a class="nav-link" href="/course/view.php?id=%d" title="Cursus %d">Cursus %d</a></li>'  # noqa: E501
            % (n, n, n)
            for n in range(60)
        )
        + b"</ul></nav>\n"
    )
    blocks = []
    n = 0
    while sum(map(len, blocks)) + len(base) + len(nav) + len(head_extra) < target_size:
        n += 1
        words = b" ".join(
            rng.choice([b"leerling", b"opdracht", b"les", b"toets", b"formule", b"grafiek", b"&amp;", b"cel"])
            for _ in range(40)
        )
        image = (
            b'<img src="/pluginfile.php/%d/mod_page/content/afbeelding-%d.png" alt="Afbeelding %d" width="640" height="360" loading="lazy">'  # noqa: E501
            % (n, n, n)
            if n % 4 == 0
            else b""
        )
        script = (
            b'<script>M.util.js_pending("block_%d"); require(["core/first"], function() { M.util.js_complete("block_%d"); });</script>'  # noqa: E501
            % (n, n)
            if n % 12 == 0
            else b""
        )
        blocks.append(
            b'<section class="activity modtype_page" id="module-%d" data-for="cmitem">'
            b'<div class="activity-item"><div class="activityname"><a href="/mod/page/view.php?id=%d" class="aalink stretched-link">'  # noqa: E501
            b'<span class="instancename">Les %d: werken met formules</span></a></div>'
            b'<div class="description"><p>%s</p>%s</div></div></section>%s\n' % (n, n, n, words, image, script)
        )
    if dynamic:
        head_extra += (
            b'<meta name="csrf-token" content="%s">\n'
            b'<script>M.cfg = {"wwwroot": "", "sesskey": "%s", "time": %s, "themerev": 7};</script>\n'
            % (REQUEST_ID, REQUEST_ID, MSEC)
        )
        nav = nav.replace(b"</ul>", b'<li><a href="/login/logout.php?sesskey=%s">Uitloggen</a></li></ul>' % REQUEST_ID)
        blocks.append(
            b'<form method="post" action="/course/completion.php"><input type="hidden" name="sesskey" value="%s">'
            b'<button>Les afronden</button></form>\n<p class="generated">Pagina gemaakt op %s</p>\n'
            % (REQUEST_ID, MSEC)
        )
    page = base.replace(b"</title>", b"</title>\n" + head_extra, 1).replace(
        b"<main>", b"<main>" + nav + b"".join(blocks), 1
    )
    return page
