"""Readers' links from an issue: the tracked redirect (/r/TOKEN/PICK) and the feedback page (/f/TOKEN/PICK).

No cookie, as on every public page. GET /r/TOKEN/PICK answers 302 to the pick's article, taken from
the database, at once; a forged or altered token gets a page, never a redirect. GET /f/TOKEN/PICK
only shows the question: the vote is the POST of its form, so scanners change nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from curator.engagement import clicks, feedback
from curator.errors import BadToken
from curator.web.clientip import client_ip
from curator.web.public import _message, _page, _settings

router = APIRouter()


def _pick(text: str) -> int:
    """The pick's id from the URL; a mangled one is a broken link (the page says so), not a 422."""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise BadToken("this link names no pick: open the link from the email exactly as sent")
    return int(text)


def _broken(exc: BadToken) -> Response:
    return _message(
        "This link is broken",
        ["This link from the newsletter is broken or was altered, so it leads nowhere.", f"In detail: {exc}."],
        400, links=(("/archive", "Read the issues in the archive"),),
    )  # fmt: skip


@router.api_route("/r/{token}/{pick_id}", methods=["GET", "HEAD"])
def follow(request: Request, token: str, pick_id: str) -> Response:
    settings = _settings(request)
    try:
        with request.app.state.engine.begin() as conn:
            url = clicks.follow(
                conn, settings, token, _pick(pick_id), method=request.method,
                user_agent=request.headers.get("user-agent"), ip=client_ip(request),
            )  # fmt: skip
    except BadToken as exc:
        return _broken(exc)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return RedirectResponse(url, status_code=302, headers=headers)


@router.get("/f/{token}/{pick_id}")
def feedback_page(request: Request, token: str, pick_id: str, vote: str = "") -> Response:
    settings = _settings(request)
    try:
        with request.app.state.engine.connect() as conn:
            pick = feedback.about(conn, settings, token, _pick(pick_id))
    except BadToken as exc:
        return _broken(exc)
    suggested = vote if vote in feedback.VOTES else ""
    action = f"/f/{token}/{pick_id}"
    return _page("public/feedback.html", private=True, pick=pick, action=action, suggested=suggested, saved=False,
                 settings=settings)  # fmt: skip


@router.post("/f/{token}/{pick_id}")
def feedback_vote(request: Request, token: str, pick_id: str, vote: str = Form("")) -> Response:
    settings = _settings(request)
    try:
        with request.app.state.engine.begin() as conn:
            pick = feedback.vote(conn, settings, token, _pick(pick_id), vote)
    except BadToken as exc:
        return _broken(exc)
    action = f"/f/{token}/{pick_id}"
    return _page("public/feedback.html", private=True, pick=pick, action=action, suggested=pick.vote,
                 saved=not pick.test_copy, settings=settings)  # fmt: skip
