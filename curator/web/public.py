"""Public pages: home, subscribe (double opt-in), confirm, preferences, unsubscribe, and the archive.

No page here sets or needs a cookie. Links from emails carry signed tokens (curator.tokens),
which are the visitor's only credential: the pages that show one are never cached and send
no Referer, so the token does not leak to the sites they link to. A broken or expired link
gets a friendly 400 page with a way to subscribe again, never the desk's error page; a broken
unsubscribe link's page also offers a fresh link by email, so nobody is stuck on the list.

GET /confirm/TOKEN only shows a button: link scanners in corporate mail open every link, and
must not subscribe anyone. The button posts to the same address, which confirms.

POST /unsubscribe/TOKEN is RFC 8058 one-click unsubscribe: mail clients post
`List-Unsubscribe=One-Click` with no cookie; it answers 200 with a short page, never a
redirect, and doing it twice is harmless. GET shows a page with that same form.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import select
from starlette.responses import HTMLResponse, Response

from curator import editorial, render, subscribers, tokens
from curator.config import Settings
from curator.errors import BadToken, ConfigError, CuratorError, InvalidAddress, NotFound
from curator.sources import Topic, load_sources
from curator.store.schema import issues
from curator.web import headers
from curator.web.clientip import client_ip
from curator.web.templating import environment

log = logging.getLogger("curator.web.public")
router = APIRouter()
ARCHIVED = ("sending", "paused", "sent")  # recipients of a send still going on may open it in a browser
LISTED = ("sent",)  # the archive's index shows finished issues only


def mailer() -> subscribers.Mailer:
    """The transactional sender, a dependency so a test can stand in for the provider."""
    from curator.deliver import send_transactional

    return send_transactional


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _topics(settings: Settings) -> list[Topic]:
    return list(load_sources(settings.feeds).topics)


def _page(template: str, status: int = 200, *, private: bool = False, **context: Any) -> HTMLResponse:
    """A public page on base.html; `private` pages carry a token and must not be cached or referred."""
    context.setdefault("page", "")
    html = environment().get_template(template).render(context)
    response = HTMLResponse(html, status_code=status)
    if private:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _message(title: str, lines: list[str], status: int = 200, *, links: tuple = (), private: bool = True,
             settings: Settings | None = None):
    brand = {"settings": settings} if settings is not None else {}
    return _page("public/message.html", status, private=private, title=title, lines=lines, links=links, **brand)


def _local(url: str) -> str:
    """A link to this site as a path: pages work whatever host the visitor reached them by."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _broken_link(exc: BadToken) -> HTMLResponse:
    return _message(
        "This link is broken or has expired",
        ["This link is broken or has expired, so it cannot be used.", f"In detail: {exc}."],
        400,
        links=(("/subscribe", "Subscribe again"), ("/archive", "Read past issues")),
    )


# --- home ----------------------------------------------------------------------------------------

# A dark square with a white "C", the header's colours; tiny, and no file to ship.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
    'fill="#1c2230"/><text x="16" y="23" font-family="sans-serif" font-size="20" font-weight="700" '
    'fill="#fff" text-anchor="middle">C</text></svg>'
)


@router.get("/")
def home(request: Request) -> Response:
    settings = _settings(request)
    return _page("public/home.html", settings=settings, topics=_readable_topics(settings), page="home",
                 og_url=settings.base_url.rstrip("/") + "/")


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


# --- subscribe and confirm -----------------------------------------------------------------------


@router.get("/subscribe")
def subscribe_form(request: Request) -> Response:
    settings = _settings(request)
    return _page("public/subscribe.html", topics=_topics(settings), email="", name="", chosen=[], error="",
                 only=False, settings=settings, page="subscribe", og_url=render.subscribe_url(settings))


