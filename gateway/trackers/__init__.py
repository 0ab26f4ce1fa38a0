"""The one source of tracker knowledge.

``catalogue`` (services, hosts, cookies and categories, from
``catalogue.json``, plus essential infrastructure), ``signatures`` (which
service an inline script's code belongs to), ``thirdparty`` (the
judgement "same site / catalogued / essential / allowed / unknown" for one
URL), ``cookies`` (which cookies of a response or request belong to a
category not granted) and ``paths`` (per-path analytics policies).
"""
