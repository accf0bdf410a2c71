"""The ops console: the schedule, alerts, feed health, the audit log, and sends (start, watch, steer).

The web app only starts and steers a send; workers deliver it (`curator worker`, or the
scheduler leader's delivery pass). Every action is a form that posts and redirects back
with a flash message (post/redirect/get); the progress page polls a JSON endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import Engine, func, select
from starlette.responses import JSONResponse, RedirectResponse, Response

from curator import alerts, deliver, editorial
from curator.errors import CuratorError, NotFound
from curator.store.schema import audit_log, feeds, issues, items, now, send_batches
from curator.web import session
from curator.web.auth import OPS, csrf_protect
from curator.web.templating import render
from curator.web.urlparams import MAX_PAGE, checked_path

router = APIRouter(prefix="/ops", dependencies=[Depends(OPS), Depends(checked_path), Depends(csrf_protect)])
AUDIT_PAGE = 50
UNDER_WAY = ("sending", "paused", "sent", "cancelled")  # statuses that may have a ledger
PROGRESS_JS = """\
// Refresh the send's figures every two seconds; reload the page when its status changes.
(function () {
  var root = document.getElementById("progress");
  if (!root) return;
  var status = root.dataset.status;
  function show(data) {
    Object.keys(data.counts).forEach(function (state) {
      var cell = document.getElementById("count-" + state);
      if (cell) cell.textContent = data.counts[state];
    });
    document.getElementById("total").textContent = data.total;
    document.getElementById("rate").textContent = data.rate_per_s;
    document.getElementById("left").textContent = data.time_left;
    document.getElementById("left-line").hidden = !data.waiting;
    ["started_text", "finished_text", "duration_text", "throughput_text"].forEach(function (key) {
      var cell = document.getElementById(key);
      if (cell) cell.textContent = data[key];
    });
    document.getElementById("done").value = data.done;
    document.getElementById("done").max = data.total || 1;
    document.getElementById("hint").textContent = data.hint;
    if (data.status !== status) window.location.reload();
  }
  function poll() {
    fetch(root.dataset.url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) show(data); })
      .finally(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
})();
"""


def _page(request: Request, name: str, **context: object) -> Response:
    return render(request, f"ops/{name}", **context)


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _back(request: Request, path: str) -> Response:
    return session.finish(request, RedirectResponse(path, status_code=303))


def _act(request: Request, path: str, action: Callable[[], str]) -> Response:
    """Run `action`; flash what it did, or why it was refused; back to `path`."""
    try:
        message = action()
    except NotFound:
        raise
    except CuratorError as exc:
        session.flash(request, "error", str(exc))
    else:
        session.flash(request, "success", message)
    return _back(request, path)


# --- the overview -------------------------------------------------------------------------


@router.get("")
def index(request: Request) -> Response:
    settings = session.settings_of(request)
    with _engine(request).connect() as conn:
        recent = conn.execute(select(issues).order_by(issues.c.period.desc()).limit(12)).mappings().all()
        open_alerts = alerts.list_alerts(conn, open_only=True, limit=20)
        failing = conn.execute(
            select(func.count()).where((feeds.c.consecutive_errors > 0) | feeds.c.disabled)
        ).scalar_one()
    from scheduler.outlook import next_send

    return _page(
        request, "index.html", issues=recent, alerts=open_alerts, failing_feeds=failing,
        schedule=schedule_view(settings, _engine(request), 3), next_send=next_send(settings, _engine(request), now()),
    )


def schedule_view(settings, engine: Engine, count: int) -> dict:
    """The jobs and their next runs (the schedule ops stored, else settings), what the scheduler stored, its leader."""
    from scheduler import stored as stored_schedule
    from scheduler.leader import leader_status
    from scheduler.schedule import describe, format_time, stored_next_runs

    defaults = settings
    settings = stored_schedule.effective(settings, engine)
    with engine.connect() as conn:
        edits = stored_schedule.stored(conn)
    try:
        jobs = describe(settings, datetime.now(UTC), count)
        problem = None
    except CuratorError as exc:
        jobs, problem = [], str(exc)
    with engine.connect() as conn:
        leader = leader_status(conn, settings.scheduler_lock_timeout)
    stored = stored_next_runs(engine)
    for job in jobs:
        job["next"] = [format_time(t) for t in job["next"]]
        job["stored"] = format_time(stored[job["id"]].astimezone(settings.tz)) if stored.get(job["id"]) else None
        job["default"] = getattr(defaults, stored_schedule.JOBS_BY_ID[job["id"]].setting)
        job["edited"] = stored_schedule.describe_change(edits[job["id"]]) if job["id"] in edits else ""
    return {"jobs": jobs, "problem": problem, "leader": leader, "timezone": settings.timezone}


@router.get("/schedule")
def schedule(request: Request) -> Response:
    from scheduler.outlook import next_send

    settings = session.settings_of(request)
    return _page(request, "schedule.html", schedule=schedule_view(settings, _engine(request), 12),
                 next_send=next_send(settings, _engine(request), now()))


@router.post("/schedule")
def edit_schedule(
    request: Request, job: str = Form(...), fields: str = Form(""), user: dict = Depends(OPS)
) -> Response:
    """Store a job's cron fields; the running scheduler picks them up within a heartbeat."""
    from scheduler import stored as stored_schedule

    def action() -> str:
        with _engine(request).begin() as conn:
            now_in_force = stored_schedule.save(conn, session.settings_of(request), job, fields, user["email"])
        if now_in_force is None:
            return f"The {job} job follows the environment's schedule again. The scheduler picks it up within seconds."
        return f"The {job} job now runs at `{now_in_force}`. The scheduler picks it up within seconds, no restart."

    return _act(request, "/ops/schedule", action)