@router.post("/subscribe")
def subscribe(
    request: Request,
    email: str = Form(""),
    name: str = Form(""),
    topics: list[str] = Form([]),
    scope: str = Form("all"),
    website: str = Form(""),
    send: subscribers.Mailer = Depends(mailer),
) -> Response:
    settings = _settings(request)
    known = _topics(settings)
    if website:  # the hidden field only bots fill in: answer as usual, do nothing
        return check_inbox(settings, email)
    client = client_ip(request)  # X-Forwarded-For only from CURATOR_TRUSTED_PROXIES
    try:
        with request.app.state.engine.begin() as conn:
            sub = subscribers.signup(conn, settings, email, name=name, topics=topics,
                                     known_topics=[t.name for t in known], client=client,
                                     only_my_topics=scope == "only")
    except (InvalidAddress, NotFound) as exc:
        return _page("public/subscribe.html", 400, topics=known, email=email, name=name[:200], chosen=topics,
                     error=str(exc), only=scope == "only", settings=settings)
    if sub is not None:
        try:
            subscribers.send_confirmation(settings, sub, send)
        except CuratorError as exc:
            log.error("confirmation email to subscriber %s not sent: %s", sub["id"], exc)
            with request.app.state.engine.begin() as conn:
                subscribers.mail_failed(conn, sub)
            return _message(
                "We could not send the confirmation email",
                ["Your address is saved, but the email with the confirmation link could not be sent just now.",
                 "Please try again in a few minutes."],
                503, links=(("/subscribe", "Try again"),), private=False,
            )
    return check_inbox(settings, email)


def check_inbox(settings: Settings, email: str, *, resent: bool = False) -> HTMLResponse:
    """The same answer whatever the address's state: the form must not tell who subscribes."""
    return _page("public/check_inbox.html", private=True, email=" ".join(email.split())[:320], resent=resent,
                 settings=settings)


@router.get("/confirm/{token}")
def confirm_form(request: Request, token: str) -> Response:
    """The button that confirms: opening the link alone (as a mail scanner does) changes nothing."""
    settings = _settings(request)
    try:
        with request.app.state.engine.connect() as conn:
            sub = subscribers.confirmable(conn, settings, token)
    except BadToken as exc:
        return _broken_link(exc)
    if sub["status"] == "active":
        return _subscribed(settings, sub)
    return _page("public/confirm.html", private=True, sub=sub, token=token, settings=settings)


@router.post("/confirm/{token}")
def confirm(request: Request, token: str, send: subscribers.Mailer = Depends(mailer)) -> Response:
    settings = _settings(request)
    try:
        with request.app.state.engine.begin() as conn:
            sub = subscribers.confirm(conn, settings, token)
            welcome, latest = subscribers.welcome_due(conn, sub["id"]), subscribers.latest_issue(conn)
    except BadToken as exc:
        return _broken_link(exc)
    if welcome is not None:
        try:
            subscribers.send_welcome(settings, welcome, latest, send)
        except CuratorError as exc:  # the subscription stands; the welcome is a courtesy
            log.error("welcome email to subscriber %s not sent: %s", sub["id"], exc)
    return _subscribed(settings, sub)


def _subscribed(settings: Settings, sub: dict) -> HTMLResponse:
    return _message(
        "You are subscribed",
        [f"Thank you: {sub['email']} will receive {settings.from_name} every month.",
         "A welcome email is on its way, with a link to the latest issue."],
        links=((_local(render.preferences_url(settings, sub)), "Choose your topics"), ("/archive", "Read past issues")),
        settings=settings,
    )


# --- preferences ---------------------------------------------------------------------------------


def _subscriber(request: Request, purpose: str, token: str) -> dict:
    with request.app.state.engine.connect() as conn:
        return subscribers.from_token(conn, _settings(request), purpose, token)


def _test_copy(request: Request, purpose: str, token: str) -> HTMLResponse | None:
    """The page for a link from a [TEST] copy (it names subscriber 0); None for any other link."""
    from curator.deliver.transactional import TEST_SUBSCRIBER_ID

    try:
        claim = tokens.read_token(_settings(request), purpose, token)
    except BadToken:
        return None
    if claim.subscriber_id != TEST_SUBSCRIBER_ID:
        return None
    action = "unsubscribes its reader" if purpose == "unsubscribe" else "opens its reader's topic choices"
    return _message(
        "This is a test copy",
        [f"This link comes from a test copy of the newsletter, sent from the editors' desk or the ops console. "
         f"In a subscriber's copy, the same link {action}.",
         "A test copy's links change no subscription, so nothing happened."],
        links=(("/archive", "Read past issues"),),
    )


