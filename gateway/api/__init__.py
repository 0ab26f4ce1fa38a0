"""The endpoints under the prefix (``/_consent``).

``routes`` (``ConsentAPI``: banner files, consent read/write, services,
health), ``preferences`` (the no-JavaScript preferences page, whose
template is ``templates/preferences.html``) and ``cors`` (the banner
embedded on allowed other origins). ``gateway.app`` mounts them beside the
admin, metrics and collect endpoints.
"""
