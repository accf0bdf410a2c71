"""The editors' desk: issues, ranked candidates with their reasons, decisions, preview, approval.

Every action is a small form. Posted plainly (no JavaScript), it redirects back to the issue
(post/redirect/get) with a flash message saying what happened, or why it was refused. Posted
by htmx, it answers the changed parts of the page instead (see desk_view), so the desk never
reloads. The scripts are static files (no inline script), served from /static.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import Connection, case, func, select
from starlette.responses import HTMLResponse, RedirectResponse, Response

from curator import editorial, pick_edits, review
from curator.curate import DraftResult, build_draft
from curator.deliver import send_test
from curator.errors import CuratorError, NotFound
from curator.render import render_for
from curator.sources import Sources, load_sources
from curator.store.schema import PICK_DECISIONS, issues, items, picks
from curator.web import desk_view, fetch_now, headers, session
from curator.web.auth import EDITOR, csrf_protect
from curator.web.pagemeta import fetch_page_meta
from curator.web.templating import render
from curator.web.urlparams import checked_path

router = APIRouter(prefix="/desk", dependencies=[Depends(EDITOR), Depends(checked_path), Depends(csrf_protect)])
STATUS_HELP = desk_view.STATUS_HELP


def _page(request: Request, name: str, **context: object) -> Response:
    return render(request, name, **context)


def _sources(request: Request) -> Sources:
    return load_sources(session.settings_of(request).feeds)


def _actor(user: dict) -> str:
    return user["email"]


def _back(request: Request, period: str, anchor: str = "") -> Response:
    response = RedirectResponse(f"/desk/{period}" + (f"#{anchor}" if anchor else ""), status_code=303)
    return session.finish(request, response)


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
def issue_page(request: Request, period: str, user: dict = Depends(EDITOR)) -> Response:
    editorial.parse_period(period)
    sources = _sources(request)
    with request.app.state.engine.begin() as conn:
        editorial.get_issue(conn, period)
        previous = desk_view.visit(conn, user["id"], period)
        context = desk_view.issue_context(conn, sources, period, new_since=previous)
    run = fetch_now.latest(request.app.state.engine, period)
    link = {k: request.query_params.get(f"link_{k}", "") for k in ("url", "topic", "title", "summary", "error")}
    return _page(request, "desk/issue.html", **context, run=run, running=fetch_now.running(run), link=link)


def _known(sources: Sources) -> list[str]:
    return sources.topic_names


@router.post("/{period}/edit")
def edit(
    request: Request, period: str, user: dict = Depends(EDITOR),
    subject: str = Form(""), preheader: str = Form(""), intro: str = Form(""),
) -> Response:
    def action(conn: Connection) -> str:
        editorial.edit_issue(conn, period, _actor(user), subject=subject, preheader=preheader, intro=intro)
        return "Saved the subject, preheader and introduction."

    return desk_view.act(request, _sources(request), period, action, touched=(), anchor="text", text=True)


@router.post("/{period}/picks/{pick_id}/decision")
def decide(
    request: Request, period: str, pick_id: int, user: dict = Depends(EDITOR), decision: str = Form(...)
) -> Response:
    topic = _topic_of(request, period, pick_id)

    def action(conn: Connection) -> str:
        pick = _pick_in(conn, period, pick_id)
        editorial.decide_pick(conn, pick_id, decision, _actor(user))
        verb = {"approved": "Approved", "rejected": "Rejected", "suggested": "Returned to suggested"}[decision]
        return f"{verb}: {pick['title']}"

    return desk_view.act(request, _sources(request), period, action, touched=[topic], anchor=f"pick-{pick_id}")


def _topic_of(request: Request, period: str, pick_id: int) -> str:
    with request.app.state.engine.connect() as conn:
        return _pick_in(conn, period, pick_id)["topic"]


@router.post("/{period}/picks/{pick_id}/move")
def move(
    request: Request, period: str, pick_id: int, user: dict = Depends(EDITOR), direction: str = Form(...)
) -> Response:
    topic = _topic_of(request, period, pick_id)

    def action(conn: Connection) -> str:
        pick = _pick_in(conn, period, pick_id)
        moved = editorial.move_pick(conn, pick_id, direction, _actor(user))
        if not moved:
            return f"{pick['title']} is already {'first' if direction == 'up' else 'last'} in {pick['topic']}."
        return f"Moved {direction}: {pick['title']}"

    return desk_view.act(request, _sources(request), period, action, touched=[topic], anchor=f"pick-{pick_id}")


@router.post("/{period}/topics/{topic}/order")
def reorder(
    request: Request, period: str, topic: str, user: dict = Depends(EDITOR), order: list[int] = Form([])
) -> Response:
    """A topic's new order after a drag: the ids of its active picks, first to last."""

    def action(conn: Connection) -> str:
        moved = pick_edits.reorder(conn, period, topic, order, _actor(user))
        return f"New order in {topic} saved." if moved else ""

    return desk_view.act(request, _sources(request), period, action, touched=[topic], anchor=f"topic-{topic}")