@router.get("/preferences/{token}")
def preferences_form(request: Request, token: str) -> Response:
    if (test := _test_copy(request, "preferences", token)) is not None:
        return test
    try:
        sub = _subscriber(request, "preferences", token)
    except BadToken as exc:
        return _broken_link(exc)
    return _preferences(request, sub, token)


def _preferences(request: Request, sub: dict, token: str, *, saved: bool = False, error: str = "", status=200,
                 notice: str = ""):
    settings = _settings(request)
    return _page(
        "public/preferences.html", status, private=True, sub=sub, token=token, saved=saved, error=error, notice=notice,
        topics=_topics(settings), settings=settings, unsubscribe_url=_local(render.unsubscribe_url(settings, sub)),
    )


@router.post("/preferences/{token}")
def preferences(request: Request, token: str, name: str = Form(""), topics: list[str] = Form([]),
                scope: str = Form("all")) -> Response:
    known = [t.name for t in _topics(_settings(request))]
    if (test := _test_copy(request, "preferences", token)) is not None:
        return test
    try:
        sub = _subscriber(request, "preferences", token)
        if sub["status"] not in ("active", "pending"):
            return _preferences(request, sub, token)
        with request.app.state.engine.begin() as conn:
            sub = subscribers.update_preferences(conn, sub["id"], topics=topics, name=name, known_topics=known,
                                                 only_my_topics=scope == "only")
    except BadToken as exc:
        return _broken_link(exc)
    except NotFound as exc:
        return _preferences(request, sub, token, error=str(exc), status=400)
    return _preferences(request, sub, token, saved=True)


# --- unsubscribe ---------------------------------------------------------------------------------


@router.get("/unsubscribe/{token}")
def unsubscribe_form(request: Request, token: str) -> Response:
    if (test := _test_copy(request, "unsubscribe", token)) is not None:
        return test
    try:
        sub = _subscriber(request, "unsubscribe", token)
    except BadToken as exc:
        return _broken_unsubscribe_link(request, exc)
    return _page("public/unsubscribe.html", private=True, sub=sub, token=token, settings=_settings(request),
                 preferences_url=_local(render.preferences_url(_settings(request), sub)))


@router.post("/unsubscribe/{token}")
def unsubscribe(request: Request, token: str) -> Response:
    """One click: no cookie, no CSRF token (the signed link is the credential), 200 and no redirect."""
    settings = _settings(request)
    if (test := _test_copy(request, "unsubscribe", token)) is not None:
        return test
    try:
        with request.app.state.engine.begin() as conn:
            sub = subscribers.from_token(conn, settings, "unsubscribe", token)
            subscribers.unsubscribe(conn, sub["id"], "unsubscribe link")
    except BadToken as exc:
        return _broken_unsubscribe_link(request, exc)
    return _page("public/unsubscribed.html", private=True, sub=sub, token=token, settings=settings,
                 reasons=subscribers.REASONS, answered=False)


def _broken_unsubscribe_link(request: Request, exc: BadToken) -> HTMLResponse:
    """A broken unsubscribe link still leads out: a fresh link by email, or a word to the sender."""
    return _link_request_form(request, 400, detail=f"In detail: {exc}.")


def _link_request_form(request: Request, status: int = 200, *, email: str = "", error: str = "",
                       detail: str = "") -> HTMLResponse:
    return _page("public/unsubscribe_request.html", status, private=True, settings=_settings(request),
                 broken=bool(detail), detail=detail, email=email, error=error)


@router.get("/unsubscribe")
def unsubscribe_request_form(request: Request) -> Response:
    return _link_request_form(request)


