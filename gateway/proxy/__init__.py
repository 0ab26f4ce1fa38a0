"""The reverse proxy (``consent-gateway serve``).

``app`` (the ASGI app that sends each request upstream through the
middleware, and the 502 page, ``templates/upstream_error.html``),
``headers`` (what goes upstream and back: hop-by-hop headers,
``X-Forwarded-*``) and ``websocket`` (bridging upgraded connections).
"""
