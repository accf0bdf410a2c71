"""The editors' desk: issues, ranked candidates with their reasons, decisions, preview, approval.

Every action is a small form that posts, then redirects back to the issue (post/redirect/get)
with a flash message saying what happened, or why it was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import Connection, case, func, select
from starlette.responses import RedirectResponse, Response

from curator import editorial
from curator.curate import DraftResult, build_draft
from curator.deliver import send_test
from curator.errors import CuratorError, NotFound
from curator.render import render_for
from curator.sources import Sources, load_sources
from curator.store.schema import PICK_DECISIONS, issues, items, picks
from curator.web import session
from curator.web.auth import EDITOR, csrf_protect
from curator.web.pagemeta import fetch_page_meta
from curator.web.templating import render

router = APIRouter(prefix="/desk", dependencies=[Depends(EDITOR), Depends(csrf_protect)])
CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: http: data:; "
    "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
STATUS_HELP = {
    "draft": "Editors are choosing the picks.",
    "in_review": "Editors are choosing the picks.",
    "approved": "Approved: ops can send it. Reopen it to change anything.",
    "sending": "Being sent: it can no longer change.",
    "paused": "Sending is paused: it can no longer change.",
    "sent": "Sent: it can no longer change.",
    "cancelled": "Cancelled.",
}


def _page(request: Request, name: str, **context: object) -> Response:
    response = render(request, name, **context)
    response.headers["Content-Security-Policy"] = CSP
    return response


def _sources(request: Request) -> Sources:
    return load_sources(session.settings_of(request).feeds)


def _topics(sources: Sources) -> list[tuple[str, str]]:
    return [(t.name, t.title or t.name) for t in sources.topics]


def _actor(user: dict) -> str:
    return user["email"]


def _back(request: Request, period: str, anchor: str = "") -> Response:
    response = RedirectResponse(f"/desk/{period}" + (f"#{anchor}" if anchor else ""), status_code=303)
    return session.finish(request, response)


def _act(request: Request, period: str, action: Callable[[Connection], str], anchor: str = "") -> Response:
    """Run `action` in one transaction; flash its message, or the reason it was refused."""
    editorial.parse_period(period)
    try:
        with request.app.state.engine.begin() as conn:
            message = action(conn)
    except NotFound:
        raise
    except CuratorError as exc:
        session.flash(request, "error", str(exc))
    else:
        if message:
            session.flash(request, "success", message)
    return _back(request, period, anchor)


def _pick_in(conn: Connection, period: str, pick_id: int) -> dict:
    pick = editorial.get_pick(conn, pick_id)
    if pick["period"] != period:
        raise NotFound(f"pick #{pick_id} is not in issue {period}")
    return pick


# --- the index --------------------------------------------------------------------------


@router.get("")
def index(request: Request) -> Response:
    settings = session.settings_of(request)
    coming = editorial.coming_period(datetime.now(settings.tz))
    with request.app.state.engine.connect() as conn:
        rows = conn.execute(
            select(
                issues.c.period, issues.c.status, issues.c.subject, issues.c.updated_at,
                *(func.sum(case((picks.c.decision == d, 1), else_=0)).label(d) for d in PICK_DECISIONS),
            )
            .outerjoin(picks, picks.c.issue_id == issues.c.id)
            .group_by(issues.c.id)
            .order_by(issues.c.period.desc())
        ).mappings().all()
        item_count = conn.execute(select(func.count()).select_from(items)).scalar_one()
    coming_issue = next((row for row in rows if row["period"] == coming), None)
    return _page(
        request, "desk/index.html", issues=rows, coming=coming, coming_issue=coming_issue,
        item_count=item_count, status_help=STATUS_HELP,
    )


@router.post("/draft")
def draft(request: Request, period: str = Form(...), user: dict = Depends(EDITOR)) -> Response:
    editorial.parse_period(period)
    try:
        result = build_draft(
            request.app.state.engine, session.settings_of(request), _sources(request), period, actor=_actor(user)
        )
    except NotFound:
        raise
    except CuratorError as exc:
        session.flash(request, "error", str(exc))
        return session.finish(request, RedirectResponse("/desk", status_code=303))
    session.flash(request, *_draft_outcome(period, result))
    return _back(request, period)


def _draft_outcome(period: str, result: DraftResult) -> tuple[str, str]:
    """The flash after building a draft: adding nothing is a warning saying why, not a success."""
    since = f"{result.since:%Y-%m-%d}"
    if result.added:
        return "success", (
            f"Draft for {period}: {result.added} new candidates from {result.scored_items} items "
            f"published since {since}."
        )
    if not result.scored_items:
        return "warning", (
            f"Draft for {period}: no new candidates, because no items were published since {since}. "
            "Run an ingest (`curator ingest`) to fetch the feeds, then add candidates again."
        )
    return "warning", (
        f"Draft for {period}: no new candidates. The {result.scored_items} items published since {since} "
        "are already candidates (here or in another issue), match no topic, or their topics are full "
        "(quota and spares). Run an ingest (`curator ingest`) to fetch newer items."
    )


# --- one issue ----------------------------------------------------------------------------


@router.get("/{period}")
def issue_page(request: Request, period: str) -> Response:
    editorial.parse_period(period)
    sources = _sources(request)
    with request.app.state.engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
        rows = editorial.list_picks(conn, period)
    return _page(
        request, "desk/issue.html", issue=issue, sections=_sections(sources, rows),
        editable=issue["status"] in editorial.EDITABLE, status_help=STATUS_HELP[issue["status"]],
        topics=_topics(sources), counts=_counts(rows),
    )


def _counts(rows: list[dict]) -> dict[str, int]:
    out = {"approved": 0, "suggested": 0, "rejected": 0}
    for row in rows:
        out[row["decision"]] += 1
    return out


def _sections(sources: Sources, rows: list[dict]) -> list[dict]:
    """Picks grouped by topic in feeds.yaml order; rejected ones apart; the quota line marked."""
    declared = {t.name: t for t in sources.topics}
    names = list(declared) + sorted({r["topic"] for r in rows} - set(declared))
    sections = []
    for name in names:
        topic = declared.get(name)
        mine = [r for r in rows if r["topic"] == name]
        active = [r for r in mine if r["decision"] != "rejected"]
        sections.append({
            "name": name,
            "title": (topic.title if topic else None) or name,
            "description": topic.description if topic else "(not in feeds.yaml any more)",
            "quota": topic.quota if topic else 0,
            "approved": sum(1 for r in mine if r["decision"] == "approved"),
            "active": active,
            "rejected": [r for r in mine if r["decision"] == "rejected"],
        })
    return sections


@router.post("/{period}/edit")
def edit(
    request: Request, period: str, user: dict = Depends(EDITOR),
    subject: str = Form(""), preheader: str = Form(""), intro: str = Form(""),
) -> Response:
    def action(conn: Connection) -> str:
        editorial.edit_issue(conn, period, _actor(user), subject=subject, preheader=preheader, intro=intro)
        return "Saved the subject, preheader and introduction."

    return _act(request, period, action, anchor="text")


@router.post("/{period}/picks/{pick_id}/decision")
def decide(
    request: Request, period: str, pick_id: int, user: dict = Depends(EDITOR), decision: str = Form(...)
) -> Response:
    def action(conn: Connection) -> str:
        pick = _pick_in(conn, period, pick_id)
        editorial.decide_pick(conn, pick_id, decision, _actor(user))
        verb = {"approved": "Approved", "rejected": "Rejected", "suggested": "Returned to suggested"}[decision]
        return f"{verb}: {pick['title']}"

    return _act(request, period, action, anchor=f"pick-{pick_id}")


@router.post("/{period}/picks/{pick_id}/move")
def move(
    request: Request, period: str, pick_id: int, user: dict = Depends(EDITOR), direction: str = Form(...)
) -> Response:
    def action(conn: Connection) -> str:
        pick = _pick_in(conn, period, pick_id)
        moved = editorial.move_pick(conn, pick_id, direction, _actor(user))
        if not moved:
            return f"{pick['title']} is already {'first' if direction == 'up' else 'last'} in {pick['topic']}."
        return f"Moved {direction}: {pick['title']}"

    return _act(request, period, action, anchor=f"pick-{pick_id}")


@router.post("/{period}/picks/{pick_id}/blurb")
def blurb(
    request: Request, period: str, pick_id: int, user: dict = Depends(EDITOR), blurb: str = Form("")
) -> Response:
    def action(conn: Connection) -> str:
        pick = _pick_in(conn, period, pick_id)
        editorial.set_blurb(conn, pick_id, blurb, _actor(user))
        return f"Saved the blurb of {pick['title']}." if blurb.strip() else f"Removed the blurb of {pick['title']}."

    return _act(request, period, action, anchor=f"pick-{pick_id}")


@router.post("/{period}/approve-quota")
def approve_quota(request: Request, period: str, user: dict = Depends(EDITOR)) -> Response:
    sources = _sources(request)

    def action(conn: Connection) -> str:
        editorial.editable_issue(conn, period)
        count = editorial.approve_all(conn, period, {t.name: t.quota for t in sources.topics}, _actor(user))
        return f"Approved {count} suggested picks within each topic's quota."

    return _act(request, period, action)


@router.post("/{period}/links")
def add_link(
    request: Request, period: str, user: dict = Depends(EDITOR), url: str = Form(""), topic: str = Form(""),
    title: str = Form(""), summary: str = Form(""),
) -> Response:
    sources = _sources(request)
    settings = session.settings_of(request)
    if topic not in sources.topic_names:
        session.flash(request, "error", f"choose a topic for the link ({', '.join(sources.topic_names)})")
        return _back(request, period, "add-link")
    if url.strip().lower().startswith(("http://", "https://")) and not (title.strip() and summary.strip()):
        meta = fetch_page_meta(url.strip(), settings.page_fetch_timeout)
        if meta.error and not title.strip():
            session.flash(
                request, "error",
                f"Could not read the title of {url.strip()}: {meta.error}. Type a title (and a summary) yourself.",
            )
            return _back(request, period, "add-link")
        title, summary = title.strip() or meta.title, summary.strip() or meta.description

    def action(conn: Connection) -> str:
        pick = editorial.add_link(
            conn, period, url=url, title=title, summary=summary, topic=topic, actor=_actor(user)
        )
        return f"Added {pick['title']} to {topic}, approved."

    return _act(request, period, action, anchor=f"topic-{topic}")


@router.get("/{period}/preview")
def preview(
    request: Request, period: str, user: dict = Depends(EDITOR),
    topic: list[str] = Query(default=[]), suggested: str = "",
) -> Response:
    editorial.parse_period(period)
    sources = _sources(request)
    chosen = [t for t in topic if t in sources.topic_names] or sources.topic_names
    with request.app.state.engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
        content = editorial.issue_content(conn, period, _topics(sources), include_suggested=bool(suggested))
    subscriber = {"id": 0, "email": user["email"], "name": "", "topics": chosen}
    rendered = render_for(content, subscriber, session.settings_of(request))
    return _page(
        request, "desk/preview.html", issue=issue, rendered=rendered, topics=_topics(sources), chosen=chosen,
        suggested=bool(suggested), empty=not content.sections,
    )


@router.post("/{period}/test")
def test_send(request: Request, period: str, user: dict = Depends(EDITOR), topic: list[str] = Form([])) -> Response:
    editorial.parse_period(period)
    sources = _sources(request)
    chosen = [t for t in topic if t in sources.topic_names] or sources.topic_names
    try:
        send_test(session.settings_of(request), request.app.state.engine, period, user["email"], chosen,
                  actor=_actor(user))
    except NotFound:
        raise
    except CuratorError as exc:
        session.flash(request, "error", f"The test copy was not sent: {exc}")
    else:
        session.flash(request, "success", f"Sent a test copy of {period} to {user['email']}.")
    return _back(request, period)


@router.get("/{period}/approve")
def approve_page(request: Request, period: str) -> Response:
    editorial.parse_period(period)
    sources = _sources(request)
    with request.app.state.engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
        rows = editorial.list_picks(conn, period)
        warnings = editorial.approval_warnings(conn, period, _topics(sources))
    return _page(
        request, "desk/approve.html", issue=issue, sections=_sections(sources, rows), warnings=warnings,
        counts=_counts(rows), editable=issue["status"] in editorial.EDITABLE,
    )


@router.post("/{period}/approve")
def approve(request: Request, period: str, user: dict = Depends(EDITOR)) -> Response:
    topics = _topics(_sources(request))

    def action(conn: Connection) -> str:
        for warning in editorial.approve_issue(conn, period, _actor(user), topics):
            session.flash(request, "warning", warning)
        return f"Issue {period} is approved. Ops can now send it."

    return _act(request, period, action)


@router.post("/{period}/reopen")
def reopen(request: Request, period: str, user: dict = Depends(EDITOR)) -> Response:
    def action(conn: Connection) -> str:
        editorial.transition(conn, period, "in_review", _actor(user), reason="reopened for edits")
        return f"Issue {period} is back in review: picks and text can change again."

    return _act(request, period, action)
