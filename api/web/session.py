"""The web pages' session: a signed cookie naming who signed in, with a CSRF token, and the principal it gives.

The cookie holds no bearer token: after a sign-in with a token it holds the token's SHA-256, looked up on
every request like a bearer token (so a revoked or expired token signs the session out); after a signed link,
the USCC the link named, until the cookie's own age runs out. HttpOnly, SameSite=Lax, Secure over TLS.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.service.tokens import TOKEN_ROW, Principal, hash_token, live_principal

__all__ = ["COOKIE", "MAX_AGE", "Session", "read_session", "write_session"]

COOKIE = "huiqi_session"
MAX_AGE = 8 * 3600  # a working day: then sign in again
_SALT = "huiqi.web.session"


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    who: dict[str, Any] | None = None  # {"token_hash": ...} or {"link": USCC}
    lang: str = "zh"
    flash: dict[str, str] | None = None  # one message for the next page: {"kind", "zh", "en"}
    principal: Principal | None = None  # resolved per request, never stored

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(sent.encode(), self.csrf.encode())

    def sign_in_token(self, token: str) -> None:
        self.who, self.csrf = {"token_hash": hash_token(token)}, secrets.token_urlsafe(24)

    def sign_in_link(self, uscc: str) -> None:
        self.who, self.csrf = {"link": uscc}, secrets.token_urlsafe(24)

    def sign_out(self) -> None:
        self.who, self.principal, self.csrf = None, None, secrets.token_urlsafe(24)


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = request.app.state.service.settings.web_secret.get_secret_value()
    return URLSafeTimedSerializer(secret, salt=_SALT)


def _principal(request: Request, who: dict[str, Any] | None) -> Principal | None:
    if not who:
        return None
    if "link" in who:
        return Principal(None, "enterprise", "signed link", who["link"])
    with request.app.state.service.engine.connect() as connection:
        row = connection.execute(TOKEN_ROW, {"token_hash": who.get("token_hash", "")}).first()
    return live_principal(row)


def read_session(request: Request) -> Session:
    """The request's session (a fresh one without a valid cookie), with its principal resolved (a database read:
    call it from a worker thread, as the pages' sync handlers run)."""
    raw = request.cookies.get(COOKIE)
    data: dict[str, Any] = {}
    if raw:
        try:
            data = _serializer(request).loads(raw, max_age=MAX_AGE)
        except BadSignature:
            data = {}
    session = Session(**{k: v for k, v in data.items() if k in ("csrf", "who", "lang", "flash")})
    session.principal = _principal(request, session.who)
    if session.principal is None:
        session.who = None
    return session


def write_session(request: Request, response: Response, session: Session) -> Response:
    data = {"csrf": session.csrf, "who": session.who, "lang": session.lang, "flash": session.flash}
    response.set_cookie(
        COOKIE,
        _serializer(request).dumps(data),
        max_age=MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response
