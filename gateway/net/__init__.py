"""What a request says about where it comes from and where its URLs point.

``request`` (the headers the gateway reads, parsed once per request and
kept in the scope: cookies, GPC, host, where it comes from, the client
address behind trusted proxies), ``addresses`` (parsing, networks, trusted
proxies, anonymising), ``origin`` (origins compared, same-site), ``useragent``
(browser, device and bot classes), ``jsonbody`` (JSON request bodies parsed
within depth and number bounds) and ``urls`` (WHATWG URL resolution,
host matching and registrable domains, used for every tracker judgement).
"""
