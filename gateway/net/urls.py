"""Where a URL written in a page sends the browser: resolved as browsers resolve it.

Blocking is only as good as this answer. Browsers follow the WHATWG URL
standard, which accepts far more than ``urllib`` does: ``https:\\\\host\\path``,
``/\\host``, ``https:host`` on a page of another scheme, tabs and newlines
inside the URL, percent-encoded and fullwidth dots in the host, IPv4 written
in hex. Every URL that is not plainly same-host therefore goes through ada
(a WHATWG-conformant parser); the fast path below only answers for the two
shapes that make up nearly every URL of a page, and only when the answer
cannot differ from ada's.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import ada_url

# The WHATWG parser strips these from both ends and removes tab and newline everywhere.
C0_OR_SPACE = "".join(chr(code) for code in range(0x21))
TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
FETCHED_SCHEMES = frozenset({"http", "https"})
MEMO_SIZE = 8192

# "https://host/..." with a host that needs no decoding, mapping or IPv4 parsing.
_SIMPLE_ABSOLUTE = re.compile(r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*\.?)(?::[0-9]*)?(?=[/?#]|$)", re.IGNORECASE)
# Relative references that keep the base's host: a path ("a/b", "/a"), a query or a fragment.
# Anything with a ":" before the first "/", "?" or "#" could be a scheme, so it is not in here.
_SAME_HOST = re.compile(r"(?:/(?![/\\])|[?#]|[^:/\\?#]++(?:[/?#]|$)|$)")
# Characters a browser would percent-encode or treat specially in a path: such references go to the parser.
_PLAIN_REFERENCE = re.compile(r"[!$&'()*+,;=:@/?#A-Za-z0-9._~-]*+$")
_NUMERIC_LABEL = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)\.?$")


@dataclass(frozen=True, slots=True)
class Target:
    """What a fetch would be addressed to: scheme, host (ASCII, lower case, no trailing dot), path and query."""

    scheme: str
    host: str
    path: str
    query: str

    @property
    def href(self) -> str:
        """Scheme, host, path and query joined: a plain absolute URL for pattern matching."""
        return f"{self.scheme}://{self.host}{self.path}{self.query}"


_memo: dict[tuple[str, str], Target | None] = {}


def resolve(url: str, base: str) -> Target | None:
    """``url`` resolved against the absolute ``base``; ``None`` when it fetches nothing over HTTP.

    ``data:``, ``javascript:``, ``blob:``, ``about:`` and unparsable URLs give
    ``None``: they make no request to any host. Never raises.
    """
    key = (url, base)
    try:
        return _memo[key]
    except KeyError:
        pass
    except TypeError:
        return None
    if len(_memo) >= MEMO_SIZE:
        _memo.clear()
    found = _memo[key] = _resolve(url, base)
    return found


def _resolve(url: str, base: str) -> Target | None:
    if not isinstance(url, str) or not isinstance(base, str):
        return None
    cleaned = url.strip(C0_OR_SPACE)
    if "\t" in cleaned or "\n" in cleaned or "\r" in cleaned:
        cleaned = cleaned.translate(TAB_OR_NEWLINE)
    if "\\" not in cleaned and "%" not in cleaned:
        if _SAME_HOST.match(cleaned):
            return _with_base_host(cleaned, base)
        simple = _SIMPLE_ABSOLUTE.match(cleaned)
        if simple is not None and cleaned.isascii():
            host = simple.group(2).lower().rstrip(".")
            rest = cleaned[simple.end() :]
            if host and not _NUMERIC_LABEL.search(host) and "/." not in rest and _PLAIN_REFERENCE.match(rest):
                return Target(simple.group(1).lower(), host, *_path_and_query(rest))
    return _parsed(cleaned, base)


def _with_base_host(reference: str, base: str) -> Target | None:
    """A same-host reference: the base decides whether it is fetched at all (not from ``data:`` or ``about:``)."""
    base_target = resolve(base, base) if base else None
    if base_target is None:
        return None
    if "/." in reference or reference.startswith(".") or not _PLAIN_REFERENCE.match(reference):
        return _parsed(reference, base)
    if reference.startswith("/"):
        return Target(base_target.scheme, base_target.host, *_path_and_query(reference))
    if reference[:1] in ("?", "#", ""):
        path, query = base_target.path, base_target.query
        if reference.startswith("?"):
            query = _path_and_query(reference)[1]
        return Target(base_target.scheme, base_target.host, path, query)
    directory = base_target.path.rpartition("/")[0]
    return Target(base_target.scheme, base_target.host, *_path_and_query(directory + "/" + reference))


def _path_and_query(rest: str) -> tuple[str, str]:
    rest = rest.partition("#")[0]
    path, _, query = rest.partition("?")
    return (path or "/"), ("?" + query if query else "")


def _parsed(url: str, base: str) -> Target | None:
    try:
        parsed = ada_url.URL(url, base) if base else ada_url.URL(url)
    except (ValueError, TypeError, UnicodeError):  # unparsable; text with lone surrogates cannot be encoded
        return None
    scheme = parsed.protocol[:-1]
    if scheme not in FETCHED_SCHEMES:
        return None
    host = parsed.hostname.rstrip(".")
    if not host:
        return None
    return Target(scheme, host, parsed.pathname or "/", parsed.search)


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def normalise_path(path: str) -> str:
    """A URL path as a server may route it: unreserved characters decoded, backslashes and repeated
    slashes as one slash, dot segments resolved; ``*`` and ``?`` of patterns pass unchanged."""

    def decode(match: re.Match[str]) -> str:
        character = chr(int(match.group(1), 16))
        return character if character in _UNRESERVED else match.group().upper()

    path = _PERCENT.sub(decode, path.replace("\\", "/"))
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    trailing = "/" if path.endswith(("/", "/.", "/..")) and segments else ""
    return "/" + "/".join(segments) + trailing


def page_paths(url: str) -> tuple[str, ...]:
    """The paths a page URL reported in an analytics hit may stand for, normalised.

    A browser reads ``//cursus/les`` as host ``cursus``, a server log as the
    path ``/cursus/les``: both readings are given, so that a path policy can
    apply when either falls under it.
    """
    if not isinstance(url, str):
        return ("/",)
    target = resolve(url, "https://site.invalid/")
    readings = [normalise_path(target.path)] if target is not None else []
    if "://" not in url[:12]:
        readings.append(normalise_path(url.strip(C0_OR_SPACE).split("?", 1)[0].split("#", 1)[0]))
    return tuple(dict.fromkeys(readings)) or ("/",)


def host_matches(host: str, pattern: str) -> bool:
    """``pattern`` is a host, or ``*.domain`` for the domain and every subdomain of it."""
    if pattern.startswith("*."):
        root = pattern[2:]
        return host == root or host.endswith("." + root)
    return host == pattern


# Second-level labels under which a country's registrable names sit (example.co.uk, school.ac.nz).
GENERIC_SECOND_LEVELS = frozenset(
    {
        "ac",
        "co",
        "com",
        "edu",
        "gov",
        "govt",
        "gv",
        "ltd",
        "mil",
        "net",
        "nhs",
        "org",
        "plc",
        "sch",
        "school",
        "or",
        "ne",
        "go",
    }
)
# Hosting domains whose subdomains are separate sites run by different people.
SHARED_HOSTING = frozenset(
    {
        "github.io",
        "gitlab.io",
        "netlify.app",
        "vercel.app",
        "pages.dev",
        "web.app",
        "firebaseapp.com",
        "herokuapp.com",
        "azurewebsites.net",
        "cloudfront.net",
        "amazonaws.com",
        "appspot.com",
        "blogspot.com",
        "wordpress.com",
        "wixsite.com",
        "squarespace.com",
        "weebly.com",
        "tumblr.com",
        "substack.com",
        "ucoz.ru",
        "ucoz.net",
        "ucoz.com",
        "ucoz.ua",
        "narod.ru",
        "my1.ru",
        "at.ua",
        "3dn.ru",
        "moy.su",
        "do.am",
        "ukit.me",
        "tilda.ws",
        "webflow.io",
        "glitch.me",
        "onrender.com",
        "fly.dev",
        "translate.goog",
    }
)


@functools.lru_cache(maxsize=4096)  # asked for every third-party URL of every page; sites repeat hosts
def site_of(host: str) -> str:
    """The registrable part of ``host`` ("site" in the browser's sense), without the Public Suffix List.

    An IP address is its own site. A subdomain of a shared hosting domain
    (``a.github.io``) is a site of its own; under a country code with generic
    second levels (``co.uk``, ``ac.nz``) three labels count, elsewhere two.
    """
    if not host or host.startswith("[") or host.replace(".", "").isdigit():
        return host
    labels = host.split(".")
    for size in (2, 3):
        if ".".join(labels[-size:]) in SHARED_HOSTING and len(labels) > size:
            return ".".join(labels[-size - 1 :])
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in GENERIC_SECOND_LEVELS:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])
