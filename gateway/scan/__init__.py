"""``consent-gateway scan URL...``: crawl a site and record the third parties and cookies its pages use.

``crawl`` (the breadth-first walk over one site's pages: same host only, a
page limit, robots.txt, a line of progress per page, the summary, and the
sightings written to the store with source "scan"), ``page`` (what one
visit found, and why a page was skipped), ``robots`` (robots.txt through
``urllib.robotparser``), ``static`` (pages fetched over HTTP and read by the
page path's own rewriter: no script runs) and ``browser`` (pages loaded in
a real Chromium through Playwright, so script-inserted trackers and cookies
are seen; every request to another site is recorded and aborted).
"""
