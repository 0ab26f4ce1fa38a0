"""The banner as the gateway serves it.

``script`` renders ``banner.js`` with the site's settings, categories and
the tracker guard's data, and minifies the other scripts of ``banner/templates``
(the settings layer, ``declaration.js``); ``texts`` negotiates the visitor's language and
reads the texts from the banner's locale files (one per language).
"""
