"""What a request says about where it comes from and where its URLs point.

``addresses`` (peer and forwarded addresses, trusted proxies, anonymising),
``origin`` (scheme, host, Origin and Referer, same-site), ``headers`` (the
``Cookie`` header, however many lines it came in), ``useragent``
(browser, device and bot classes) and ``urls`` (WHATWG URL resolution,
host matching and registrable domains, used for every tracker judgement).
"""
