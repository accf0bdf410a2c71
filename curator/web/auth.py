"""Sign-in and sign-out, the role guard, and the CSRF check every form goes through.

Pages behind sign-in use a router built like the desk's:

    router = APIRouter(dependencies=[Depends(EDITOR), Depends(csrf_protect)])

`require_role` sends an anonymous visitor to /login (303) and refuses a signed-in one
without the role (403); admins pass every guard. `csrf_protect` refuses any POST whose
form lacks the visitor's token (403).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from curator import sessions, users
from curator.errors import AuthError, Forbidden, TooManyAttempts
from curator.web import session
from curator.web.clientip import client_ip
from curator.web.templating import render

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
HOME = {"editor": "/desk", "admin": "/desk", "ops": "/ops"}


class LoginRequired(AuthError):
    """Nobody is signed in; the error handler redirects to the sign-in page."""


def current_user(request: Request) -> dict | None:
    """The signed-in user, from the session cookie and the database; None if nobody is."""
    if hasattr(request.state, "user"):
        return request.state.user
    user = None
    session_id = session.read_session(request)
    if session_id is not None:
        max_age = timedelta(hours=session.settings_of(request).session_hours)
        with request.app.state.engine.begin() as conn:
            user = sessions.user_of(conn, session_id, max_age)
    request.state.user = user
    return user


def require_role(*roles: str):
    """A dependency: the signed-in user if their role is one of `roles` (or admin)."""
    allowed = set(roles) | {"admin"}

    def guard(request: Request) -> dict:
        user = current_user(request)
        if user is None:
            raise LoginRequired("sign in to see this page")
        if user["role"] not in allowed:
            needed = " or ".join(sorted(allowed))
            raise Forbidden(
                f"you are signed in as {user['email']} ({user['role']}); this page is for {needed}. "
                "Ask an admin for that role, or sign in with another account."
            )
        return user

    guard.__name__ = f"require_{'_'.join(sorted(allowed))}"
    return guard


EDITOR = require_role("editor")  # the desk
OPS = require_role("ops")  # sending and the ops console


async def csrf_protect(request: Request) -> None:
    """Refuse a form submission that does not carry this visitor's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    form = await request.form()
    if not session.csrf_valid(request, form.get("csrf_token")):
        raise Forbidden(
            "this form's security token is missing or out of date (or the form came from another site): "
            "go back, reload the page and submit it again"
        )


def login_redirect(request: Request) -> RedirectResponse:
    """Where LoginRequired sends a visitor: /login, and back here afterwards when it is a page."""
    target = "/login"
    if request.method in SAFE_METHODS:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += f"?next={quote(path, safe='/')}"
    return RedirectResponse(target, status_code=303)


def safe_next(value: str | None, user: dict) -> str:
    """A local path to go to after sign-in; never another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return HOME.get(user["role"], "/desk")


router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    user = current_user(request)
    if user is not None:
        return RedirectResponse(safe_next(next, user), status_code=303)
    return _login_form(request, next=next)


def _login_form(request: Request, *, next: str = "", email: str = "", error: str = "", status: int = 200):
    with request.app.state.engine.connect() as conn:
        no_accounts = users.count_users(conn) == 0
    return render(
        request, "login.html", status_code=status, next=next, email=email, error=error, no_accounts=no_accounts
    )


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form(""),
) -> Response:
    settings = session.settings_of(request)
    engine = request.app.state.engine
    try:
        user = users.authenticate(engine, settings, email, password, client_ip(request), request.app.state.hash_gate)
    except TooManyAttempts as exc:
        response = _login_form(request, next=next, email=email, error=str(exc), status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthError as exc:
        return _login_form(request, next=next, email=email, error=str(exc), status=401)
    with engine.begin() as conn:
        session_id = sessions.start(conn, user["id"])
        sessions.prune(conn, timedelta(hours=settings.session_hours))
    response = RedirectResponse(safe_next(next, user), status_code=303)
    session.start_session(response, settings, session_id)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    session_id = session.read_session(request)
    if session_id is not None:
        with request.app.state.engine.begin() as conn:
            sessions.revoke(conn, session_id)
    response = RedirectResponse("/login", status_code=303)
    session.end_session(response, session.settings_of(request))
    session.flash(request, "info", "You are signed out.")
    return session.finish(request, response)
