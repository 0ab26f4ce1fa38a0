"""Who may use the admin: credentials, the signed session cookie, CSRF and same-origin checks.

A session is a signed, timestamped cookie (itsdangerous) that holds a
random session id, who signed in and a random CSRF token; every visitor of
the login form gets an anonymous one first, so the login POST carries a CSRF
token too. The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Secure`` on
https and sent only to the admin's own path. It also holds a keyed
fingerprint of the configured credentials: changing the token or the
password ends every session. Signing out revokes the session's id in the
consent store, so a copy of the cookie is refused too.

Sign-in attempts are counted in the consent store, shared by every worker
and instance, per client address and per user name, and an attempt is
counted before its password is checked (``reserve_login``): a hundred
guesses sent at once get ten checks, not a hundred.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin.passwords import parse_password_hash, verify_password
from gateway.net.origin import normalise_origin
from gateway.net.request import RequestHead, request_head
from gateway.settings import Settings, SettingsError

SESSION_COOKIE = "consent_admin"
SESSION_SALT = "consent-gateway.admin-session"
TOKEN_ACTOR = "token"
# Sign-in attempts per address and per user name within the window before further ones are refused unchecked.
MAX_ATTEMPTS = 10
ATTEMPT_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Session:
    """The admin session in the cookie: ``actor`` is ``None`` until someone signed in."""

    actor: str | None
    csrf: str
    id: str = ""  # random; what signing out revokes

    @property
    def signed_in(self) -> bool:
        return self.actor is not None


def check_password_hash(encoded: str | None) -> None:
    """A configured ``admin_password_hash`` must be one ``hash-password`` makes: the gateway does not
    start with one nobody could sign in with."""
    if encoded:
        try:
            parse_password_hash(encoded)
        except ValueError as error:
            raise SettingsError(f"admin_password_hash: {error}") from None


class AdminAuth:
    """Checks credentials and reads, issues and clears the session cookie."""

    def __init__(self, settings: Settings) -> None:
        check_password_hash(settings.admin_password_hash)
        self.settings = settings
        self.path = f"{settings.prefix}/admin"
        # itsdangerous signs with the last key; our settings list the newest first.
        self.serializer = URLSafeTimedSerializer(list(reversed(settings.secret_key)), salt=SESSION_SALT)
        credentials = "\0".join(
            (settings.admin_token or "", settings.admin_user or "", settings.admin_password_hash or "")
        )
        self.fingerprint = hmac.new(settings.secret_key[0].encode(), credentials.encode(), hashlib.sha256).hexdigest()[
            :16
        ]

    def head(self, request: Request) -> RequestHead:
        return request_head(request.scope, self.settings.trusted_proxies)

    # ---- credentials -------------------------------------------------------------------------

    async def check(self, user: str, password: str) -> str | None:
        """The actor these credentials sign in as, or ``None``."""
        token = self.settings.admin_token
        if token and hmac.compare_digest(password.encode(), token.encode()):
            return TOKEN_ACTOR
        expected_user, password_hash = self.settings.admin_user, self.settings.admin_password_hash
        if not expected_user or not password_hash:
            return None
        # The hash runs whatever the user name, so timing does not tell which part was wrong.
        password_ok = await asyncio.to_thread(verify_password, password, password_hash)
        user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
        return expected_user if user_ok and password_ok else None

    # ---- the session cookie ------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        """The session in the request's cookie, or ``None`` when it is missing, expired, forged or stale."""
        raw = self.head(request).cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            payload = self.serializer.loads(raw, max_age=self.settings.admin_session_max_age)
        except BadData:
            return None
        if not isinstance(payload, dict) or payload.get("k") != self.fingerprint:
            return None
        actor, csrf, session_id = payload.get("a"), payload.get("c"), payload.get("i")
        if (
            not isinstance(csrf, str)
            or not isinstance(session_id, str)
            or not (actor is None or isinstance(actor, str))
        ):
            return None
        return Session(actor, csrf, session_id)

    @staticmethod
    def new_session(actor: str | None) -> Session:
        """A fresh session with a new id and CSRF token: nothing from before a login carries over."""
        return Session(actor, secrets.token_urlsafe(32), secrets.token_urlsafe(16))

    def issue(self, response: Response, request: Request, session: Session) -> None:
        value = self.serializer.dumps({"a": session.actor, "c": session.csrf, "i": session.id, "k": self.fingerprint})
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=self.settings.admin_session_max_age,
            path=self.path,
            secure=self.head(request).scheme == "https",
            httponly=True,
            samesite="strict",
        )

    def clear(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            SESSION_COOKIE,
            path=self.path,
            secure=self.head(request).scheme == "https",
            httponly=True,
            samesite="strict",
        )

    # ---- state-changing requests ---------------------------------------------------------------

    def same_origin(self, request: Request) -> bool:
        """The browser must say the POST comes from the gateway's own origin; saying nothing is refused."""
        head = self.head(request)
        if head.fetch_site not in (None, "same-origin"):
            return False
        claimed = head.origin or head.referer
        if not claimed or claimed == "null":
            return False
        own = head.own_origin
        return own is not None and normalise_origin(claimed) == own

    @staticmethod
    def csrf_matches(session: Session, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(session.csrf.encode(), (submitted or "").encode())


def attempt_keys(address: str, user: str) -> tuple[str, ...]:
    """What a sign-in attempt counts against: the client address, and the user name when one was given."""
    keys = [f"address {address}"]
    if user:
        keys.append(f"user {user.casefold()}")
    return tuple(keys)


def attempt_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """(since, now): the attempts within the window count."""
    now = now or datetime.now(UTC)
    return now - ATTEMPT_WINDOW, now


def erased_id_digest(consent_id: str, key: str) -> str:
    """How the audit log names an erased consent id: a keyed digest that can confirm a known id
    ("was this one erased?") but cannot be turned back into it."""
    return "erased:" + hmac.new(key.encode(), consent_id.encode(), hashlib.sha256).hexdigest()[:24]