# --- alerts, feeds, audit -----------------------------------------------------------------


@router.get("/alerts")
def alerts_page(request: Request) -> Response:
    with _engine(request).connect() as conn:
        rows = alerts.list_alerts(conn, limit=200)
    return _page(request, "alerts.html", alerts=rows)


@router.post("/alerts/{alert_id}/ack")
def acknowledge(request: Request, alert_id: int, user: dict = Depends(OPS), back: str = Form("/ops")) -> Response:
    def action() -> str:
        with _engine(request).begin() as conn:
            alerts.acknowledge(conn, alert_id, user["email"])
        return "Alert acknowledged."

    return _act(request, back if back.startswith("/ops") else "/ops", action)


@router.get("/feeds")
def feed_health(request: Request) -> Response:
    month_ago = datetime.now(UTC) - timedelta(days=30)
    recent = (
        select(items.c.feed_id, func.count().label("n"))
        .where(items.c.first_seen_at >= month_ago)
        .group_by(items.c.feed_id)
        .subquery()
    )
    with _engine(request).connect() as conn:
        rows = conn.execute(
            select(feeds, func.coalesce(recent.c.n, 0).label("items_month"))
            .outerjoin(recent, recent.c.feed_id == feeds.c.id)
            .order_by(feeds.c.disabled.desc(), feeds.c.consecutive_errors.desc(), feeds.c.title, feeds.c.url)
        ).mappings().all()
    return _page(request, "feeds.html", feeds=rows)


