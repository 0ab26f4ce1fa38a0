"""An independent reading of what a page makes the browser fetch: html5lib, tinycss2 and ada.

The rewriter's own tokenizer, CSS scanner and URL fast path are what is
under test, so none of them is used here: html5lib builds the tree the way
browsers do (foreign content, raw text, comments and all), tinycss2 reads
CSS as the CSS Syntax standard says, and ada resolves URLs by the WHATWG
URL standard.
"""

from __future__ import annotations

import ada_url
import html5lib
import tinycss2

HTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
JS_TYPES = {"", "text/javascript", "application/javascript", "module", "text/ecmascript", "application/x-javascript"}
FETCHING_RELS = {
    "stylesheet",
    "icon",
    "preload",
    "prefetch",
    "preconnect",
    "dns-prefetch",
    "modulepreload",
    "prerender",
}


def fetched_urls(markup: str, page_url: str) -> list[tuple[str, str]]:
    """``(where, absolute URL)`` for every http(s) URL the page would fetch or connect to as it is."""
    tree = html5lib.parse(markup, treebuilder="etree", namespaceHTMLElements=True)
    base = page_url
    for element in tree.iter():
        if element.tag == HTML + "base" and element.get("href") is not None:
            base = _absolute(element.get("href"), page_url) or page_url
            break
    found: list[tuple[str, str]] = []
    for element in tree.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        for where, url in _element_urls(tag, element, base):
            absolute = _absolute(url, base)
            if absolute is not None:
                found.append((where, absolute))
    return found


def _element_urls(tag: str, element, base: str):
    name = tag.rpartition("}")[2].lower()
    get = element.get
    if get("style"):
        yield from ((f"{name} style", url) for url in css_urls(get("style"), declarations=True))
    if tag == HTML + "script":
        if (get("type") or "").strip().lower() in JS_TYPES and get("src") is not None:
            yield "script src", get("src")
    elif tag == SVG + "script":
        for attribute in ("href", XLINK_HREF):
            if get(attribute):
                yield "svg script", get(attribute)
    elif tag in (HTML + "style", SVG + "style"):
        if (get("type") or "text/css").strip().lower() in ("", "text/css"):
            yield from (("style block", url) for url in css_urls("".join(element.itertext())))
    elif tag == HTML + "img":
        yield from _attribute_urls(element, "img", ("src",), ("srcset",))
    elif tag == HTML + "source":
        yield from _attribute_urls(element, "source", ("src",), ("srcset",))
    elif tag == HTML + "iframe":
        if get("srcdoc") is not None:
            yield from ((f"srcdoc {where}", url) for where, url in fetched_urls(get("srcdoc"), base))
        elif get("src"):
            yield "iframe src", get("src")
    elif tag in (HTML + "frame", HTML + "embed", HTML + "audio", HTML + "track", HTML + "input"):
        if get("src"):
            yield f"{name} src", get("src")
    elif tag == HTML + "video":
        yield from _attribute_urls(element, "video", ("src", "poster"), ())
    elif tag == HTML + "object" and get("data"):
        yield "object data", get("data")
    elif tag == HTML + "link":
        if FETCHING_RELS.intersection((get("rel") or "").lower().split()):
            yield from _attribute_urls(element, "link", ("href",), ("imagesrcset",))
    elif tag == HTML + "meta" and (get("http-equiv") or "").lower() == "refresh":
        content = get("content") or ""
        url = content.split("=", 1)[1] if "url=" in content.lower() else ""
        if url.strip():
            yield "meta refresh", url.strip().strip("'\"")
    elif tag in (SVG + "image", SVG + "use", SVG + "feImage"):
        for attribute in ("href", XLINK_HREF):
            if get(attribute):
                yield f"svg {name}", get(attribute)


def _attribute_urls(element, name: str, single: tuple[str, ...], listed: tuple[str, ...]):
    for attribute in single:
        if element.get(attribute):
            yield f"{name} {attribute}", element.get(attribute)
    for attribute in listed:
        for candidate in (element.get(attribute) or "").split(","):
            words = candidate.split()
            url = words[0] if words else ""
            if url:
                yield f"{name} {attribute}", url


def css_urls(css: str, declarations: bool = False) -> list[str]:
    """Every URL a stylesheet or a style attribute fetches, as tinycss2 tokenizes it."""
    tokens = tinycss2.parse_component_value_list(css)
    urls: list[str] = []
    _walk(tokens, urls, after_import=False)
    return urls


def _walk(tokens, urls: list[str], after_import: bool) -> None:
    previous_at_import = False
    for token in tokens:
        kind = token.type
        if kind == "url":
            urls.append(token.value)
        elif kind == "function":
            if token.lower_name == "url" or token.lower_name in ("image-set", "-webkit-image-set"):
                urls.extend(t.value for t in token.arguments if t.type == "string")
            _walk(token.arguments, urls, False)
        elif kind == "string" and previous_at_import:
            urls.append(token.value)
        elif kind in ("() block", "[] block", "{} block"):
            _walk(token.content, urls, False)
        if kind == "at-keyword":
            previous_at_import = token.lower_value == "import"
        elif kind not in ("whitespace", "comment"):
            previous_at_import = False


def _absolute(url: str, base: str) -> str | None:
    try:
        parsed = ada_url.URL(url, base)
    except ValueError:
        return None
    return parsed.href if parsed.protocol in ("http:", "https:") else None


def host_of(url: str) -> str:
    return ada_url.URL(url).hostname.rstrip(".")
