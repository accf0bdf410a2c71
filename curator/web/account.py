"""A subscriber's own changes, from the public pages: resend the confirmation, a new address, why, undo.

Like the rest of the public pages, none of this sets a cookie: a signed link is the credential,
and a form that takes an address answers the same whoever it belongs to.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from curator import render, subscribers
from curator.errors import BadToken, CuratorError, IllegalTransition, InvalidAddress
from curator.web.public import (
    _broken_link,
    _local,
    _message,
    _page,
    _preferences,
    _settings,
    _subscriber,
    check_inbox,
    mailer,
)

log = logging.getLogger("curator.web.account")
router = APIRouter()


@router.post("/subscribe/resend")
def resend_confirmation(
    request: Request, email: str = Form(""), send: subscribers.Mailer = Depends(mailer)
) -> Response:
    """The confirmation email again, at most once every RESEND_AFTER; the same page whatever happened."""
    try:
        with request.app.state.engine.connect() as conn:
            sub = subscribers.confirmation_resend_due(conn, email)
    except InvalidAddress:
        sub = None
    if sub is not None:
        try:
            subscribers.send_confirmation(_settings(request), sub, send)
        except CuratorError as exc:  # said to nobody: the page must not tell that this address is pending
            log.error("confirmation email to subscriber %s not resent: %s", sub["id"], exc)
        else:
            with request.app.state.engine.begin() as conn:
                subscribers.record_confirmation_resend(conn, sub)
    return check_inbox(_settings(request), email, resent=True)


@router.post("/preferences/{token}/address")
def change_address(request: Request, token: str, new_email: str = Form(""),
                   send: subscribers.Mailer = Depends(mailer)) -> Response:
    """Keep the new address waiting, and mail it the link that confirms it."""
    try:
        sub = _subscriber(request, "preferences", token)
    except BadToken as exc:
        return _broken_link(exc)
    if sub["status"] not in ("active", "pending"):
        return _preferences(request, sub, token)
    try:
        with request.app.state.engine.begin() as conn:
            sub = subscribers.request_address_change(conn, sub["id"], new_email)
        subscribers.send_address_confirmation(_settings(request), sub, send)
    except InvalidAddress as exc:
        return _preferences(request, sub, token, error=str(exc), status=400)
    except CuratorError as exc:
        log.error("address confirmation for subscriber %s not sent: %s", sub["id"], exc)
        return _preferences(request, sub, token, status=503,
                            error="The email to your new address could not be sent just now; please try again later.")
    return _preferences(request, sub, token, notice=(
        f"Almost done: we sent a link to {sub['new_email']}. Open it to move your subscription there; "
        f"until then the newsletter keeps going to {sub['email']}."
    ))


@router.get("/address/{token}")
def address_form(request: Request, token: str) -> Response:
    """A button, not the link alone: mail scanners open links."""
    try:
        with request.app.state.engine.connect() as conn:
            sub = subscribers.address_change(conn, _settings(request), token)
    except BadToken as exc:
        return _broken_link(exc)
    if sub["new_email"] is None:
        return _address_changed(request, sub)
    return _page("public/address.html", private=True, sub=sub, token=token, settings=_settings(request))


@router.post("/address/{token}")
def confirm_address(request: Request, token: str) -> Response:
    try:
        with request.app.state.engine.begin() as conn:
            sub = subscribers.confirm_address_change(conn, _settings(request), token)
    except BadToken as exc:
        return _broken_link(exc)
    return _address_changed(request, sub)


def _address_changed(request: Request, sub: dict) -> Response:
    settings = _settings(request)
    return _message(
        "Your address is changed",
        [f"{settings.from_name} now goes to {sub['email']}.",
         "Links in earlier emails were made for your old address; use the links in your next email from now on."],
        links=((_local(render.preferences_url(settings, sub)), "Your preferences"), ("/archive", "Read past issues")),
        settings=settings,
    )


@router.post("/unsubscribe/{token}/reason")
def unsubscribe_reason(request: Request, token: str, reason: str = Form("")) -> Response:
    """The optional answer to one question after unsubscribing."""
    settings = _settings(request)
    try:
        with request.app.state.engine.begin() as conn:
            sub = subscribers.from_token(conn, settings, "unsubscribe", token)
            subscribers.record_unsubscribe_reason(conn, sub["id"], reason)
    except BadToken as exc:
        return _broken_link(exc)
    return _page("public/unsubscribed.html", private=True, sub=sub, token=token, settings=settings,
                 reasons=subscribers.REASONS, answered=reason in subscribers.REASONS)


@router.post("/unsubscribe/{token}/undo")
def undo_unsubscribe(request: Request, token: str) -> Response:
    """One click back: the person's own unsubscribe link makes them active again, as before."""
    settings = _settings(request)
    try:
        with request.app.state.engine.begin() as conn:
            sub = subscribers.from_token(conn, settings, "unsubscribe", token)
            sub = subscribers.undo_unsubscribe(conn, sub["id"])
    except BadToken as exc:
        return _broken_link(exc)
    except IllegalTransition as exc:
        return _message("This cannot be undone here", [str(exc)], 409, links=(("/subscribe", "Subscribe again"),))
    return _message(
        "Welcome back",
        [f"{sub['email']} receives {settings.from_name} again, with the same topics as before."],
        links=((_local(render.preferences_url(settings, sub)), "Your preferences"), ("/archive", "Read past issues")),
        settings=settings,
    )
