"""Signed cookies: the sign-in session, the CSRF nonce, and one-shot flash messages.

All three are signed with settings.secret_key (itsdangerous), HttpOnly, SameSite=Lax,
and Secure when BASE_URL is https. The session cookie carries only the id of a session
kept on the server (curator.sessions), so logout ends it for good. The CSRF token put in
forms is an HMAC of that session id once signed in, so a token from another session is
refused; before sign-in (the login form) it is an HMAC of a random nonce kept in its own
cookie (signed double submit). A page on another site can neither read it nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from curator.config import Settings

SESSION_COOKIE = "curator_session"
CSRF_COOKIE = "curator_csrf"
FLASH_COOKIE = "curator_flash"
FLASH_LEVELS = ("success", "info", "warning", "error")


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def _secret(settings: Settings) -> str:
    if not settings.secret_key:  # create_app refuses to start without one; this is a last guard
        raise RuntimeError("settings.secret_key is not set")
    return settings.secret_key


def _set(response: Response, settings: Settings, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
        secure=settings.base_url.lower().startswith("https://"),
    )


def _delete(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=settings.base_url.lower().startswith("https://")
    )


# --- the sign-in session ------------------------------------------------------------------


def _session_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(settings), salt="curator.session")


def start_session(response: Response, settings: Settings, session_id: str) -> None:
    """Put a server-side session's id (curator.sessions.start) in the signed cookie."""
    token = _session_serializer(settings).dumps({"s": session_id})
    _set(response, settings, SESSION_COOKIE, token, max_age=int(settings.session_hours * 3600))
    _set(response, settings, CSRF_COOKIE, _new_nonce(settings))


def end_session(response: Response, settings: Settings) -> None:
    _delete(response, settings, SESSION_COOKIE)


def read_session(request: Request) -> str | None:
    """The session id the cookie names, or None when absent, forged or expired (the server decides if live)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    settings = settings_of(request)
    try:
        data = _session_serializer(settings).loads(raw, max_age=int(settings.session_hours * 3600))
    except BadSignature:  # SignatureExpired is one too
        return None
    value = data.get("s") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


# --- CSRF -----------------------------------------------------------------------------------


def _nonce_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(_secret(settings), salt="curator.csrf")


def _new_nonce(settings: Settings) -> str:
    return _nonce_serializer(settings).dumps(secrets.token_urlsafe(24))


def _nonce(request: Request) -> str | None:
    raw = request.cookies.get(CSRF_COOKIE)
    if not raw:
        return None
    try:
        value = _nonce_serializer(settings_of(request)).loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def _token_for(settings: Settings, nonce: str) -> str:
    return hmac.new(_secret(settings).encode(), f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def _session_token(settings: Settings, session_id: str) -> str:
    return hmac.new(_secret(settings).encode(), f"csrf:session:{session_id}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token this visitor's forms carry: bound to the session once signed in, else to a nonce cookie."""
    settings = settings_of(request)
    session_id = read_session(request)
    if session_id is not None:
        return _session_token(settings, session_id)
    nonce = _nonce(request) or getattr(request.state, "new_csrf_nonce", None)
    if nonce is None:
        cookie = _new_nonce(settings)
        request.state.new_csrf_cookie = cookie
        nonce = request.state.new_csrf_nonce = _nonce_serializer(settings).loads(cookie)
    return _token_for(settings, nonce)


def csrf_valid(request: Request, submitted: object) -> bool:
    """True when `submitted` is this visitor's token: a token from another session never passes."""
    if not isinstance(submitted, str) or not submitted:
        return False
    session_id = read_session(request)
    if session_id is not None:
        expected = _session_token(settings_of(request), session_id)
    else:
        nonce = _nonce(request)
        if nonce is None:
            return False
        expected = _token_for(settings_of(request), nonce)
    return hmac.compare_digest(expected, submitted)


# --- flash messages -------------------------------------------------------------------------


def flash(request: Request, level: str, text: str) -> None:
    """A message for the next page this visitor sees (sent by `finish`)."""
    assert level in FLASH_LEVELS, level
    pending = getattr(request.state, "flashes_out", None)
    if pending is None:
        pending = request.state.flashes_out = []
    pending.append([level, text[:1000]])


def take_flashes(request: Request) -> list[tuple[str, str]]:
    """The messages left by the previous action; `finish` then clears the cookie."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    request.state.flashes_taken = True
    try:
        data = URLSafeSerializer(_secret(settings_of(request)), salt="curator.flash").loads(raw)
    except BadSignature:
        return []
    return [(level, text) for level, text in data if level in FLASH_LEVELS and isinstance(text, str)]


def finish(request: Request, response: Response) -> Response:
    """Send the cookies this request changed: a new CSRF nonce, flash messages to show or clear."""
    settings = settings_of(request)
    cookie = getattr(request.state, "new_csrf_cookie", None)
    if cookie:
        _set(response, settings, CSRF_COOKIE, cookie)
    pending = getattr(request.state, "flashes_out", None)
    if pending:
        value = URLSafeSerializer(_secret(settings), salt="curator.flash").dumps(pending)
        _set(response, settings, FLASH_COOKIE, value)
    elif getattr(request.state, "flashes_taken", False):
        _delete(response, settings, FLASH_COOKIE)
    return response
