"""The web app: `create_app(settings)` wires the routers; one handler renders every error page."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Match
from starlette.staticfiles import StaticFiles

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
from curator.web import (
    account,
    admin,
    auth,
    desk,
    engagement,
    feed,
    headers,
    health,
    ops,
    public,
    reports,
    reset,
    sources_page,
    subscribers_console,
    webhook,
)
from curator.web.templating import render

log = logging.getLogger("curator.web")
STATIC = Path(__file__).with_name("static")

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
    app.router.redirect_slashes = False  # Starlette's would follow the Host header; error_page redirects instead
    app.state.settings = settings
    # Sign-ins check argon2 hashes (64 MiB each) at most this many at a time; the rest get 429.
    app.state.hash_gate = threading.BoundedSemaphore(settings.login_concurrent_hashes)
    app.include_router(auth.router)
    app.include_router(reset.router)
    app.include_router(admin.router)
    app.include_router(sources_page.router)  # before the desk's /desk/{period}
    app.include_router(desk.router)
    app.include_router(account.router)  # before public: /subscribe/resend is not /subscribe
    app.include_router(public.router)
    app.include_router(engagement.router)
    app.include_router(feed.router)
    app.include_router(webhook.router)
    app.include_router(subscribers_console.router)
    app.include_router(ops.router)
    app.include_router(reports.router)
    app.include_router(health.router)
    # The desk's scripts and styles (htmx and SortableJS vendored beside their licences): no build step.
    app.mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static")
    # Other faces add their routers here: public pages, the SendGrid webhook, the ops console.

    for kind in (CuratorError, HTTPException, RequestValidationError, Exception):
        app.add_exception_handler(kind, error_page)

    # The last added runs first: the headers go on every answer, the host check's refusals too.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=headers.allowed_hosts(settings), www_redirect=False)
    app.add_middleware(headers.SecurityHeaders)
    return app


async def error_page(request: Request, exc: Exception) -> Response:
    """Every error a visitor can meet, as one page (or JSON for a client that asks for it)."""
    if isinstance(exc, auth.LoginRequired):
        return auth.login_redirect(request)
    if isinstance(exc, HTTPException) and exc.status_code == 404 and (moved := _slash_twin(request)):
        return RedirectResponse(moved, status_code=308)
    status, message = _describe(exc, request.url.path)
    if status >= 500 and not isinstance(exc, CuratorError):
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        response = JSONResponse({"error": message}, status_code=status)
        headers.secure(response.headers)
        return response
    if not hasattr(request.state, "user"):
        try:
            auth.current_user(request)
        except Exception:  # the database may be what failed; the page still renders
            request.state.user = None
    title = TITLES.get(status, "Something went wrong")
    response = render(request, "error.html", status_code=status, title=title, message=message, status=status)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    headers.secure(response.headers)  # a 500 is answered outside the middleware
    return response


def _slash_twin(request: Request) -> str | None:
    """/desk/ for /desk (or the reverse) when only that one exists, as an address on BASE_URL."""
    path = request.url.path
    twin = path.rstrip("/") if path.endswith("/") else path + "/"
    if not twin or twin == path:
        return None
    scope = {**request.scope, "path": twin}
    if not any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
        return None
    base = request.app.state.settings.base_url.rstrip("/")
    return base + twin + (f"?{request.url.query}" if request.url.query else "")


def _describe(exc: Exception, path: str) -> tuple[int, str]:
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
        # A malformed number in an address is a page that does not exist (desk and ops: the query too).
        in_url = ("path", "query") if path.startswith(("/desk", "/ops")) else ("path",)
        if any(err["loc"] and err["loc"][0] in in_url for err in exc.errors()):
            return 404, "There is no page at this address. Check the link, or start again from the desk."
        fields = ", ".join(".".join(str(p) for p in err["loc"][1:]) or "the request" for err in exc.errors())
        return 400, f"Some of what was sent is missing or not valid ({fields}); go back and check the form."
    return 500, "An unexpected error happened; it has been logged. Try again, and tell ops if it persists."
