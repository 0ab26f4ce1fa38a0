"""What the middleware does to each response of the wrapped site.

Every response: ``Set-Cookie`` headers for categories the visitor has not
granted are dropped. HTML pages besides: decoded if compressed, rewritten so
trackers stay inert, the banner and a Consent Mode default placed first in
``<head>``, cookies of denied categories the browser still holds expired,
and re-encoded. The start message is held until the first body chunk shows
whether the body arrives whole (exact ``Content-Length``) or streamed
(no length). A page that announces a length small enough is waited for and
rewritten once per consent state; the same bytes again come from the page
cache (``gateway.pages.cache``). Neutralised pages are the same for every visitor without
consent; a page with live trackers is marked ``private`` so no shared cache
can hand it to someone who did not consent.
"""

from __future__ import annotations

import functools
import html
import logging
from enum import Enum
from typing import NamedTuple
from urllib.parse import urlencode

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Scope, Send

from gateway.banner.script import Banner
from gateway.banner.texts import texts
from gateway.collect.page import FirstPartyPages
from gateway.discovery.cookies import KnownCookies, set_cookie_names
from gateway.discovery.tally import Tally, page_seen, site_name
from gateway.languages import LANGUAGES
from gateway.metrics.registry import Registry
from gateway.net.request import RequestHead, request_head
from gateway.net.urls import Target
from gateway.pages import csp
from gateway.pages.cache import PageCache, RewrittenPage, page_key, reusable, shared_validator
from gateway.pages.conditional import consent_state, tag_for_state, translate_if_none_match
from gateway.pages.echo import PageEchoes
from gateway.pages.encoding import SUPPORTED, PageTooLarge, Transcoder
from gateway.pages.figures import PageMetrics
from gateway.pages.rewrite import FontUrls, RewritePolicy, Rewriter
from gateway.pages.tagmemo import TagMemo
from gateway.pages.triage import Kind, Work
from gateway.settings import Settings
from gateway.statistics.counter import PageCounter
from gateway.trackers.catalogue import Catalogue, Service
from gateway.trackers.cookies import expire_denied, filter_set_cookies
from gateway.trackers.thirdparty import ThirdParties

logger = logging.getLogger("gateway.pages.responder")

CSP_HEADERS = ("content-security-policy", "content-security-policy-report-only")
CSP_HEADER_NAMES = frozenset(name.encode() for name in CSP_HEADERS)
# Requests whose answer the browser shows as a page: they get the banner. Pages fetched by a
# script (Sec-Fetch-Dest: empty) are still rewritten but get no banner of their own.
DOCUMENT_DESTINATIONS = frozenset({"document", "iframe", "frame", "embed", "object"})
CONDITIONAL_HEADERS = frozenset({b"if-none-match", b"range", b"if-range"})
IDENTITY = ("identity", "")
HOLDER_KEY = "consent_gateway.page_responder"


def holds_start(scope: Scope) -> bool:
    """Is the start of this request's response still held by its page responder (not sent on yet)?"""
    responder = scope.get(HOLDER_KEY)
    return responder is not None and responder.held_start is not None


MARKED_HEADS = 1024  # sets of page headers whose marked version is kept; all are dropped when full

CONSENT_MODE_DEFAULT = (
    "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('consent','default',{ad_storage:'denied',ad_user_data:'denied',ad_personalization:'denied',"
    "analytics_storage:'denied',wait_for_update:500});"
)


