"""The endpoints under the prefix (``/_consent``).

``routes`` (``ConsentAPI``: banner files, consent read/write, services,
health, and the mounted admin, preferences, metrics and collect apps),
``preferences`` (the no-JavaScript preferences page, whose template is
``templates/preferences.html``) and ``cors`` (the banner embedded on
allowed other origins).
"""
