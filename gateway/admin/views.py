"""The admin's pages: sign-in, the consent-rate dashboard, lookup, erasure, CSV export, audit log,
the third parties on the site, the statistics counted without consent.

Every page needs a signed-in session; every POST also a CSRF token from that
session and a same-origin browser. Every action is written to the audit log
before its result is shown.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.admin.auth import MAX_ATTEMPTS, AdminAuth, Session, attempt_keys, attempt_window, erased_id_digest
from gateway.admin.chart import Series, share_lines, stacked_shares
from gateway.admin.export import csv_chunks, filename
from gateway.admin.language import COOKIE as LANGUAGE_COOKIE
from gateway.admin.language import COOKIE_MAX_AGE as LANGUAGE_COOKIE_MAX_AGE
from gateway.admin.language import Texts, choose
from gateway.admin.period import Period, PeriodError, read_period
from gateway.admin.snippets import Snippets, snippets_for
from gateway.admin.statistics import charts, csv_filename, overview, read_filter
from gateway.admin.statistics import csv_chunks as statistics_csv
from gateway.admin.thirdparties import Describer, Listing, as_json
from gateway.consent.choice import APIError, read_body
from gateway.settings import Settings
from gateway.store import AuditEntry, ConsentStore, DaySummary
from gateway.store.discovery import MAX_NAME
from gateway.templating import template
from gateway.trackers.thirdparty import OTHER_CATEGORY, ThirdParties

METHOD_SERIES = (  # the labels are in the locale files, as method.<name>
    ("accept_all", "#009E73"),
    ("custom", "#56B4E9"),
    ("gpc", "#CC79A7"),
    ("reject_all", "#D55E00"),
    ("withdraw", "#8C8C8C"),
)
CATEGORY_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")
AUDIT_PAGE_SIZE = 200
MAX_ACTOR_LENGTH = 64
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

Page = Callable[[Request, Session], Awaitable[Response]]


class AdminError(Exception):
    """A request the admin refuses; shown as a small page with the status and the message ``key`` (of the
    locale files) in the officer's language."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.values = values


