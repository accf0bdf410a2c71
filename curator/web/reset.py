"""“Forgot your password?”: ask for a link by email, then choose a new password with it.

The answer to asking is the same page whether the address has an account or not. The link
(curator.password_reset) works once and for an hour; using it ends every session of the user.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from curator import password_reset
from curator.errors import BadToken, CuratorError
from curator.web import session
from curator.web.auth import csrf_protect
from curator.web.public import mailer
from curator.web.templating import render

log = logging.getLogger("curator.web.reset")
router = APIRouter(prefix="/login", dependencies=[Depends(csrf_protect)])
SENT = (
    "If an account uses that address, we have emailed it a link to set a new password. "
    "The link works once, for an hour. Nothing arrived? Check the spam folder, or ask an admin."
)


@router.get("/forgot")
def forgot_form(request: Request) -> Response:
    return render(request, "reset_request.html", sent=False, email="")


@router.post("/forgot")
def forgot(request: Request, tasks: BackgroundTasks, email: str = Form(""), send=Depends(mailer)) -> Response:
    settings = session.settings_of(request)
    user = password_reset.due_link(request.app.state.engine, settings, email[:320])
    if user is not None:  # sent after the answer, so its time does not tell that the account exists
        tasks.add_task(_send, settings, user, send)
    return render(request, "reset_request.html", sent=True, email="", message=SENT)


def _send(settings, user: dict, send) -> None:
    try:
        password_reset.send_link(settings, user, send)
    except CuratorError as exc:
        log.warning("the password link to %s was not sent: %s", user["email"], exc)


@router.get("/reset/{token}")
def reset_form(request: Request, token: str) -> Response:
    try:
        with request.app.state.engine.connect() as conn:
            user = password_reset.user_for_token(conn, session.settings_of(request), token)
    except BadToken as exc:
        return render(request, "reset_password.html", status_code=400, broken=str(exc), email="", error="")
    return render(request, "reset_password.html", broken="", email=user["email"], error="", token=token)


@router.post("/reset/{token}")
def reset(request: Request, token: str, password: str = Form(""), confirm: str = Form("")) -> Response:
    settings = session.settings_of(request)
    try:
        with request.app.state.engine.begin() as conn:
            user = password_reset.user_for_token(conn, settings, token)
            if password != confirm:
                raise ValueError("the two passwords differ: type the same one twice")
            password_reset.reset(conn, settings, token, password)
    except BadToken as exc:
        return render(request, "reset_password.html", status_code=400, broken=str(exc), email="", error="")
    except (ValueError, CuratorError) as exc:
        return render(
            request, "reset_password.html", status_code=400, broken="", email=user["email"], error=str(exc),
            token=token,
        )
    session.flash(request, "success", f"Your new password is set, {user['email']}: sign in with it.")
    return session.finish(request, RedirectResponse("/login", status_code=303))


