"""Security headers on every response, and the hosts the app answers to.

Every page gets a Content-Security-Policy without inline script: the pages' own <style>
blocks carry a per-response nonce (`csp_nonce()` in templates), scripts come from /ops
only, and no page may be framed (frame-ancestors 'none', X-Frame-Options DENY). The email
HTML (the archive and the desk's preview) comes with EMAIL_CSP instead: its CSS is inlined,
so inline styles are allowed there, and nothing else runs. A request for a host that is not
BASE_URL's (or CURATOR_ALLOWED_HOSTS) gets 400, so no page or redirect follows a forged Host.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from curator.config import Settings

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; "
    "frame-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors {ancestors}"
)
FIXED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
_nonce: ContextVar[str | None] = ContextVar("curator_csp_nonce", default=None)


def csp_nonce() -> str:
    """This response's nonce for <style nonce=…>; the headers name the same one."""
    value = _nonce.get()
    if value is None:
        value = secrets.token_urlsafe(16)
        _nonce.set(value)
    return value


def email_page(response: Response, *, framed_by_desk: bool = False) -> Response:
    """Mark a response that is an email's HTML: inline CSS, no script, framed only by the desk's preview."""
    response.headers["Content-Security-Policy"] = EMAIL_CSP.format(ancestors="'self'" if framed_by_desk else "'none'")
    response.headers["X-Frame-Options"] = "SAMEORIGIN" if framed_by_desk else "DENY"
    return response


def secure(headers: MutableHeaders) -> None:
    """Add the headers a response lacks (a page may have set its own CSP or Referrer-Policy)."""
    if "content-security-policy" not in headers:
        headers["Content-Security-Policy"] = PAGE_CSP.format(nonce=csp_nonce())
    if "x-frame-options" not in headers:
        headers["X-Frame-Options"] = "DENY"
    for name, value in FIXED.items():
        if name not in headers:
            headers[name] = value


class SecurityHeaders:
    """ASGI middleware: a fresh nonce per request, and the security headers on its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _nonce.set(secrets.token_urlsafe(16))

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure(MutableHeaders(scope=message))
            await send(message)

        try:
            await self.app(scope, receive, send_secured)
        finally:
            _nonce.reset(token)


def allowed_hosts(settings: Settings) -> list[str]:
    """CURATOR_ALLOWED_HOSTS, or BASE_URL's host plus localhost and 127.0.0.1 (development)."""
    if settings.allowed_hosts:
        return list(settings.allowed_hosts)
    host = urlsplit(settings.base_url).hostname or "localhost"
    return sorted({host, "localhost", "127.0.0.1"})
