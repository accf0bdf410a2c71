"""What the desk shows of an issue, and how an action answers: a page after a plain post, fragments to htmx.

A plain form post (no JavaScript) gets post/redirect/get with a flash message, as before. A
request from htmx (header `HX-Request: true`) gets the parts of the page that changed, each
marked `hx-swap-oob`: the topic sections the action touched, the quota bar, the counts, and
the message in the page's live region. So the page never reloads, and a screen reader hears
what happened.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from curator import editorial
from curator.curate.readers import ReaderCounts, baseline_rate, figures_words
from curator.engagement.figures import source_counts
from curator.errors import CuratorError, NotFound
from curator.sources import Sources
from curator.store.schema import desk_visits, now
from curator.web import session
from curator.web.templating import environment

STATUS_HELP = {
    "draft": "Editors are choosing the picks.",
    "in_review": "Editors are choosing the picks.",
    "approved": "Approved: ops can send it. Reopen it to change anything.",
    "sending": "Being sent: this is the issue as it goes out.",
    "paused": "Sending is paused: this is the issue as it goes out.",
    "sent": "Sent: this is the issue as it went out.",
    "cancelled": "Cancelled.",
}
ALL = None  # every topic section


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def counts(rows: list[dict]) -> dict[str, int]:
    out = {"approved": 0, "suggested": 0, "rejected": 0}
    for row in rows:
        out[row["decision"]] += 1
    return out


def sections(sources: Sources, rows: list[dict], new_since: datetime | None = None) -> list[dict]:
    """Picks grouped by topic in feeds.yaml order; rejected ones apart; the quota line marked."""
    declared = {t.name: t for t in sources.topics}
    names = list(declared) + sorted({r["topic"] for r in rows} - set(declared))
    out = []
    for name in names:
        topic = declared.get(name)
        mine = [dict(r, new=_is_new(r, new_since)) for r in rows if r["topic"] == name]
        out.append({
            "name": name,
            "title": (topic.title if topic else None) or name,
            "description": topic.description if topic else "(not in feeds.yaml any more)",
            "quota": topic.quota if topic else 0,
            "approved": sum(1 for r in mine if r["decision"] == "approved"),
            "active": [r for r in mine if r["decision"] != "rejected"],
            "rejected": [r for r in mine if r["decision"] == "rejected"],
            "new": sum(1 for r in mine if r["new"]),
        })
    return out


def _is_new(row: dict, since: datetime | None) -> bool:
    return since is not None and row.get("created_at") is not None and row["created_at"] > since


def topics(sources: Sources) -> list[tuple[str, str]]:
    return [(t.name, t.title or t.name) for t in sources.topics]


def issue_context(conn: Connection, sources: Sources, period: str, new_since: datetime | None = None) -> dict:
    """Everything the issue page and its fragments need."""
    issue = editorial.get_issue(conn, period)
    rows = editorial.list_picks(conn, period)
    return {
        "issue": issue, "sections": sections(sources, rows, new_since),
        "editable": issue["status"] in editorial.EDITABLE, "status_help": STATUS_HELP[issue["status"]],
        "topics": topics(sources), "counts": counts(rows), "new_count": sum(1 for r in rows if _is_new(r, new_since)),
        "new_since": new_since, "readers": readers_by_source(conn),
    }


def readers_by_source(conn: Connection) -> dict[int, str]:
    """Per source, what readers (people, not scanners) did with its past picks, in a line for each candidate."""
    counts = {feed_id: ReaderCounts(**c) for feed_id, c in source_counts(conn).items()}
    baseline = baseline_rate(counts)
    return {feed_id: figures_words(c, baseline) for feed_id, c in counts.items()}


# --- "new since your last visit" ---------------------------------------------------------


def visit(conn: Connection, user_id: int, period: str) -> datetime | None:
    """Record this visit to the issue; returns the previous one (None the first time)."""
    previous = conn.execute(
        select(desk_visits.c.seen_at).where(desk_visits.c.user_id == user_id, desk_visits.c.period == period)
    ).scalar()
    values = {"user_id": user_id, "period": period, "seen_at": now()}
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(desk_visits).values(values)
    conn.execute(insert.on_conflict_do_update(index_elements=["user_id", "period"], set_={"seen_at": now()}))
    return previous


# --- answering an action -------------------------------------------------------------------


def act(
    request: Request, sources: Sources, period: str, action: Callable[[Connection], str], *,
    touched: Iterable[str] | None = ALL, anchor: str = "", text: bool = False, extra: str = "",
) -> Response:
    """Run `action` in one transaction; answer with its message (or the refusal) as a page or fragments.

    `touched` names the topic sections to send back to htmx (ALL: every one); `text` sends the
    subject-and-introduction card too; `extra` is more markup for htmx (a form to reset).
    """
    editorial.parse_period(period)
    level, message = "success", ""
    try:
        with request.app.state.engine.begin() as conn:
            message = action(conn)
    except NotFound:
        raise
    except CuratorError as exc:
        level, message = "error", str(exc)
    if not is_htmx(request):
        if message:
            session.flash(request, level, message)
        target = f"/desk/{period}" + (f"#{anchor}" if anchor else "")
        return session.finish(request, RedirectResponse(target, status_code=303))
    if level == "error":
        extra = ""  # the form keeps what was typed: only the message changes
    return fragments(request, sources, period, level, message, touched=touched, text=text, extra=extra)


def fragments(
    request: Request, sources: Sources, period: str, level: str, message: str, *,
    touched: Iterable[str] | None = ALL, text: bool = False, extra: str = "",
) -> HTMLResponse:
    """The changed parts of the issue page, each swapped in by id (hx-swap-oob)."""
    with request.app.state.engine.connect() as conn:
        context = issue_context(conn, sources, period)
    wanted = None if touched is ALL else set(touched)
    context |= {
        "shown": [s for s in context["sections"] if wanted is None or s["name"] in wanted],
        "level": level, "message": message, "with_text": text, "extra": extra,
    }
    return _render(request, "desk/_fragments.html", context)


def _render(request: Request, name: str, context: dict) -> HTMLResponse:
    context = {
        "request": request, "user": getattr(request.state, "user", None),
        "csrf_token": session.csrf_token(request), **context,
    }
    response = HTMLResponse(environment().get_template(name).render(context))
    response.headers["Cache-Control"] = "no-store"
    return session.finish(request, response)


def fragment(request: Request, name: str, **context: object) -> HTMLResponse:
    """One template fragment (no page around it), for htmx."""
    return _render(request, name, dict(context))


# --- the add-a-link form, and the preview's dark mode --------------------------------------


def link_form(request: Request, period: str, sources: Sources, link: dict, *, oob: bool = True) -> str:
    """The add-a-link form as htmx swaps it in: empty for the next link, or with what was typed."""
    values = {k: link.get(k, "") for k in ("url", "topic", "title", "summary", "error")}
    return environment().get_template("desk/_add_link.html").render(
        issue={"period": period}, topics=topics(sources), link=values, editable=True,
        csrf_token=session.csrf_token(request), oob=oob,
    )


def link_refused(request: Request, sources: Sources, period: str, typed: dict, error: str) -> Response:
    """Keep what was typed, say what is missing: the form again, with the address still in it."""
    if is_htmx(request):
        extra = link_form(request, period, sources, typed | {"error": error})
        return fragments(request, sources, period, "error", error, touched=(), extra=extra)
    session.flash(request, "error", error)
    query = urlencode({f"link_{k}": v for k, v in (typed | {"error": error}).items() if v})
    return session.finish(request, RedirectResponse(f"/desk/{period}?{query}#add-link", status_code=303))


_DARK_MEDIA = re.compile(r"@media\s*\(prefers-color-scheme:\s*dark\)")


def dark(html: str) -> str:
    """The email as a reader in dark mode sees it: its own dark rules, whatever this browser prefers."""
    return _DARK_MEDIA.sub("@media all", html)
