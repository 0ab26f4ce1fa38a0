"""Statistics that need no consent: cookieless, aggregate page figures counted by the gateway itself.

Every HTML page answered 2xx to a visitor is counted as it passes, whatever
the visitor chose, by day and site under a handful of dimensions
(``gateway.store.statistics.DIMENSIONS``). Nothing is read from or written to
the visitor's device, and no identifier outlives the day it was made in.

``readings`` (what one request tells: browser and device, language, external
referrer, consent state), ``paths`` (a page's path as the figures show it,
with the operator's query parameters, and the groups it belongs to),
``visitors`` (whether a visitor is new today: a keyed hash under a random
salt of the day, held in memory only), ``tally`` (the per-worker counts,
one dictionary update per page, capped per dimension when drained),
``counter`` (the page path's hook, ``PageCounter.count``) and ``task`` (the
background task that moves the tally into the store every few seconds and
rolls old days up into months). The rows are ``gateway.store.statistics``'s.
"""