class PageRules:
    """Everything about page handling that is settled at start-up."""

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        banner: Banner,
        metrics: Registry | None = None,
        fonts: FontUrls | None = None,
        *,
        tally: Tally | None = None,
        known_cookies: KnownCookies | None = None,
        statistics: PageCounter | None = None,
    ) -> None:
        self.settings = settings
        self.fonts = fonts  # where the gateway serves a font CDN's URL (``gateway.fonts``); None: fonts are off
        # Discovery (``gateway.discovery``): pages and Set-Cookie names counted, known names told to the banner.
        self.tally = tally
        self.known_cookies = known_cookies
        self.statistics = statistics  # page views counted for the figures (``gateway.statistics``); None: off
        self._placeholders: dict[tuple, str] = {}  # placeholder pages by language, path and service
        self._site_injections: dict[bytes, bytes] = {}
        self.page_metrics = PageMetrics(metrics if metrics is not None else Registry(), catalogue)
        self.catalogue = catalogue
        self.third_parties = ThirdParties(
            catalogue,
            strict=settings.blocking == "strict",
            allowed_hosts=settings.allowed_hosts,
            site_hosts=settings.site_hosts,
        )
        self.banner = banner
        self.required = settings.categories[0].name
        self.protected_cookies = {settings.cookie_name}
        self.consent_cookie = settings.cookie_name.encode()
        self._states: dict[frozenset[str], str] = {}
        self.marked_heads: dict[tuple, list[tuple[bytes, bytes]]] = {}  # see PageResponder.mark_page
        self.page_cache = PageCache(settings.page_cache_size)
        self.tag_memo = TagMemo()  # rewritten start tags: dynamic pages repeat them (``gateway.pages.tagmemo``)
        self.page_echoes = PageEchoes()  # each page's last rewrite, for the next (``gateway.pages.echo``)
        self._plain_injection: bytes | None = None
        # First-party analytics: gtag's transport and catalogued tracker scripts pointed at the gateway.
        self.first_party = FirstPartyPages(settings)
        self.consent_mode = CONSENT_MODE_DEFAULT + self.first_party.snippet

    def is_font_host(self, host: str) -> bool:
        """Is ``host`` a font CDN the gateway serves first-party?"""
        return self.fonts is not None and self.fonts(Target("https", host, "/", "")) is not None

    def adjust_conditional(self, scope: Scope, granted: frozenset[str]) -> bool:
        """Adjust conditional and range headers before the app sees them; true when the visitor
        revalidates a page of this consent state."""
        headers = scope["headers"]
        ours = False
        document = False
        for name, value in headers:
            if name == b"sec-fetch-dest":
                document = document or value in (b"document", b"iframe", b"frame")
            elif name == b"accept":
                document = document or b"text/html" in value
        kept = []
        for name, value in headers:
            if name == b"if-none-match":
                translated, matched = translate_if_none_match(value.decode("latin-1"), self.state(granted))
                ours = ours or matched
                if translated is not None:
                    kept.append((name, translated.encode("latin-1")))
            elif name in (b"range", b"if-range") and document:
                continue  # a slice of a page cannot be rewritten: pages are always sent whole
            else:
                kept.append((name, value))
        scope["headers"] = kept
        return ours

    def state(self, granted: frozenset[str]) -> str:
        if granted not in self._states:
            self._states[granted] = consent_state(granted, self.banner.version)
        return self._states[granted]

    def head_injection(self, nonce: str | None, host: str = "") -> bytes:
        """The Consent Mode default and the banner's tag; for a page of ``host``, with the cookie names
        discovery knows for its site, when discovery is on."""
        known = self.known_cookies
        if known is not None and host:
            attribute = known.attribute(site_name(host))
            if nonce is not None:
                return self._make_head_injection(nonce, attribute)
            injection = self._site_injections.get(attribute)
            if injection is None:
                if len(self._site_injections) >= MARKED_HEADS:
                    self._site_injections.clear()
                injection = self._site_injections[attribute] = self._make_head_injection(None, attribute)
            return injection
        if nonce is None:
            if self._plain_injection is None:
                self._plain_injection = self._make_head_injection(None)
            return self._plain_injection
        return self._make_head_injection(nonce)

    def _make_head_injection(self, nonce: str | None, attributes: bytes = b"") -> bytes:
        nonce_attribute = f' nonce="{nonce}"' if nonce else ""
        consent_mode = f"<script{nonce_attribute}>{self.consent_mode}</script>".encode()
        # The default comes first: the banner may send an update for a stored choice at once.
        return consent_mode + self.banner.script_tag(nonce, attributes)

    def count_set_cookies(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
        """Discovery: the names of the cookies a page of the site sets (before any is filtered out)."""
        names = set_cookie_names(headers)
        if names and self.tally is not None:
            site = site_name(request_head(scope, self.settings.trusted_proxies).host)
            self.tally.count_cookies(site, names, "set-cookie")
            if self.known_cookies is not None:
                self.known_cookies.add(site, names)  # the banner need not report them

    def placeholder(self, default_language: str, next_path: str):
        """A small page shown inside a blocked embed: what it is, and where to allow it, in the page's
        language (its ``<html lang>``) when the gateway speaks it, else in ``default_language``.

        Made once per language, page path and service: the pages of a site repeat their embeds."""
        made = self._placeholders

        def placeholder(held: Service | str, page_language: str | None = None) -> str:
            language = spoken(page_language, default_language)
            key = (language, next_path, held) if isinstance(held, str) else (language, next_path, None, held.id)
            page = made.get(key)
            if page is None:
                if len(made) >= MARKED_HEADS:
                    made.clear()
                page = made[key] = render(held, language)
            return page

        def render(held: Service | str, language: str) -> str:  # only built for a held embed
            t = texts(language)
            query = urlencode({"lang": language, "next": next_path})
            link = html.escape(f"{self.settings.prefix}/preferences?{query}")
            name = held.label(language) if isinstance(held, Service) else held
            title = held.title(language) if isinstance(held, Service) else held
            heading = f"<p><strong>{html.escape(title)}</strong></p>" if title != name else ""
            message = t["embed_blocked"].format(service=html.escape(name))
            return (
                f'<!doctype html><html lang="{language}"><body style="margin:0;display:grid;place-items:center;'
                "min-height:100vh;font:15px/1.4 system-ui,sans-serif;background:#f1f0ec;color:#1a1a1a;"
                'text-align:center">'
                f'<div style="padding:1rem">{heading}<p>{message}</p><a href="{link}" target="_top" '
                'style="display:inline-block;margin:.25rem;padding:.5rem 1rem;background:#0b4f8a;color:#fff;'
                "border:2px solid #0b4f8a;border-radius:.375rem;text-decoration:none;font-weight:600;"
                f'font-size:15px;line-height:1.4">{html.escape(t["embed_settings"])}</a></div></body></html>'
            )

        return placeholder


def spoken(page_language: str | None, default: str) -> str:
    """The language of ``<html lang="...">`` (``en-GB`` is ``en``) when the gateway speaks it, else ``default``."""
    primary = (page_language or "").strip().split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else default


@functools.lru_cache(maxsize=4096)
def tagged(etag: bytes, state: str) -> bytes:
    """The site's ``etag`` marked with the consent ``state`` (pages and states repeat: kept)."""
    return tag_for_state(etag.decode("latin-1"), state).encode("latin-1")


def marked_headers(raw: list[tuple[bytes, bytes]], private: bool, state: str) -> list[tuple[bytes, bytes]]:
    """``PageResponder.mark_page`` done: one pass over the raw headers.

    The first ``Vary`` gets ``Cookie``, the first ``Cache-Control`` (when
    private) and ``ETag`` are replaced and later copies of them dropped,
    ``Last-Modified`` goes, since revalidation goes by the consent-aware ETag only.
    """
    marked: list[tuple[bytes, bytes]] = []
    seen: set[bytes] = set()
    for name, value in raw:
        if name == b"vary" and name not in seen:
            value = value + b", Cookie"
        elif name == b"cache-control" and private:
            if name in seen:
                continue
            value = make_private(value.decode("latin-1")).encode("latin-1")
        elif name == b"etag":
            if name in seen:
                continue
            value = tagged(value, state)
        elif name == b"last-modified":
            continue
        seen.add(name)
        marked.append((name, value))
    if b"vary" not in seen:
        marked.append((b"vary", b"Cookie"))
    if private and b"cache-control" not in seen:
        marked.append((b"cache-control", b"private"))
    return marked


def make_private(cache_control: str) -> str:
    kept = [
        d.strip()
        for d in cache_control.split(",")
        if d.strip() and d.strip().split("=")[0].lower() not in ("public", "s-maxage")
    ]
    return ", ".join(["private", *kept])


class Stage(Enum):
    """Where a response stands once its start is seen: what its next body message gets."""

    DONE = "done"  # nothing (more) to change: every message goes on as it is
    COLLECTING = "collecting"  # a page small enough to wait for: start held, chunks kept until it is whole
    HOLDING = "holding"  # a page to rewrite: start held until a body chunk shows whether the body is whole
    STREAMING = "streaming"  # start sent: each chunk is rewritten as it comes
    DISCARDING = "discarding"  # the body could not be decoded after the start went out: the rest is dropped


class PageRequest(NamedTuple):
    """What pages need from the request, read only once the response turns out to be a page (most are not)."""

    host: str
    subresource: bool  # fetched by a script (Sec-Fetch-Dest empty and kin): rewritten, but no banner of its own
    has_cookies: bool  # the browser still holds cookies: those of denied categories get expired
    personal: bool  # carries site cookies or credentials: the page may be the visitor's own, never shared

    @classmethod
    def read(cls, head: RequestHead, consent_cookie: bytes) -> PageRequest:
        cookie, dest = head.cookie, head.fetch_dest
        personal = head.authorization is not None or (
            cookie is not None and carries_site_cookies(cookie, consent_cookie)
        )
        return cls(head.host, dest is not None and dest not in DOCUMENT_DESTINATIONS, cookie is not None, personal)


def carries_site_cookies(cookie: bytes, consent_cookie: bytes) -> bool:
    """Any cookie besides the gateway's own consent cookie?"""
    return any(part.split(b"=", 1)[0].strip() != consent_cookie for part in cookie.split(b";"))


class PageResponder:
    """One per response whose start shows it needs work (``gateway.pages.triage``); most responses get none.

    ``on_start`` takes the start and settles the ``stage``; ``send_after_start``
    takes every later message and hands each body chunk to what the stage says.
    """

    stage: Stage  # set by on_start
    held_start: Message | None = None  # the start, while the stage is COLLECTING or HOLDING
    request: PageRequest  # read by on_page_start
    rewriter: Rewriter | None = None  # made once a body has to go through it (a cached page needs none)
    transcoder: Transcoder | None = None
    encoding = "identity"  # the response's Content-Encoding, normalised
    nonce: str | None = None  # for the injected scripts, when the site has a restrictive CSP
    collected: list[bytes]  # body chunks kept while COLLECTING
    collected_size = 0
    validator: bytes | None = None  # the site's ETag, when it may stand in for the page's digest
    cacheable = False  # the page cache may keep this page (``gateway.pages.cache.reusable``)

    def __init__(self, rules: PageRules, granted: frozenset[str], scope: Scope, send: Send) -> None:
        self.rules = rules
        self.granted = granted
        self.scope = scope
        self.send = send

    @property
    def state(self) -> str:
        """The consent state pages for this visitor are marked with."""
        return self.rules.state(self.granted)

    async def send_after_start(self, message: Message) -> None:
        """The ``send`` for the messages after the start."""
        if self.stage is Stage.DONE or message["type"] != "http.response.body":
            await self.send(message)
        elif self.stage is not Stage.DISCARDING:
            await self.on_body(message)

    async def on_start(self, message: Message, work: Work) -> None:
        """The start of a response that needs ``work``: sent on, or, for a page to rewrite, held (the body
        shows how it goes out)."""
        if work.sets_cookies:
            if work.kind is Kind.PAGE and self.rules.tally is not None:
                self.rules.count_set_cookies(self.scope, message["headers"])
            message["headers"] = filter_set_cookies(
                list(message["headers"]), self.granted, self.rules.catalogue, self.rules.protected_cookies
            )
        if work.kind is Kind.PAGE:
            await self.on_page_start(message, work.sets_cookies)
            return
        if work.kind is Kind.NOT_MODIFIED:
            self.mark_page(message.setdefault("headers", []))
        self.stage = Stage.DONE
        await self.send(message)

    async def on_page_start(self, message: Message, sets_cookies: bool) -> None:
        """The start of a page: marked for the consent state and held back when its body is to be rewritten."""
        head = request_head(self.scope, self.rules.settings.trusted_proxies)
        if self.rules.statistics is not None:
            self.rules.statistics.count(self.scope, head, message["status"])
        request = self.request = PageRequest.read(head, self.rules.consent_cookie)
        raw = message.setdefault("headers", [])
        etag = cache_control = vary = b""
        encoding: bytes | None = None
        length: bytes | None = None
        has_csp = dated = False
        for name, value in raw:
            if name == b"content-length":
                length = value if length is None else length
            elif name == b"etag":
                etag = etag or value
            elif name == b"last-modified":
                dated = True
            elif name == b"content-encoding":
                encoding = value if encoding is None else encoding
            elif name == b"cache-control":
                cache_control += value + b","
            elif name == b"vary":
                vary += value + b","
            elif name in CSP_HEADER_NAMES:
                has_csp = True
        if request.has_cookies:
            categories = self.rules.settings.category_names
            raw.extend(expire_denied(head, self.granted, categories, self.rules.catalogue))
        self.mark_page(raw)
        self.encoding = "identity" if encoding is None else encoding.decode("latin-1").strip().lower()
        rewritable = message["status"] not in (204, 206, 304) and self.scope.get("method") != "HEAD"
        if not rewritable or self.encoding not in SUPPORTED:
            if self.scope.get("method") == "HEAD" and length is not None:
                # the GET body is rewritten: its length is not known here
                raw[:] = [(name, value) for name, value in raw if name != b"content-length"]
            self.stage = Stage.DONE
            await self.send(message)
            return
        self.validator = shared_validator(etag, cache_control, vary, sets_cookies, request.personal)
        self.cacheable = self.rules.page_cache.enabled and reusable(bool(etag) or dated, cache_control, sets_cookies)
        if has_csp:
            self.nonce = self.sign_csp(MutableHeaders(raw=raw))
        self.held_start = message
        self.scope[HOLDER_KEY] = self  # a start held here has not reached the visitor (see ``holds_start``)
        if length is not None and length.isdigit() and int(length) <= self.rules.page_cache.max_page:
            # Small enough to wait for: sent with its length (or the 502 page when the site breaks off),
            # and kept in the page cache when a cache could serve it again.
            self.collected = []
            self.stage = Stage.COLLECTING
        else:
            self.stage = Stage.HOLDING

    def sign_csp(self, headers: MutableHeaders) -> str | None:
        """A nonce for the injected scripts, added to each restrictive Content-Security-Policy; ``None`` if none."""
        nonce = None
        for name in CSP_HEADERS:
            values = headers.getlist(name)
            updated = values
            if any(csp.has_restriction(value) for value in values):
                nonce = nonce or csp.new_nonce()
                updated = [csp.add_nonce(value, nonce) for value in updated]
            if self.rules.fonts is not None:
                updated = [csp.allow_own_fonts(value, self.rules.is_font_host) for value in updated]
            if updated != values:
                del headers[name]
                for value in updated:
                    headers.append(name, value)
        return nonce

    def start_rewriter(self, streaming: bool = False) -> Rewriter:
        """The rewriter, made when a body has to be rewritten (not for a page from the cache).

        A whole page always marks where the banner goes (the page cache serves it to
        documents and scripts alike); a streamed one carries the banner only when it is a document."""
        if self.rewriter is None:
            self.rewriter = Rewriter(
                self.policy(self.injection() if streaming else self.rules.head_injection(self.nonce))
            )
        return self.rewriter

    def start_transcoder(self) -> Transcoder:
        """The decoder and encoder of the response's Content-Encoding, made when a body needs one."""
        if self.transcoder is None:
            self.transcoder = Transcoder(self.encoding, self.rules.settings.max_page_size)
        return self.transcoder

    def policy(self, head_injection: bytes) -> RewritePolicy:
        # The page's language (its <html lang>), else the site's: whatever the browser prefers.
        language = self.rules.settings.default_language
        path = self.scope.get("path", "/")
        return RewritePolicy(
            third_parties=self.rules.third_parties,
            granted=self.granted,
            site_host=self.request.host,
            head_injection=head_injection,
            placeholder=self.rules.placeholder(language, path),
            first_party=self.rules.first_party.script_url if self.rules.first_party.active else None,
            fonts=self.rules.fonts,
            page_url=f"{self.scope.get('scheme', 'http')}://{self.request.host or 'localhost'}{path}",
            sightings=set() if self.rules.tally is not None else None,
            memo=self.rules.tag_memo,
            echoes=self.rules.page_echoes,
        )

    def injection(self) -> bytes:
        """The banner and Consent Mode default for this page; nothing for a page a script fetched."""
        return b"" if self.request.subresource else self.rules.head_injection(self.nonce, self.request.host)

    def mark_page(self, raw: list[tuple[bytes, bytes]]) -> None:
        """A page for this consent state: its own validator, varied by cookie, private when trackers are live.

        A site sends the same headers with a page again and again, so the result is kept per headers and state.
        """
        private = bool(self.granted - {self.rules.required})
        key = (tuple(raw), private, self.state)
        try:
            marked = self.rules.marked_heads.get(key)
        except TypeError:  # headers as lists, which ASGI allows: not kept
            raw[:] = marked_headers(raw, private, self.state)
            return
        if marked is None:
            marked = marked_headers(raw, private, self.state)
            if len(self.rules.marked_heads) >= MARKED_HEADS:
                self.rules.marked_heads.clear()
            self.rules.marked_heads[key] = marked
        raw[:] = marked

    async def on_body(self, message: Message) -> None:
        more_body = message.get("more_body", False)
        body = message.get("body", b"")
        if self.stage is Stage.COLLECTING:
            self.collected.append(body)
            self.collected_size += len(body)
            if more_body and self.collected_size <= self.rules.page_cache.max_page:
                return
            body = b"".join(self.collected)
            self.collected.clear()
            self.stage = Stage.HOLDING
            if more_body:  # longer than announced: stream it after all
                message = {**message, "body": body}
        if self.stage is Stage.HOLDING and not more_body:
            await self.send_whole(body)
        else:
            await self.send_streamed(message, body, more_body)

    async def send_streamed(self, message: Message, body: bytes, more_body: bool) -> None:
        """One chunk of a body that comes in pieces, rewritten as it comes; the held start goes with the first."""
        rewriter, transcoder = self.start_rewriter(streaming=True), self.start_transcoder()
        try:
            decoded = transcoder.decode(body)
        except ValueError as error:
            await self.give_up(message, error)
            return
        rewritten = rewriter.feed(decoded) + (b"" if more_body else rewriter.finish())
        if not more_body:
            self.rules.page_metrics.count(tuple(rewriter.policy.blocked))
            seen = page_seen(rewriter.policy.site_host, rewriter.policy.third_parties_seen())
            if seen is not None and self.rules.tally is not None:
                self.rules.tally.count_page(seen)
        body = transcoder.encode(rewritten, final=not more_body)
        if self.stage is Stage.HOLDING:
            await self.send_start(None)  # the length is not known before the last chunk
        self.stage = Stage.STREAMING if more_body else Stage.DONE
        await self.send({"type": "http.response.body", "body": body, "more_body": more_body})

    async def send_whole(self, raw: bytes) -> None:
        """A body known whole: rewritten once per page and consent state, then taken from the page cache."""
        cache = self.rules.page_cache
        key = None
        if self.cacheable:
            path = self.scope.get("path", "")
            key = page_key(raw, self.encoding, self.granted, self.request.host, path, self.validator)
        page = cache.get(key) if key is not None else None
        if page is None:
            try:
                decoded = self.start_transcoder().decode(raw)
            except ValueError as error:
                await self.give_up({"type": "http.response.body", "body": raw, "more_body": False}, error)
                return
            page = rewritten_page(self.start_rewriter(), decoded)
            if key is not None:
                cache.put(key, page)
        self.rules.page_metrics.count(page.blocked)
        if page.seen is not None and self.rules.tally is not None:
            self.rules.tally.count_page(page.seen)
        injection = self.injection()
        if page.encoded is not None and page.encoded_injection == injection:
            body = page.encoded  # as sent last time: without a CSP nonce, the injection does not change
        elif self.encoding in IDENTITY:
            body = page.body(injection)
            if key is not None and page.injects:
                cache.remember_encoded(key, page, injection, body)  # joined once, not per response
        else:
            body = self.start_transcoder().encode(page.body(injection), final=True)  # no rewriter needed
            if key is not None:
                cache.remember_encoded(key, page, injection, body)
        await self.send_start(len(body))
        self.stage = Stage.DONE
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    async def send_start(self, length: int | None) -> None:
        """Send the held start message: exact length for a whole body, none for a stream."""
        assert self.held_start is not None
        raw = self.held_start["headers"]
        raw[:] = [(name, value) for name, value in raw if name != b"content-length"]
        if length is not None:
            raw.append((b"content-length", b"%d" % length))
        start, self.held_start = self.held_start, None
        await self.send(start)

    async def give_up(self, message: Message, error: ValueError) -> None:
        """A body that cannot be decoded, or decodes past ``max_page_size``.

        Not compressed, it goes on unrewritten: whole when nothing was sent yet, else from here on
        (after what the rewriter still holds). Compressed, there is nothing safe to send: a 502
        before the start, the response cut short after it."""
        logger.warning("cannot rewrite %s: %s", self.scope.get("path"), error)
        compressed = self.encoding not in IDENTITY
        if isinstance(error, PageTooLarge) and compressed and self.stage is Stage.HOLDING:
            self.held_start, self.stage = None, Stage.DISCARDING
            await send_too_large(self.send)
        elif self.stage is Stage.HOLDING:
            start, self.held_start = self.held_start, None
            self.stage = Stage.DONE
            await self.send(start)
            await self.send(message)
        elif isinstance(error, PageTooLarge) and not compressed and self.rewriter is not None:
            self.stage = Stage.DONE
            held = self.rewriter.finish()
            await self.send({**message, "body": held + message.get("body", b"")})
        else:
            self.stage = Stage.DISCARDING
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})


async def send_too_large(send: Send) -> None:
    body = b"<!DOCTYPE html><title>502</title><p>This page is too large for the consent gateway to check.</p>"
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 502, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def rewritten_page(rewriter: Rewriter, body: bytes) -> RewrittenPage:
    """The whole ``body`` rewritten, split where the head injection went."""
    output = rewriter.feed(body) + rewriter.finish()
    policy = rewriter.policy
    blocked = tuple(policy.blocked)
    seen = page_seen(policy.site_host, policy.third_parties_seen())
    at = rewriter.injected_at
    if at is None:
        return RewrittenPage(output, b"", False, blocked, seen)
    return RewrittenPage(output[:at], output[at + len(policy.head_injection) :], True, blocked, seen)
