"""The languages the gateway speaks to visitors.

The banner ships a locale file for each (``banner/locales/<language>.json``);
category labels and the catalogue's purposes and retention periods are kept in
each, a text given in one language standing in for the others.
"""

from __future__ import annotations

LANGUAGES = ("nl", "en")