@router.post("/{period}/picks/{pick_id}/blurb")
def blurb(
    request: Request, period: str, pick_id: int, user: dict = Depends(EDITOR), blurb: str = Form("")
) -> Response:
    topic = _topic_of(request, period, pick_id)

    def action(conn: Connection) -> str:
        pick = _pick_in(conn, period, pick_id)
        editorial.set_blurb(conn, pick_id, blurb, _actor(user))
        return f"Saved the blurb of {pick['title']}." if blurb.strip() else f"Removed the blurb of {pick['title']}."

    return desk_view.act(request, _sources(request), period, action, touched=[topic], anchor=f"pick-{pick_id}")


@router.post("/{period}/picks/{pick_id}/edit")
def edit_pick(
    request: Request, period: str, pick_id: int, user: dict = Depends(EDITOR),
    title: str = Form(""), summary: str = Form(""), topic: str = Form(""), featured: str = Form(""),
    blurb: str = Form(""),
) -> Response:
    """The pick's own title and summary, its topic, the featured flag and the blurb, in one form."""
    sources = _sources(request)

    def action(conn: Connection) -> str:
        pick = _pick_in(conn, period, pick_id)
        changed = pick_edits.edit_pick(
            conn, pick_id, _actor(user), known_topics=sources.topic_names, title=title, summary=summary,
            topic=topic or None, featured=bool(featured), blurb=blurb,
        )
        if not changed:
            return f"Nothing changed in {pick['title']}."
        return f"Saved the {', '.join(changed)} of {editorial.get_pick(conn, pick_id)['title']}."

    return desk_view.act(request, sources, period, action, anchor=f"pick-{pick_id}")


@router.post("/{period}/approve-quota")
def approve_quota(request: Request, period: str, user: dict = Depends(EDITOR)) -> Response:
    sources = _sources(request)

    def action(conn: Connection) -> str:
        editorial.editable_issue(conn, period)
        count = editorial.approve_all(conn, period, {t.name: t.quota for t in sources.topics}, _actor(user))
        return f"Approved {count} suggested picks within each topic's quota."

    return desk_view.act(request, sources, period, action)


@router.post("/{period}/links")
def add_link(
    request: Request, period: str, user: dict = Depends(EDITOR), url: str = Form(""), topic: str = Form(""),
    title: str = Form(""), summary: str = Form(""),
) -> Response:
    sources = _sources(request)
    settings = session.settings_of(request)
    typed = {"url": url.strip(), "topic": topic, "title": title.strip(), "summary": summary.strip()}
    if topic not in sources.topic_names:
        known = ", ".join(sources.topic_names)
        return desk_view.link_refused(request, sources, period, typed, f"choose a topic for the link ({known})")
    if typed["url"].lower().startswith(("http://", "https://")) and not (typed["title"] and typed["summary"]):
        meta = fetch_page_meta(typed["url"], settings.page_fetch_timeout, allow_private=settings.fetch_allow_private)
        if meta.error and not typed["title"]:
            return desk_view.link_refused(
                request, sources, period, typed,
                f"Could not read the title of {typed['url']}: {meta.error}. Type a title (and a summary) yourself.",
            )
        title, summary = typed["title"] or meta.title, typed["summary"] or meta.description

    def action(conn: Connection) -> str:
        pick = editorial.add_link(
            conn, period, url=url, title=title, summary=summary, topic=topic, actor=_actor(user)
        )
        return f"Added {pick['title']} to {topic}, approved."

    try:
        with request.app.state.engine.connect() as conn:
            editorial.editable_issue(conn, period)
    except CuratorError as exc:
        if isinstance(exc, NotFound):
            raise
        return desk_view.link_refused(request, sources, period, typed, str(exc))
    extra = desk_view.link_form(request, period, sources, {"topic": topic}) if desk_view.is_htmx(request) else ""
    return desk_view.act(request, sources, period, action, touched=[topic], anchor=f"topic-{topic}", extra=extra)


PREVIEW_WIDTHS = {"desktop": "Desktop", "phone": "Phone (375 px)"}
PREVIEW_SCHEMES = {"light": "Light", "dark": "Dark"}