@router.post("/unsubscribe")
def unsubscribe_request(
    request: Request, email: str = Form(""), website: str = Form(""), send: subscribers.Mailer = Depends(mailer),
) -> Response:
    """Mail a fresh unsubscribe link; the answer is the same whoever the address belongs to."""
    settings = _settings(request)
    if website:  # the hidden field only bots fill in
        return _link_on_its_way(settings)
    try:
        with request.app.state.engine.connect() as conn:
            sub = subscribers.unsubscribe_link_due(conn, email)
    except InvalidAddress as exc:
        return _link_request_form(request, 400, email=email, error=str(exc))
    if sub is not None:
        try:
            subscribers.send_unsubscribe_link(settings, sub, send)
        except CuratorError as exc:  # said to nobody: the page must not tell that this address is subscribed
            log.error("unsubscribe link to subscriber %s not sent: %s", sub["id"], exc)
        else:
            with request.app.state.engine.begin() as conn:
                subscribers.record_unsubscribe_link(conn, sub, actor="web")
    return _link_on_its_way(settings)


def _link_on_its_way(settings: Settings) -> HTMLResponse:
    return _message(
        "Check your inbox",
        [f"If this address receives {settings.from_name}, an email with a fresh unsubscribe link is on its way. "
         "Open it and press Unsubscribe.",
         f"Nothing within a few minutes? Write to {settings.from_email} and we will take you off the list."],
        links=(("/archive", "Read past issues"),), private=False,
    )


# --- the archive ---------------------------------------------------------------------------------


@router.get("/archive")
def archive(request: Request) -> Response:
    with request.app.state.engine.connect() as conn:
        rows = conn.execute(
            select(issues.c.period, issues.c.subject, issues.c.sent_at)
            .where(issues.c.status.in_(LISTED))
            .order_by(issues.c.period.desc())
        ).mappings().all()
    settings = _settings(request)
    return _page("public/archive.html", issues=rows, settings=settings, page="archive",
                 og_url=render.archive_url(settings), og_description=f"Every issue of {settings.from_name} so far.")


@router.get("/archive/{period}")
def archived_issue(request: Request, period: str) -> Response:
    settings = _settings(request)
    try:
        editorial.parse_period(period)
        staff = _staff(request)  # before the query's connection: SQLite would lock against a second one
        with request.app.state.engine.connect() as conn:
            status = conn.execute(select(issues.c.status).where(issues.c.period == period)).scalar()
            staff = staff and status is not None and status not in ARCHIVED
            if status not in ARCHIVED and not staff:
                raise NotFound(period)
            content = editorial.issue_content(
                conn, period, _topic_titles(settings), include_suggested=status in ("draft", "in_review")
            )
    except CuratorError:
        return _message(
            "No such issue",
            [f"There is no published issue for {period!s:.20}. It may not have been sent yet."],
            404, links=(("/archive", "See all past issues"), ("/subscribe", "Subscribe")), private=False,
        )
    if staff:
        # A preview of "View in your browser" for signed-in staff: the same page, marked, never cached.
        notice = (f"Preview for staff: this issue is {status.replace('_', ' ')} and not published yet. "
                  "Subscribers see this page once it is sent.")
        response = HTMLResponse(render.render_archive_page(content, settings, notice=notice))
        response.headers["Cache-Control"] = "no-store"
        return headers.email_page(response)
    return headers.email_page(HTMLResponse(render.render_archive_page(content, settings)))


def _staff(request: Request) -> bool:
    """Whether a signed-in editor, ops or admin is looking (the session cookie is only read here)."""
    from curator.web.auth import current_user

    return current_user(request) is not None


def _topic_titles(settings: Settings) -> list[tuple[str, str]]:
    return [(t.name, t.title or t.name) for t in _readable_topics(settings)]


def _readable_topics(settings: Settings) -> list[Topic]:
    try:
        return _topics(settings)
    except ConfigError as exc:  # a broken feeds.yaml must not take the archive or the home page down
        log.warning("page shown without feeds.yaml's topics: %s", exc)
        return []
