"""Tracker cookies on the wire: keep them from being set, and expire the ones already there.

Pure functions over raw ASGI header tuples and the request's parsed head; the
middleware decides when to call them. Which cookie belongs to which consent category is the catalogue's
business, never this module's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from gateway.net.request import RequestHead
from gateway.trackers.catalogue import Catalogue

SET_COOKIE = b"set-cookie"
EXPIRED = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"

# Second-level labels under which registrations happen one level deeper
# (school.ac.uk, shop.com.au). Not the Public Suffix List: going one level too
# high only costs a Set-Cookie that the browser rejects, while going too low
# would leave a tracker cookie behind, so a short list of the common ones does.
MULTI_PART_SUFFIXES = frozenset(
    {
        "ac.uk",
        "co.uk",
        "gov.uk",
        "ltd.uk",
        "me.uk",
        "net.uk",
        "org.uk",
        "plc.uk",
        "sch.uk",
        "ac.be",
        "ac.at",
        "co.at",
        "or.at",
        "com.au",
        "edu.au",
        "gov.au",
        "net.au",
        "org.au",
        "ac.nz",
        "co.nz",
        "govt.nz",
        "org.nz",
        "school.nz",
        "ac.jp",
        "co.jp",
        "ne.jp",
        "or.jp",
        "ac.za",
        "co.za",
        "org.za",
        "co.in",
        "co.kr",
        "co.il",
        "ac.il",
        "com.br",
        "com.cn",
        "com.hk",
        "com.mx",
        "com.sg",
        "com.tr",
        "edu.tr",
    }
)

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def filter_set_cookies(
    headers: list[tuple[bytes, bytes]],
    granted: frozenset[str],
    catalogue: Catalogue,
    protected: set[str],
) -> list[tuple[bytes, bytes]]:
    """``headers`` without the ``Set-Cookie`` lines for cookies of a category not in ``granted``.

    Cookies in ``protected`` (the consent cookie, the site's own session) and
    cookies the catalogue does not know pass untouched; order is kept.
    """
    kept = []
    for name, value in headers:
        if name.lower() == SET_COOKIE:
            cookie = set_cookie_name(value)
            if cookie and cookie not in protected:
                category = catalogue.category_of_cookie(cookie)
                if category is not None and category not in granted:
                    continue
        kept.append((name, value))
    return kept


def expiry_headers(
    request_cookie_names: Iterable[str],
    denied: Iterable[str],
    host: str,
    catalogue: Catalogue,
) -> list[tuple[bytes, bytes]]:
    """``Set-Cookie`` headers expiring every request cookie whose category is in ``denied``.

    A script may have set a cookie for the host alone or for any parent domain
    up to the registrable one (GA's ``_ga`` sits on ``.example.nl`` when the
    page is ``www.example.nl``), and a browser only drops a cookie when the
    domain matches, so each is expired in every place it can be. Cookies set
    with a ``Path`` other than ``/`` are out of reach.
    """
    denied = frozenset(denied)
    domains = cookie_domains(host)
    headers = []
    for name in dict.fromkeys(request_cookie_names):
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            continue
        if catalogue.category_of_cookie(name) not in denied:
            continue
        secure = "; Secure" if name.startswith(("__Secure-", "__Host-")) else ""
        for domain in domains[:1] if name.startswith("__Host-") else domains:
            value = f"{name}=; {EXPIRED}{secure}" + (f"; Domain=.{domain}" if domain else "")
            headers.append((SET_COOKIE, value.encode("latin-1")))
    return headers


def cookie_domains(host: str) -> list[str | None]:
    """Where a cookie for ``host`` can live: ``None`` for the host alone, then each domain up to the registrable one.

    ``www.leren.example.nl`` gives ``[None, "www.leren.example.nl",
    "leren.example.nl", "example.nl"]``. IP addresses, single labels
    (``localhost``) and public suffixes get the host-only place alone.
    """
    host = _bare_host(host)
    if not host or _is_ip(host):
        return [None]
    labels = host.split(".")
    keep = 3 if ".".join(labels[-2:]) in MULTI_PART_SUFFIXES else 2
    if len(labels) < keep:
        return [None]
    return [None, *(".".join(labels[i:]) for i in range(len(labels) - keep + 1))]


def set_cookie_name(value: bytes) -> str:
    """The cookie name of one ``Set-Cookie`` header value; empty when it has none."""
    pair = value.split(b";", 1)[0]
    if b"=" not in pair:
        return ""
    return pair.split(b"=", 1)[0].strip().decode("latin-1")


def _bare_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def expire_denied(
    head: RequestHead, granted: frozenset[str], categories: Iterable[str], catalogue: Catalogue
) -> list[tuple[bytes, bytes]]:
    """Expiry headers for the tracker cookies this request still carries of categories not granted."""
    denied = [c for c in categories if c not in granted]
    return expiry_headers(head.cookies.keys(), denied, head.host, catalogue)
