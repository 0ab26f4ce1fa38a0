"""Discovery: which third parties and cookies each site uses, counted as pages pass.

``tally`` (sightings counted in memory per worker: pages by their frozen
sightings, cookie names by source), ``cookies`` (cookie-name syntax, the
names of a response's ``Set-Cookie`` and the names already known per site,
which the banner is told so it reports only new ones) and ``task`` (the
background task that moves the tally into the store every few seconds and
on shutdown). The rows themselves are ``gateway.store.discovery``'s; the
page rewriter collects a page's sightings (``gateway.pages.sightings``),
the banner reports ``document.cookie`` names (``gateway.api.discovery``)
and ``consent-gateway scan`` feeds the same table (``gateway.scan``).
"""
