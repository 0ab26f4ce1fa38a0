"""The endpoints under the prefix (``/_consent``).

``routes`` (``ConsentAPI``: banner files, consent read/write, services,
health), ``preferences`` (the no-JavaScript preferences page, whose
template is ``templates/preferences.html``), ``declaration`` (the cookie
declaration: page, fragment, JSON and ``declaration.js``; templates
``declaration.html`` and ``declaration_fragment.html``), ``inuse`` (the
services each site uses, which the services list, the preferences page and
the declaration show), ``discovery`` (the banner's report of cookie names
found in ``document.cookie``), ``cors`` (the banner embedded on allowed
other origins) and ``dispatch`` (fixed paths found by dictionary before
Starlette's router). ``gateway.app`` mounts them beside the admin, metrics and collect
endpoints.
"""