class AdminViews:
    """The admin's endpoints; ``routes()`` gives them for the consent API's router."""

    def __init__(self, settings: Settings, store: ConsentStore, third_parties: ThirdParties) -> None:
        self.settings = settings
        self.store = store
        self.third_parties = third_parties
        self.describer = Describer(settings, third_parties)
        self.auth = AdminAuth(settings)
        self.path = f"{settings.prefix}/admin"

    def routes(self) -> list[Route]:
        path = self.path
        return [
            Route(path, self.guarded(self.dashboard), methods=["GET"]),
            Route(f"{path}/login", self.handled(self.login_form), methods=["GET"]),
            Route(f"{path}/login", self.handled(self.login), methods=["POST"]),
            Route(f"{path}/logout", self.guarded(self.logout), methods=["POST"]),
            Route(f"{path}/consents", self.guarded(self.lookup), methods=["GET"]),
            Route(f"{path}/erase", self.guarded(self.confirm_erase), methods=["GET"]),
            Route(f"{path}/erase", self.guarded(self.erase), methods=["POST"]),
            Route(f"{path}/export.csv", self.guarded(self.export), methods=["GET"]),
            Route(f"{path}/audit", self.guarded(self.audit_page), methods=["GET"]),
            Route(f"{path}/third-parties", self.guarded(self.third_party_page), methods=["GET"]),
            Route(f"{path}/third-parties.json", self.guarded(self.third_party_export), methods=["GET"]),
            Route(f"{path}/statistics", self.guarded(self.statistics_page), methods=["GET"]),
            Route(f"{path}/statistics.csv", self.guarded(self.statistics_export), methods=["GET"]),
        ]

    # ---- plumbing ---------------------------------------------------------------------------

    def handled(self, endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def respond(request: Request) -> Response:
            try:
                return await endpoint(request)
            except AdminError as error:
                message = self.texts(request)(error.key, **error.values)
                return self.render("error.html", request, None, status=error.status, message=message)
            except APIError as error:
                return self.render("error.html", request, None, status=error.status, message=error.message)

        return respond

    def guarded(self, page: Page) -> Callable[[Request], Awaitable[Response]]:
        """Signed in for every page; for a POST also same-origin and the session's CSRF token."""

        async def respond(request: Request) -> Response:
            session = self.auth.session(request)
            if (
                session is not None
                and session.signed_in
                and await self.store_call(self.store.session_revoked(session.id))
            ):
                session = None  # signed out: a copy of the cookie is as good as none
            if session is None or not session.signed_in:
                if request.method == "GET":
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"{self.path}/login?" + urlencode({"next": target}), status_code=303)
                raise AdminError(401, "error.sign_in")
            if request.method == "POST":
                form = await self.read_form(request)
                self.check_post(request, session, form)
                request.state.form = form
            return await page(request, session)

        return self.handled(respond)

    def check_post(self, request: Request, session: Session, form: dict[str, str]) -> None:
        if not self.auth.same_origin(request):
            raise AdminError(403, "error.origin")
        if not self.auth.csrf_matches(session, form.get("csrf")):
            raise AdminError(403, "error.csrf")

    async def read_form(self, request: Request) -> dict[str, str]:
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            raise AdminError(415, "error.form_type")
        try:
            fields = parse_qs((await read_body(request)).decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise AdminError(400, "error.utf8") from None
        return {name: values[0] for name, values in fields.items()}

    def texts(self, request: Request) -> Texts:
        """The officer's language for this request (``?lang``, the cookie it set, ``Accept-Language``)."""
        if not hasattr(request.state, "texts"):
            language, chosen = choose(
                request.query_params, request.headers, request.cookies, self.settings.default_language
            )
            request.state.texts, request.state.language_chosen = Texts(language), chosen
        return request.state.texts

    def render(self, name: str, request: Request, session: Session | None, status: int = 200, **context) -> Response:
        texts = self.texts(request)
        switch_url = request.url.path + "?" + urlencode({**request.query_params, "lang": texts.other})
        page = template(f"admin/{name}").render(
            admin=self.path, session=session, request=request, status=status, t=texts, switch_url=switch_url, **context
        )
        response = HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)
        if request.state.language_chosen:
            response.set_cookie(
                LANGUAGE_COOKIE,
                texts.language,
                max_age=LANGUAGE_COOKIE_MAX_AGE,
                path=self.path,
                secure=request.url.scheme == "https",
                httponly=True,
                samesite="strict",
            )
        return response

    def who(self, request: Request) -> str:
        address = self.auth.head(request).client_address
        return str(address) if address is not None else "unknown address"

    async def audit(self, actor: str, action: str, detail: str) -> None:
        await self.store_call(self.store.record_audit(AuditEntry(datetime.now(UTC), actor, action, detail)))

    @staticmethod
    async def store_call(operation: Awaitable):
        try:
            return await operation
        except Exception:
            raise AdminError(503, "error.store") from None

    # ---- signing in and out -------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        session = self.auth.session(request)
        if session is not None and session.signed_in:
            return RedirectResponse(self.path, status_code=303)
        return self.login_page(request, session, next_path=request.query_params.get("next", ""))

    def login_page(
        self, request: Request, session: Session | None, next_path: str, status: int = 200, error: str | None = None
    ) -> Response:
        """The sign-in form, with an anonymous session whose CSRF token the form carries."""
        fresh = session is None or session.signed_in
        anonymous = self.auth.new_session(None) if fresh or session is None else session
        response = self.render(
            "login.html",
            request,
            None,
            status=status,
            next_path=next_path,
            error=error,
            csrf=anonymous.csrf,
            token_only=not self.settings.admin_user,
        )
        if fresh:
            self.auth.issue(response, request, anonymous)
        return response

    async def login(self, request: Request) -> Response:
        session = self.auth.session(request)
        form = await self.read_form(request)
        if session is None:
            raise AdminError(403, "error.login_expired")
        self.check_post(request, session, form)
        address = self.who(request)
        user = form.get("user", "").strip()[:MAX_ACTOR_LENGTH]
        keys = attempt_keys(address, user)
        since, now = attempt_window()
        # Counted before the (slow) check: concurrent guesses cannot all slip in before the first failure counts.
        if not await self.store_call(self.store.reserve_login(keys, since, MAX_ATTEMPTS, now)):
            await self.audit(user or "?", "login_refused", f"too many sign-ins from {address} or for this user")
            raise AdminError(429, "error.too_many")
        actor = await self.auth.check(user, form.get("password", ""))
        if actor is None:
            await self.audit(user or "?", "login_failed", f"from {address}")
            return self.login_page(request, session, form.get("next", ""), status=401, error="login.wrong")
        await self.store_call(self.store.clear_logins(keys))
        await self.audit(actor, "login", f"from {address}")
        response = RedirectResponse(self.safe_next(form.get("next", "")), status_code=303)
        self.auth.issue(response, request, self.auth.new_session(actor))
        return response

    def safe_next(self, target: str) -> str:
        """Only a path inside the admin: a login link cannot send the officer elsewhere."""
        inside = target == self.path or target.startswith(self.path + "/") or target.startswith(self.path + "?")
        return target if inside and "\\" not in target and "//" not in target else self.path

    async def logout(self, request: Request, session: Session) -> Response:
        until = datetime.now(UTC) + timedelta(seconds=self.settings.admin_session_max_age)
        await self.store_call(self.store.revoke_session(session.id, until))
        await self.audit(session.actor or "?", "logout", f"from {self.who(request)}")
        response = RedirectResponse(f"{self.path}/login", status_code=303)
        self.auth.clear(response, request)
        return response

    # ---- the dashboard ------------------------------------------------------------------------

    async def dashboard(self, request: Request, session: Session) -> Response:
        try:
            period = read_period(request.query_params)
        except PeriodError as error:
            raise AdminError(400, error.key, **error.values) from None
        texts = self.texts(request)
        summaries = await self.store_call(self.store.daily_summary(period.first, period.until, period.revision))
        days = period.days()
        by_day = {summary.day: summary for summary in summaries}
        empty = DaySummary(date.min, 0, {}, {}, {})
        rows = [by_day.get(day, empty) for day in days]
        totals = [row.total for row in rows]
        methods = [(m, texts.plain(f"method.{m}")) for m, _ in METHOD_SERIES]
        method_series = [
            Series(label, colour, [row.by_method.get(m, 0) for row in rows])
            for (m, label), (_, colour) in zip(methods, METHOD_SERIES, strict=True)
        ]
        optional = [(c.name, c.text(texts.language)[0]) for c in self.settings.categories if not c.required]
        categories = [
            Series(label, CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)], [r.granted.get(name, 0) for r in rows])
            for i, (name, label) in enumerate(optional)
        ]
        method_title, category_title = texts.plain("chart.methods"), texts.plain("chart.categories")
        return self.render(
            "dashboard.html",
            request,
            session,
            period=period,
            method_chart=stacked_shares(
                days, method_series, method_title, functools.partial(texts.plain, "chart.share")
            ),
            category_chart=share_lines(
                days, categories, totals, category_title, functools.partial(texts.plain, "chart.granted_share")
            ),
            table=[(day, row) for day, row in zip(days, rows, strict=True) if row.total],
            methods=methods,
            categories=optional,
            total=sum(totals),
            export_query=urlencode(period.query()),
        )

    # ---- one consent id -----------------------------------------------------------------------

    async def lookup(self, request: Request, session: Session) -> Response:
        raw = request.query_params.get("id", "")
        if not raw.strip():
            return self.render("consent.html", request, session, consent_id="", history=None)
        consent_id = self.consent_id(raw)
        history = await self.store_call(self.store.history(consent_id))
        await self.audit(session.actor or "?", "lookup", f"consent {consent_id}: {len(history)} records")
        return self.render("consent.html", request, session, consent_id=consent_id, history=history)

    async def confirm_erase(self, request: Request, session: Session) -> Response:
        consent_id = self.consent_id(request.query_params.get("id", ""))
        history = await self.store_call(self.store.history(consent_id))
        return self.render("erase.html", request, session, consent_id=consent_id, count=len(history), erased=None)

    async def erase(self, request: Request, session: Session) -> Response:
        form: dict[str, str] = request.state.form
        consent_id = self.consent_id(form.get("id", ""))
        if form.get("confirm") != "yes":
            raise AdminError(400, "error.confirm")
        erased = await self.store_call(self.store.erase(consent_id))
        # The audit log keeps no erased id: earlier entries (lookups) and this one name it by a digest.
        digest = erased_id_digest(consent_id, self.settings.secret_key[0])
        await self.store_call(self.store.redact_audit(consent_id, digest))
        await self.audit(session.actor or "?", "erase", f"consent {digest}: {erased} records")
        return self.render("erase.html", request, session, consent_id=consent_id, count=erased, erased=erased)

    @staticmethod
    def consent_id(raw: str) -> str:
        """Consent ids are UUIDs; anything else is a typing mistake worth saying so."""
        text = raw.strip().lower()
        try:
            if str(uuid.UUID(text)) == text:
                return text
        except ValueError:
            pass
        raise AdminError(400, "error.consent_id")

    # ---- export and audit log -----------------------------------------------------------------

    async def export(self, request: Request, session: Session) -> Response:
        try:
            period = read_period(request.query_params)
        except PeriodError as error:
            raise AdminError(400, error.key, **error.values) from None
        revision = f", revision {period.revision}" if period.revision is not None else ""
        await self.audit(session.actor or "?", "export", f"{period.first} to {period.last}{revision}")
        return StreamingResponse(
            csv_chunks(self.store, period),
            media_type="text/csv; charset=utf-8",
            headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename(period)}"'},
        )

    async def audit_page(self, request: Request, session: Session) -> Response:
        entries = await self.store_call(self.store.audit_log(AUDIT_PAGE_SIZE))
        return self.render("audit.html", request, session, entries=entries, limit=AUDIT_PAGE_SIZE)

    # ---- third parties on the site ------------------------------------------------------------

    async def third_party_page(self, request: Request, session: Session) -> Response:
        texts = self.texts(request)
        listing = await self.third_party_listing(request, texts.language)
        script, digest = copy_script(texts.language)
        response = self.render(
            "third_parties.html",
            request,
            session,
            listing=listing,
            site_name=listing.site or texts.plain("tp.this_site"),
            blocking=self.settings.blocking,
            snippets=self.snippets(listing),
            copy_script=script,
        )
        response.headers["Content-Security-Policy"] += f"; script-src '{digest}'"
        return response

    async def third_party_export(self, request: Request, session: Session) -> Response:
        listing = await self.third_party_listing(request)
        site = listing.site or ""
        await self.audit(session.actor or "?", "export", f"third parties of {site}: {len(listing.entries)} rows")
        name = re.sub(r"[^a-z0-9.-]+", "-", site) or "none"
        return JSONResponse(
            as_json(listing, self.settings.blocking),
            headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="third-parties-{name}.json"'},
        )

    async def third_party_listing(self, request: Request, language: str = "en") -> Listing:
        requested = request.query_params.get("site", "").strip().lower() or None
        if requested is not None and len(requested) > MAX_NAME:
            raise AdminError(400, "error.site")
        rows = await self.store_call(self.store.discovered())
        sites, site = self.describer.sites(rows, requested)
        last_scan = await self.store_call(self.store.last_scan(site)) if site else None
        return self.describer.listing(rows, sites, site, last_scan, language)

    def snippets(self, listing: Listing) -> list[Snippets]:
        optional = self.settings.category_names[1:]
        category = (
            OTHER_CATEGORY if OTHER_CATEGORY in optional else ("marketing" if "marketing" in optional else optional[-1])
        )
        taken = (service.id for service in self.third_parties.catalogue.services)
        return snippets_for(listing.unknown_hosts, category, optional, taken, self.settings.allowed_hosts)

    # ---- statistics counted without consent ---------------------------------------------------

    async def statistics_page(self, request: Request, session: Session) -> Response:
        period, site = self.statistics_filter(request)
        sites = await self.store_call(self.store.statistics_sites())
        figures = await self.store_call(self.store.statistics(period.first, period.last, site))
        shown = overview(figures, period, sites, site)
        day_chart, month_chart = charts(shown, self.texts(request))
        query = {**period.query(), **({"site": site} if site else {})}
        return self.render(
            "statistics.html",
            request,
            session,
            stats=shown,
            day_chart=day_chart,
            month_chart=month_chart,
            counting=self.settings.statistics,
            export_query=urlencode(query),
        )

    async def statistics_export(self, request: Request, session: Session) -> Response:
        period, site = self.statistics_filter(request)
        figures = await self.store_call(self.store.statistics(period.first, period.last, site))
        detail = f"statistics of {site or 'every site'}, {period.first} to {period.last}: {len(figures)} rows"
        await self.audit(session.actor or "?", "export", detail)
        return StreamingResponse(
            statistics_csv(figures),
            media_type="text/csv; charset=utf-8",
            headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{csv_filename(period, site)}"'},
        )

    @staticmethod
    def statistics_filter(request: Request) -> tuple[Period, str | None]:
        try:
            return read_filter(request.query_params)
        except PeriodError as error:
            raise AdminError(400, error.key, **error.values) from None


@functools.cache
def copy_script(language: str) -> tuple[str, str]:
    """The copy buttons' script in ``language`` and its CSP source (a hash: the admin allows no other script)."""
    script = template("admin/copy.js").render(t=Texts(language))
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return script, f"sha256-{digest}"