@router.get("/{period}/preview")
def preview(
    request: Request, period: str, user: dict = Depends(EDITOR),
    topic: list[str] = Query(default=[]), suggested: str = "", width: str = "desktop", scheme: str = "light",
) -> Response:
    sources = _sources(request)
    settings = session.settings_of(request)
    chosen = [t for t in topic if t in sources.topic_names] or sources.topic_names
    width = width if width in PREVIEW_WIDTHS else "desktop"
    scheme = scheme if scheme in PREVIEW_SCHEMES else "light"
    issue, content, rendered = _preview(request, period, user, chosen, bool(suggested))
    query = [("topic", name) for name in chosen] + ([("suggested", "1")] if suggested else [])
    email_url = f"/desk/{period}/preview/email?{urlencode(query + [('scheme', scheme)])}"
    return _page(
        request, "desk/preview.html", issue=issue, rendered=rendered, email_url=email_url,
        topics=desk_view.topics(sources), chosen=chosen, suggested=bool(suggested),
        empty=not (content.sections or content.featured),
        width=width, scheme=scheme, widths=PREVIEW_WIDTHS, schemes=PREVIEW_SCHEMES, query=query,
        sender=f"{settings.from_name} <{settings.from_email}>",
        preheader=content.preheader or " · ".join(s.title for s in content.ordered_for(chosen)),
    )


@router.get("/{period}/preview/email")
def preview_email(
    request: Request, period: str, user: dict = Depends(EDITOR),
    topic: list[str] = Query(default=[]), suggested: str = "", scheme: str = "light",
) -> Response:
    """The HTML part alone, for the preview's sandboxed frame: the email's inline CSS, no script."""
    sources = _sources(request)
    chosen = [t for t in topic if t in sources.topic_names] or sources.topic_names
    html = _preview(request, period, user, chosen, bool(suggested))[2].html
    html = desk_view.dark(html) if scheme == "dark" else html
    response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
    return headers.email_page(response, framed_by_desk=True)


def _preview(request: Request, period: str, user: dict, chosen: list[str], suggested: bool):
    sources = _sources(request)
    with request.app.state.engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
        content = editorial.issue_content(conn, period, desk_view.topics(sources), include_suggested=suggested)
    subscriber = {"id": 0, "email": user["email"], "name": "", "topics": chosen}
    return issue, content, render_for(content, subscriber, session.settings_of(request))


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
        warnings = editorial.approval_warnings(conn, period, desk_view.topics(sources))
    return _page(
        request, "desk/approve.html", issue=issue, sections=desk_view.sections(sources, rows), warnings=warnings,
        counts=desk_view.counts(rows), editable=issue["status"] in editorial.EDITABLE,
    )


@router.post("/{period}/approve")
def approve(request: Request, period: str, user: dict = Depends(EDITOR)) -> Response:
    sources = _sources(request)

    def action(conn: Connection) -> str:
        for warning in review.approve_and_learn(conn, period, _actor(user), desk_view.topics(sources)):
            session.flash(request, "warning", warning)
        return f"Issue {period} is approved. Ops can now send it."

    return desk_view.act(request, sources, period, action)


@router.post("/{period}/reopen")
def reopen(request: Request, period: str, user: dict = Depends(EDITOR)) -> Response:
    def action(conn: Connection) -> str:
        editorial.transition(conn, period, "in_review", _actor(user), reason="reopened for edits")
        return f"Issue {period} is back in review: picks and text can change again."

    return desk_view.act(request, _sources(request), period, action)


# --- fetch feeds now --------------------------------------------------------------------------


@router.post("/{period}/fetch")
def fetch(request: Request, period: str, user: dict = Depends(EDITOR)) -> Response:
    """Start fetching the feeds (or join the run going on); progress is polled from GET."""
    editorial.parse_period(period)
    engine = request.app.state.engine
    with engine.connect() as conn:
        editorial.editable_issue(conn, period)
    fetch_now.start(session.settings_of(request), engine, period, _actor(user))
    if desk_view.is_htmx(request):
        return _fetch_status(request, period)
    return session.finish(request, RedirectResponse(f"/desk/{period}/fetch", status_code=303))


@router.get("/{period}/fetch")
def fetch_status(request: Request, period: str) -> Response:
    editorial.parse_period(period)
    if desk_view.is_htmx(request):
        return _fetch_status(request, period)
    with request.app.state.engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
    run = fetch_now.latest(request.app.state.engine, period)
    return _page(request, "desk/fetch.html", issue=issue, run=run, running=fetch_now.running(run))


def _fetch_status(request: Request, period: str) -> Response:
    run = fetch_now.latest(request.app.state.engine, period)
    return desk_view.fragment(
        request, "desk/_fetch.html", issue={"period": period}, run=run, running=fetch_now.running(run),
        editable=True,
    )
