"""The web app: `create_app(settings)` wires the routers; one handler renders every error page."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from curator import store
from curator.config import Settings
from curator.errors import (
    AuthError,
    BadToken,
    ConfigError,
    CuratorError,
    DatabaseError,
    Forbidden,
    IllegalTransition,
    InvalidAddress,
    NotFound,
    TooManyAttempts,
)
from curator.web import account, auth, desk, feed, health, ops, public, subscribers_console, webhook
from curator.web.templating import render

log = logging.getLogger("curator.web")

# Most specific first: the first class the error is an instance of decides the status.
STATUS: list[tuple[type[Exception], int]] = [
    (TooManyAttempts, 429),
    (Forbidden, 403),
    (AuthError, 401),
    (NotFound, 404),
    (IllegalTransition, 409),
    (InvalidAddress, 400),
    (BadToken, 400),
    (DatabaseError, 503),
    (ConfigError, 500),
    (CuratorError, 400),
]
TITLES = {
    400: "That request could not be handled", 401: "Sign-in failed", 403: "Not allowed",
    404: "Not found", 405: "Not allowed here", 409: "Not possible right now", 429: "Too many attempts",
    500: "Something went wrong", 503: "The database is not available",
}


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The app; it opens (and later closes) its own engine unless one is given."""
    settings.require("secret_key", command="serve")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = engine is None
        app.state.engine = store.open_db(settings.database_url, command_name="serve") if own else engine
        try:
            yield
        finally:
            if own:
                app.state.engine.dispose()

    app = FastAPI(title="Curator", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.include_router(auth.router)
    app.include_router(desk.router)
    app.include_router(account.router)  # before public: /subscribe/resend is not /subscribe
    app.include_router(public.router)
    app.include_router(feed.router)
    app.include_router(webhook.router)
    app.include_router(subscribers_console.router)
    app.include_router(ops.router)
    app.include_router(health.router)
    # Other faces add their routers here: public pages, the SendGrid webhook, the ops console.

    for kind in (CuratorError, HTTPException, RequestValidationError, Exception):
        app.add_exception_handler(kind, error_page)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


async def error_page(request: Request, exc: Exception) -> Response:
    """Every error a visitor can meet, as one page (or JSON for a client that asks for it)."""
    if isinstance(exc, auth.LoginRequired):
        return auth.login_redirect(request)
    status, message = _describe(exc)
    if status >= 500 and not isinstance(exc, CuratorError):
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return JSONResponse({"error": message}, status_code=status)
    if not hasattr(request.state, "user"):
        try:
            auth.current_user(request)
        except Exception:  # the database may be what failed; the page still renders
            request.state.user = None
    title = TITLES.get(status, "Something went wrong")
    response = render(request, "error.html", status_code=status, title=title, message=message, status=status)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


def _describe(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, CuratorError):
        status = next(code for kind, code in STATUS if isinstance(exc, kind))
        return status, str(exc)
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return 404, "There is no page at this address. Check the link, or start again from the desk."
        if exc.status_code == 405:
            return 405, "This address does not take that kind of request; use the page's own buttons."
        return exc.status_code, str(exc.detail)
    if isinstance(exc, RequestValidationError):
        fields = ", ".join(".".join(str(p) for p in err["loc"][1:]) or "the request" for err in exc.errors())
        return 400, f"Some of what was sent is missing or not valid ({fields}); go back and check the form."
    return 500, "An unexpected error happened; it has been logged. Try again, and tell ops if it persists."
