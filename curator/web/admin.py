"""The admins' page for accounts: list, add, change role, disable or enable, send a password link, remove.

Every action is a form with the CSRF token that posts, is written to the audit log under the
admin's address, and redirects back with a flash message (or the reason it was refused).
A change of role, disabling and a password link end the person's sessions at once.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import Connection
from starlette.responses import RedirectResponse, Response

from curator import password_reset, sessions, users
from curator.errors import CuratorError, NotFound
from curator.store.schema import ROLES
from curator.web import session
from curator.web.auth import csrf_protect, require_role
from curator.web.public import mailer
from curator.web.templating import render
from curator.web.urlparams import checked_path

ADMIN = require_role("admin")
router = APIRouter(prefix="/admin", dependencies=[Depends(ADMIN), Depends(checked_path), Depends(csrf_protect)])


def _back(request: Request) -> Response:
    return session.finish(request, RedirectResponse("/admin/users", status_code=303))


def _act(request: Request, action: Callable[[Connection], str]) -> Response:
    try:
        with request.app.state.engine.begin() as conn:
            message = action(conn)
    except NotFound:
        raise
    except CuratorError as exc:
        session.flash(request, "error", str(exc))
    else:
        session.flash(request, "success", message)
    return _back(request)


def _email_of(conn: Connection, user_id: int) -> str:
    user = users.user_by_id(conn, user_id)
    if user is None:
        raise NotFound(f"there is no account #{user_id}; it may have been removed")
    return user["email"]


@router.get("/users")
def users_page(request: Request) -> Response:
    with request.app.state.engine.connect() as conn:
        rows = users.list_users(conn)
    return render(request, "admin/users.html", accounts=rows, roles=ROLES)


@router.post("/users")
def add(
    request: Request, admin: dict = Depends(ADMIN),
    email: str = Form(""), role: str = Form(""), password: str = Form(""),
) -> Response:
    def action(conn: Connection) -> str:
        user = users.add_user(conn, email, role, password, actor=admin["email"])
        return f"Added {user['email']} ({user['role']}). Tell them their password, or send them a password link."

    return _act(request, action)


@router.post("/users/{user_id}/role")
def change_role(request: Request, user_id: int, admin: dict = Depends(ADMIN), role: str = Form("")) -> Response:
    def action(conn: Connection) -> str:
        user = users.set_role(conn, _email_of(conn, user_id), role, actor=admin["email"])
        return f"{user['email']} is now {user['role']}; they were signed out."

    return _act(request, action)


@router.post("/users/{user_id}/disable")
def disable(request: Request, user_id: int, admin: dict = Depends(ADMIN)) -> Response:
    def action(conn: Connection) -> str:
        user = users.set_disabled(conn, _email_of(conn, user_id), True, actor=admin["email"])
        return f"Disabled {user['email']}: signed out, and sign-in refused until enabled."

    return _act(request, action)


@router.post("/users/{user_id}/enable")
def enable(request: Request, user_id: int, admin: dict = Depends(ADMIN)) -> Response:
    def action(conn: Connection) -> str:
        user = users.set_disabled(conn, _email_of(conn, user_id), False, actor=admin["email"])
        return f"Enabled {user['email']}: they can sign in again."

    return _act(request, action)


@router.post("/users/{user_id}/remove")
def remove(request: Request, user_id: int, admin: dict = Depends(ADMIN)) -> Response:
    def action(conn: Connection) -> str:
        user = users.remove_user(conn, _email_of(conn, user_id), actor=admin["email"])
        return f"Removed {user['email']}."

    return _act(request, action)


@router.post("/users/{user_id}/password-link")
def password_link(request: Request, user_id: int, admin: dict = Depends(ADMIN), send=Depends(mailer)) -> Response:
    settings = session.settings_of(request)

    def action(conn: Connection) -> str:
        user = users.get_user(conn, _email_of(conn, user_id))
        sessions.revoke_user(conn, user["id"])
        password_reset.send_link(settings, user, send)
        users.audit(conn, admin["email"], "user.password_link", user["email"])
        return f"Sent {user['email']} a link to set a new password (one use, one hour); they were signed out."

    return _act(request, action)
