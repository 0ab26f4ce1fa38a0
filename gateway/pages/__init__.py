"""The page pipeline: HTML responses rewritten on their way to the visitor.

``triage`` (``needs_work``: which responses the gateway must touch),
``relay`` (the ``send`` the middleware hands the app; responses that need
no work go straight through it), ``responder`` (one page's rewrite, from
response start to last byte), ``rewrite`` (the streaming HTML rewriter),
``scanner`` (its bulk scan and tag bounds, compiled with Cython), ``tagmemo`` (rewritten
start tags remembered across pages), ``echo`` (each page's last rewrite, whose unchanged
stretches the next page copies),
``styles`` (CSS ``url()`` held), ``encoding`` (compressed bodies), ``csp``
(nonces for the injected scripts), ``conditional`` (ETag and
Last-Modified), ``cache`` (the rewritten-page cache), ``figures``
(blocked-element metrics) and ``sightings`` (the third-party hosts a page
loads, by element kind, for discovery).
"""