@router.get("/audit")
def audit(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE)) -> Response:
    with _engine(request).connect() as conn:
        total = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        rows = conn.execute(
            select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
            .limit(AUDIT_PAGE).offset((page - 1) * AUDIT_PAGE)
        ).mappings().all()
    pages = max(1, -(-total // AUDIT_PAGE))
    return _page(request, "audit.html", entries=rows, page=page, pages=pages, total=total)


@router.get("/deliverability")
def deliverability(request: Request) -> Response:
    from curator import events
    from curator.deliver import ledger

    with _engine(request).connect() as conn:
        rows = conn.execute(
            select(issues).where(issues.c.status.in_(UNDER_WAY)).order_by(issues.c.period.desc())
        ).mappings().all()
        table = [
            {"issue": row, "sent": ledger.counts(conn, row["id"])["sent"], **events.issue_counts(conn, row["id"])}
            for row in rows
        ]
    return _page(request, "deliverability.html", rows=table)


# --- one issue's send ---------------------------------------------------------------------


def _issue(request: Request, period: str) -> dict:
    editorial.parse_period(period)
    with _engine(request).connect() as conn:
        return editorial.get_issue(conn, period)


def progress(engine: Engine, period: str) -> dict:
    """The send's figures for the page and its poll: counts, rate, time left, timing, failures, a hint when stuck."""
    current = deliver.status(engine, period)
    done = current.total - current.waiting
    data = current.as_json() | {"done": done, "waiting": current.waiting}
    data["time_left"] = _duration(current.seconds_left) if current.waiting else ""
    data["rate_per_s"] = f"{current.rate:.1f}"
    data |= _timing(engine, period, current)
    data["hint"] = ""
    if current.status == "sending" and current.counts["pending"] and not _recent_claims(engine, period):
        data["hint"] = ("Waiting for a worker to claim a batch: run `curator worker`, or the scheduler "
                        "(it delivers when CURATOR_SCHEDULER_DELIVERS is on).")
    elif current.status == "paused":
        data["hint"] = "Paused: workers stop after their current batch. Resume to continue."
    return data


def _timing(engine: Engine, period: str, current) -> dict:
    """Start, finish, duration and throughput in words, and the failures by reason."""
    summary = deliver.outcome_summary(engine, period)
    started = current.started_at
    finished = current.sent_at or (summary["last_sent_at"] if not current.waiting and current.total else None)
    end = finished or datetime.now(UTC)
    seconds = (end - started).total_seconds() if started else None
    outcomes = current.counts["sent"] + current.counts["failed"]
    throughput = f"{outcomes / seconds:.1f} recipients/s" if seconds and seconds >= 1 and outcomes else "—"
    return {
        "started_text": _when(started), "finished_text": _when(finished) if finished else "not yet",
        "duration_text": (_duration(seconds) if seconds is not None else "—") + ("" if finished else " so far"),
        "throughput_text": throughput, "finished": finished is not None,
        "failures": [{"reason": reason, "count": count} for reason, count in summary["failures"]],
    }


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "—"


def _recent_claims(engine: Engine, period: str) -> bool:
    since = datetime.now(UTC) - timedelta(minutes=2)
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(send_batches).join(issues, issues.c.id == send_batches.c.issue_id)
            .where(issues.c.period == period, send_batches.c.claimed_at >= since)
        ).scalar_one() > 0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (nothing is moving)"
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


@router.get("/issues/{period}")
def issue_page(request: Request, period: str) -> Response:
    issue = _issue(request, period)
    settings = session.settings_of(request)
    figures = progress(_engine(request), period) if issue["status"] in UNDER_WAY else None
    return _page(
        request, "issue.html", issue=issue, figures=figures, seed_list=settings.seed_list,
        states=("pending", "inflight", "uncertain", "sent", "failed", "skipped", "cancelled"),
    )


@router.get("/issues/{period}/progress.json")
def progress_json(request: Request, period: str) -> Response:
    _issue(request, period)
    return JSONResponse(progress(_engine(request), period), headers={"Cache-Control": "no-store"})


@router.get("/progress.js")
def progress_js() -> Response:
    return Response(PROGRESS_JS, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/issues/{period}/send")
def confirm_send(request: Request, period: str) -> Response:
    issue = _issue(request, period)
    settings = session.settings_of(request)
    with _engine(request).connect() as conn:
        approved = sum(1 for p in editorial.list_picks(conn, period) if p["decision"] == "approved")
    return _page(
        request, "confirm.html", issue=issue, audience=deliver.audience_size(_engine(request)),
        approved=approved, backend=settings.delivery,
    )


@router.post("/issues/{period}/send")
def send_now(request: Request, period: str, user: dict = Depends(OPS)) -> Response:
    _issue(request, period)

    def action() -> str:
        started = deliver.start(_engine(request), period, user["email"], session.settings_of(request))
        if started.resumed:
            return f"The send of {period} was already under way; workers continue it."
        return f"Started the send of {period} to {started.frozen} recipients. Workers deliver it."

    return _act(request, f"/ops/issues/{period}", action)


@router.post("/issues/{period}/test")
def test_send(request: Request, period: str) -> Response:
    _issue(request, period)
    settings = session.settings_of(request)

    def action() -> str:
        if not settings.seed_list:
            raise CuratorError("the seed list is empty: set CURATOR_SEED_LIST to the addresses that get test sends")
        actor = (getattr(request.state, "user", None) or {}).get("email", "")
        sent = [deliver.send_test(settings, _engine(request), period, address, actor=actor)
                for address in settings.seed_list]
        return f"Sent a test copy of {period} to the seed list: {', '.join(sent)}."

    return _act(request, f"/ops/issues/{period}", action)


@router.post("/issues/{period}/{verb}")
def steer(request: Request, period: str, verb: str, user: dict = Depends(OPS), confirm: str = Form("")) -> Response:
    """Pause, resume, cancel (confirmed with a tick) or retry the failed rows."""
    _issue(request, period)
    engine, actor = _engine(request), user["email"]
    actions: dict[str, Callable[[], str]] = {
        "pause": lambda: deliver.pause(engine, period, actor) or f"Paused {period}; batches in flight finish.",
        "resume": lambda: deliver.resume(engine, period, actor) or f"Resumed {period}.",
        "retry": lambda: f"Queued {deliver.retry(engine, period, actor)} failed recipients of {period} again.",
        "cancel": lambda: _cancel(engine, period, actor, confirm),
    }
    if verb not in actions:
        raise NotFound(f"there is no ops action {verb!r}")
    return _act(request, f"/ops/issues/{period}", actions[verb])


def _cancel(engine: Engine, period: str, actor: str, confirm: str) -> str:
    if confirm != "yes":
        raise CuratorError("tick the box to confirm: a cancelled issue can never be sent")
    count = deliver.cancel(engine, period, actor)
    return f"Cancelled {period}: {count} recipients will not get it."
